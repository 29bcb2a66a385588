"""The jobs process: APScheduler as the clock, work claimed in the database (see jobs/__main__.py)."""
