"""What every platform simulator shares: a threaded local server, call log, and fault switches.

A simulator is a small Flask app that answers like the platform does (paths, auth header,
pagination, rate-limit headers, error bodies, webhook signatures), run on a loopback port in a
thread. Tests and the demo drive it from Python:

- `add_inbound(n)` makes n people write to the brand (realistic text from `traffic.Traffic`);
- `rate_limit(times, reset_in)` answers the next calls with the platform's rate-limit response;
- `expire_token()` answers every call with the platform's expired-credentials response;
- `calls` records every request, so tests can check the endpoint and body of each write;
- `channel_config()` is the connector config that points a channel at this simulator;
- push platforms also build signed deliveries (`webhook_delivery`) like the platform sends.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server

from connectors.sandbox.traffic import Traffic

SANDBOX_TOKEN = "sandbox-access-token"
SANDBOX_SECRET = "sandbox-app-secret-0123456789"


@dataclass
class Call:
    """One request the simulator received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class _QuietHandler(WSGIRequestHandler):
    def log(self, *args: Any) -> None:  # the simulator's access log is `calls`
        pass


class Simulator:
    """A platform's API on a loopback port. Subclasses add routes and state."""

    type: ClassVar[str]  # the connector type this simulator answers for
    pushes: ClassVar[bool] = False  # whether the platform delivers webhooks

    def __init__(
        self,
        *,
        token: str = SANDBOX_TOKEN,
        secret: str = SANDBOX_SECRET,
        page_size: int = 10,
        seed: int | str = 0,
    ):
        self.token = token
        self.secret = secret
        self.page_size = page_size
        self.traffic = Traffic(f"{self.type}:{seed}")
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.token_expired = False
        self._limited = 0
        self._reset_at = 0.0
        self._server = None
        self._thread: threading.Thread | None = None
        self._traffic_stop = threading.Event()
        self.app = Flask(f"sandbox_{self.type}")
        self.app.before_request(self._gate)
        self.routes(self.app)

    # -- what a platform simulator defines --------------------------------------------------

    def routes(self, app: Flask) -> None:
        """Register the platform's endpoints on the Flask app."""
        raise NotImplementedError

    def authorized(self) -> bool:
        """Whether the current request carries the platform's credentials (bearer by default)."""
        return request.headers.get("Authorization", "") == f"Bearer {self.token}"

    def auth_error(self) -> Response:
        """The platform's answer to missing or expired credentials."""
        raise NotImplementedError

    def rate_limited(self, reset_at: float) -> Response:
        """The platform's rate-limit answer, with its headers, resetting at `reset_at`."""
        raise NotImplementedError

    def add_inbound(self, count: int = 1) -> list[str]:
        """Make `count` people write to the brand; return the ids a connector will report."""
        raise NotImplementedError

    def channel_config(self) -> dict[str, Any]:
        """The connector config that points a channel at this simulator."""
        raise NotImplementedError

    def webhook_delivery(
        self, count: int = 1, *, age: float = 0, secret: str | None = None
    ) -> tuple[dict[str, str], bytes, list[str]]:
        """For platforms that push: a signed delivery of `count` new inbound items, as the
        platform sends it, dated `age` seconds ago and signed with `secret` (default: ours).
        Returns (headers, raw body, ids a connector will report)."""
        raise NotImplementedError

    def deliver(self, url: str, count: int = 1) -> list[str]:
        """POST a signed delivery to an inbox webhook URL, like the platform would."""
        import requests

        headers, body, ids = self.webhook_delivery(count)
        requests.post(url, data=body, headers=headers, timeout=10).raise_for_status()
        return ids

    def exempt(self) -> bool:
        """Requests that skip the auth and rate-limit gate (e.g. an OAuth token endpoint)."""
        return False

    # -- fault switches ---------------------------------------------------------------------

    def rate_limit(self, times: int = 1, reset_in: float = 2.0) -> None:
        """Answer the next `times` API calls with a rate-limit response resetting in `reset_in`."""
        with self.lock:
            self._limited = times
            self._reset_at = time.time() + reset_in

    def expire_token(self) -> None:
        with self.lock:
            self.token_expired = True

    def restore_token(self) -> None:
        with self.lock:
            self.token_expired = False

    def writes(self) -> list[Call]:
        """The calls that changed something (everything but GET and HEAD)."""
        with self.lock:
            return [c for c in self.calls if c.method not in ("GET", "HEAD")]

    def reads(self) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method in ("GET", "HEAD")]

    # -- server -----------------------------------------------------------------------------

    def _gate(self) -> Response | None:
        call = Call(
            method=request.method,
            path=request.path,
            query=request.args.to_dict(),
            headers=dict(request.headers),
            body=request.get_data(),
        )
        with self.lock:
            self.calls.append(call)
            if self.exempt():
                return None
            if self.token_expired or not self.authorized():
                return self.auth_error()
            if self._limited > 0:
                if time.time() < self._reset_at:
                    self._limited -= 1
                    return self.rate_limited(self._reset_at)
                self._limited = 0
        return None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self, port: int = 0) -> str:
        """Serve on a loopback port (0 picks a free one) in a daemon thread; return the base URL."""
        self._server = make_server(
            "127.0.0.1", port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so `stop` returns at once
            name=f"sandbox-{self.type}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._traffic_stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start_traffic(self, every: float = 20.0, burst: int = 2) -> None:
        """For the demo: new inbound messages every few seconds, until `stop`."""
        import random

        rng = random.Random(self.type)

        def loop() -> None:
            while not self._traffic_stop.wait(rng.uniform(every * 0.5, every * 1.5)):
                self.add_inbound(rng.randint(1, burst))

        threading.Thread(target=loop, name=f"sandbox-{self.type}-traffic", daemon=True).start()
