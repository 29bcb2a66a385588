"""The jobs process, ``python -m jobs`` (jobs/__main__.py): its entry point only; what it runs is
sidecar.jobs, which ``python -m sidecar serve`` also runs in a thread."""
