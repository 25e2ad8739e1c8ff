"""The reasoning engine: pure functions from a validated case to an explained assessment."""
