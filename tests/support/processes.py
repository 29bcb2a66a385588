"""Stopping the processes the tests start."""

from __future__ import annotations

import signal
import subprocess


def stop_gracefully(process: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM, as a supervisor stops a service, and SIGKILL if it has not exited within ``timeout``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
