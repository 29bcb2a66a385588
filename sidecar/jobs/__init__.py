"""The scheduled work (dispatching emails, the owners' digests): APScheduler as the clock, every
piece of work claimed in the database. Run by ``python -m jobs`` (jobs/__main__.py) or by a thread
of ``python -m sidecar serve``; it lives inside the sidecar package so that the command line can
start it without the two packages importing each other."""
