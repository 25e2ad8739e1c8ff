"""Settings, declared once: each has a name, a default, an environment variable and help."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["SETTINGS", "Settings"]

SETTINGS = (
    ("database_url", "sqlite:///follicle.db", "FOLLICLE_DATABASE_URL",
     "SQLAlchemy URL; SQLite file in the working directory by default, or "
     "postgresql+psycopg://user@host/db"),
    ("max_body_bytes", "262144", "FOLLICLE_MAX_BODY_BYTES",
     "Largest request body accepted; larger ones get 413"),
    ("secret_key", "", "FOLLICLE_SECRET_KEY",
     "Key for CSRF tokens; a random one is made at start-up when empty"),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///follicle.db"
    max_body_bytes: int = 262144
    secret_key: str = ""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then environment variables, then explicit overrides (e.g. CLI flags)."""
        values: dict[str, object] = {}
        for name, default, env, _help in SETTINGS:
            raw = os.environ.get(env, default)
            values[name] = int(raw) if name == "max_body_bytes" else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values["secret_key"]:
            import secrets

            values["secret_key"] = secrets.token_urlsafe(32)
        return cls(**values)  # type: ignore[arg-type]
