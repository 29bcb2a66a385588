"""Logging set-up for the entry points (web server, jobs, command line)."""

import logging


def configure(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces its plugins and context on every start; only problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
