"""A sidecar that never answers, for the bridge to meet: a TCP server that accepts connections and
keeps them, and notes when the bridge gives up on one. Used by the WordPress tests and
bench/bridge_cost.py."""

from __future__ import annotations

import json
import socket
import threading


class BlackHole:
    """A TCP server that accepts connections and never answers.

    It reads what it is sent, and keeps in ``timeline``, in the order things happened, each time
    the bridge gave up on a connection (closed it, at its timeout): ``("gave_up", ids)``, the
    subscription ids of the ``subscription.cancelled`` events that request carried. A test notes
    there when a member's cancel was answered (``note_answered``), so that
    :meth:`given_up_before_answered` can tell whether a member's request waited on the sidecar
    without measuring any time: a request that waited would be answered only after the bridge had
    given up on its delivery, and one that did not is answered while the delivery still hangs.
    """

    MAX_REQUEST_BYTES = 1 << 20

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: list[socket.socket] = []
        self.timeline: list[tuple[str, tuple[str, ...]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        received = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:  # reset by the bridge, or closed by close()
                chunk = b""
            if not chunk:
                break
            received = (received + chunk)[: self.MAX_REQUEST_BYTES]
        if not self._stop.is_set():
            self._record("gave_up", self.cancelled_subscriptions(received))

    def _record(self, what: str, ids) -> None:
        with self._lock:
            self.timeline.append((what, tuple(str(each) for each in ids)))

    def note_answered(self, subscription_id) -> None:
        """The member's cancel of ``subscription_id`` has been answered."""
        self._record("answered", [subscription_id])

    @staticmethod
    def cancelled_subscriptions(request: bytes) -> list[str]:
        """The subscription ids of the subscription.cancelled events in a raw HTTP request."""
        body = request.partition(b"\r\n\r\n")[2]
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:
            return []
        events = payload if isinstance(payload, list) else [payload]
        return [str(event["subscription"]["id"]) for event in events
                if isinstance(event, dict) and event.get("type") == "subscription.cancelled"
                and isinstance(event.get("subscription"), dict) and "id" in event["subscription"]]

    def given_up(self) -> set[str]:
        """The subscriptions whose cancel the bridge has given up sending here so far."""
        with self._lock:
            return {each for what, ids in self.timeline if what == "gave_up" for each in ids}

    def given_up_before_answered(self) -> list[str]:
        """The subscriptions whose cancel the bridge gave up sending before the member's request
        that made it was answered: requests that waited on the sidecar (none, if all is well)."""
        answered, waited = set(), []
        with self._lock:
            for what, ids in self.timeline:
                if what == "answered":
                    answered.update(ids)
                else:
                    waited.extend(each for each in ids if each not in answered)
        return waited

    def close(self):
        self._stop.set()
        self.thread.join(timeout=5)
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes its reader, which a close alone may not
            except OSError:
                pass
            conn.close()
        self.sock.close()
