"""A sender that behaves like the bridge's outbox (wp-bridge-plugin/includes/class-outbox.php,
class-client.php): one webhook id per event, kept across attempts; each attempt signed afresh;
408, 429, 5xx and network errors retried with capped exponential backoff and "equal jitter";
any other answer is final. The bridge's delays are seconds to hours; here they are tenths of a
second, and attempts are bounded so that a broken sidecar fails the test instead of hanging it.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time

import requests

from sidecar.signing import sign

RETRY_STATUSES = {408, 429}


class GaveUp(AssertionError):
    pass


class BridgeSender:
    def __init__(self, base_url: str, site_id: str, secret: str, *, base_delay: float = 0.1, cap: float = 1.0,
                 max_attempts: int = 80, seed: int = 0):
        self.base_url, self.site_id, self.secret = base_url.rstrip("/"), site_id, secret
        self.base_delay, self.cap, self.max_attempts = base_delay, cap, max_attempts
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        # Every answer seen (status code, or "network"), and the attempts per webhook id.
        self.answers: collections.Counter = collections.Counter()
        self.attempts: collections.Counter = collections.Counter()
        # Attempts whose answer never came (a timeout, a reset), per webhook id: the sidecar may
        # have stored the event and answered 202 to nobody, so a retry's 200 is that event's answer.
        self.unanswered: collections.Counter = collections.Counter()
        self.slowest = 0.0  # seconds, the longest single attempt

    def backoff(self, failures: int) -> float:
        delay = min(self.cap, self.base_delay * 2 ** (failures - 1))
        with self.lock:
            return delay / 2 + self.random.uniform(0, delay / 2)

    def post(self, path: str, body: str, webhook_id: str, base_url: str | None = None) -> requests.Response | None:
        """One signed attempt; None on a network error."""
        # The events route takes Standard Webhooks signatures, every other one signatures bound to it.
        bound = {} if path.endswith("/events") else {"method": "POST", "path": path}
        headers = {"Content-Type": "application/json", **sign(self.secret, webhook_id, body, **bound)}
        with self.lock:
            self.attempts[webhook_id] += 1
        started = time.monotonic()
        try:
            response = requests.post((base_url or self.base_url) + path, data=body.encode(), headers=headers,
                                     timeout=15)
        except requests.RequestException:
            with self.lock:
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.answers["network"] += 1
                self.unanswered[webhook_id] += 1
            return None
        with self.lock:
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.answers[response.status_code] += 1
        return response

    def deliver(self, event: dict, webhook_id: str, base_url: str | None = None) -> int:
        """Send until a final answer; returns its status code."""
        body = json.dumps(event)
        for failures in range(1, self.max_attempts + 1):
            response = self.post(f"/v1/sites/{self.site_id}/events", body, webhook_id, base_url)
            if response is not None and response.status_code not in RETRY_STATUSES and response.status_code < 500:
                return response.status_code
            time.sleep(self.backoff(failures))
        raise GaveUp(f"{webhook_id}: no final answer after {self.max_attempts} attempts")

    @property
    def retries(self) -> int:
        with self.lock:
            return sum(self.attempts.values()) - len(self.attempts)
