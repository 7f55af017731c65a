"""What the Google simulators share: Google's error envelope, quota switches, page tokens.

Errors follow platform-apis.md §4.4 and §5: `{"error": {"code", "message", "errors": [{"message",
"domain", "reason"}], "status"}}`; an expired token is 401 `UNAUTHENTICATED`/`authError`; a
short-term limit is 429 `RESOURCE_EXHAUSTED` (with a Retry-After header [U]); a spent daily
quota is 403 `quotaExceeded`. Page tokens are opaque keyset tokens (stable while new items
arrive at the top).
"""

from __future__ import annotations

import base64
import json
import math
import random
import string
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from flask import Response

from connectors.sandbox.base import Simulator

STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def error(
    code: int,
    message: str,
    reason: str,
    *,
    domain: str = "global",
    headers: dict[str, str] | None = None,
) -> Response:
    """Google's JSON error envelope."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": STATUS.get(code, "UNKNOWN"),
        }
    }
    return Response(json.dumps(body), status=code, headers=headers, mimetype="application/json")


def ok(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def rfc3339(when: float, *, fraction: bool = False) -> str:
    """A Unix time as Google writes it: '2024-03-02T10:15:00Z' or with microseconds."""
    moment = datetime.fromtimestamp(when, UTC)
    text = moment.isoformat(timespec="microseconds" if fraction else "seconds")
    return text.replace("+00:00", "Z")


def random_id(rng: random.Random, length: int, alphabet: str = "") -> str:
    alphabet = alphabet or string.ascii_letters + string.digits + "-_"
    return "".join(rng.choice(alphabet) for _ in range(length))


def keyset_page(
    rows: Sequence[Any],
    token: str | None,
    size: int,
    key: Callable[[Any], list],
    *,
    newest_first: bool = True,
) -> tuple[list[Any], str | None]:
    """One page of rows (already in listing order) after the row a token points at.

    The token holds the sort key of the last row served, so rows added at the top while a
    client pages never shift the pages. Raises ValueError for a token that does not decode.
    """
    if token:
        last = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(last, list):
            raise ValueError("bad token")
        rows = [row for row in rows if (key(row) < last if newest_first else key(row) > last)]
    page = list(rows[:size])
    if len(rows) <= size:
        return page, None
    return page, base64.urlsafe_b64encode(json.dumps(key(page[-1])).encode()).decode()


class GoogleSimulator(Simulator):
    """A Google API: bearer token, Google's errors, a daily quota switch, a failure switch."""

    quota_domain: ClassVar[str] = "usageLimits"

    def __init__(self, **kwargs: Any):
        self.quota_spent = False
        self.offset = 0.0
        self._failures: list[int] = []
        # ids differ from run to run: the demo restarts simulators under channels it keeps
        self.rng = random.Random(f"{self.type}:{kwargs.get('seed', 0)}:{time.time_ns()}")
        super().__init__(**kwargs)
        self.app.before_request(self._google_gate)

    def auth_error(self) -> Response:
        return error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            "authError",
            headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        )

    def rate_limited(self, reset_at: float) -> Response:
        wait = max(1, math.ceil(reset_at - time.time()))
        return error(
            429,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
            "rateLimitExceeded",
            headers={"Retry-After": str(wait)},
        )

    def quota_error(self) -> Response:
        return error(
            403,
            "The request cannot be completed because you have exceeded your quota.",
            "quotaExceeded",
            domain=self.quota_domain,
        )

    def now(self) -> float:
        """The platform's clock: real time, moved forward by `advance`."""
        return time.time() + self.offset

    # -- switches -------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the platform's clock forward (what is written next is dated later)."""
        with self.lock:
            self.offset += seconds

    def spend_quota(self) -> None:
        """Answer every call with the daily-quota error until `restore_quota`."""
        with self.lock:
            self.quota_spent = True

    def restore_quota(self) -> None:
        with self.lock:
            self.quota_spent = False

    def fail(self, times: int = 1, code: int = 503) -> None:
        """Answer the next `times` calls with a server error."""
        with self.lock:
            self._failures = [code] * times

    def _google_gate(self) -> Response | None:
        with self.lock:
            if self._failures:
                code = self._failures.pop()
                return error(code, "The service is currently unavailable.", "backendError")
            if self.quota_spent:
                return self.quota_error()
        return None

    def bad_page_token(self) -> Response:
        return error(400, "The request specifies an invalid page token.", "invalidPageToken")
