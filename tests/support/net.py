import socket
import time

import requests

from sidecar.config import bridge_allowed_networks


# The test servers (WordPress, fake bridges) listen on loopback, which the sidecar refuses to call
# unless the operator allows it (FAREWELL_BRIDGE_ALLOWED_NETWORKS): the tests allow it as a
# self-hoster would allow their private network, in the environment of the processes they start
# (LOOPBACK_ALLOWED) or as the parsed setting for in-process calls (LOOPBACK_NETWORKS).
LOOPBACK_ALLOWED = "127.0.0.0/8,::1/128"
LOOPBACK_NETWORKS = bridge_allowed_networks(LOOPBACK_ALLOWED)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, process=None) -> None:
    """Poll ``url`` until it answers at all (any status), or fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")
