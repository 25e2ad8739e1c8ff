"""`python -m follicle` runs the command line."""

from .cli import main

main()
