"""What the Google connectors share: bearer auth, Google's error envelope, newest-first sweeps.

YouTube, Google Business Profile and Google Play all take an OAuth2 access token as
`Authorization: Bearer`, answer errors as
`{"error": {"code", "message", "status", "errors": [{"reason", "domain"}], "details"}}`,
and list newest first with an opaque page token and no "since" filter. `GoogleConnector` maps
the errors; `Sweep` is the cursor of a newest-first listing (stop at the watermark, advance it
only when the sync finishes).

Verified (platform-apis.md §4.4, §5, §9): the envelope, 401 `UNAUTHENTICATED`/`authError`,
403 `quotaExceeded` with a daily quota that resets at midnight Pacific, 429 `RESOURCE_EXHAUSTED`.
Assumed [U]: Retry-After on a 429 (else we wait a minute), `details[].reason` (google.rpc
ErrorInfo) carrying the same reasons as `errors[].reason`, a rejected page token being a 400.
Not done: refreshing the access token (an expired one raises AuthExpired: reconnect).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import requests
from marshmallow import RAISE, Schema, fields, validate

from connectors.base import AuthExpired, NotAllowed, PermissionDenied, RateLimited
from connectors.http import HttpConnector, retry_after_seconds

PACIFIC = ZoneInfo("America/Los_Angeles")
QUOTA_MARGIN = 60.0  # land a little after the reset, not on it
DEFAULT_WAIT = 60.0
AUTH_REASONS = {"authError", "ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_TYPE_UNSUPPORTED"}
DAILY_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
DENIED_REASONS = {"forbidden", "insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}


class BadRequest(NotAllowed):
    """Google refused the request as invalid (HTTP 400)."""


class GoogleConfig(Schema):
    """The fields every Google channel has; each connector adds its api_base and its ids."""

    class Meta:
        unknown = RAISE

    access_token = fields.String(
        required=True,
        validate=validate.Length(1, 4096),
        metadata={"secret": True, "description": "OAuth2 access token"},
        error_messages={"required": "Paste the channel's Google OAuth2 access token."},
    )


def parse_time(value: str) -> datetime:
    """Read an RFC 3339 time as Google writes it ('Z', up to nanoseconds) as aware UTC."""
    return datetime.fromisoformat(value).astimezone(UTC)


def from_parts(seconds: str | int, nanos: int = 0) -> datetime:
    """Read a protobuf Timestamp ({seconds, nanos}) as aware UTC."""
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=int(nanos) // 1000)


def iso(when: datetime) -> str:
    """Write a time the way cursors keep it: UTC, microseconds, 'Z'."""
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def seconds_until_pacific_midnight(now: datetime | None = None) -> float:
    """Seconds until the next midnight in America/Los_Angeles, when Google's daily quotas reset."""
    now = (now or datetime.now(UTC)).astimezone(PACIFIC)
    tomorrow = now.date() + timedelta(days=1)
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC)
    # subtract in UTC: same-zone subtraction ignores a DST change in between
    return (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds()


def read_error(response: requests.Response) -> tuple[str, set[str], str]:
    """Return (status, reasons, message) from Google's error envelope; blanks when absent."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):  # OAuth endpoints: {"error": "invalid_token", ...}
        return "", {error}, str(body.get("error_description") or error)
    if not isinstance(error, dict):
        return "", set(), (response.text or "").strip()[:300]
    entries = [
        entry
        for key in ("errors", "details")
        if isinstance(error.get(key), list)
        for entry in error[key]
    ]
    reasons = {str(e["reason"]) for e in entries if isinstance(e, dict) and e.get("reason")}
    message = re.sub(r"<[^>]+>", "", str(error.get("message") or "")).strip()
    return str(error.get("status") or ""), reasons, message[:300]


def _in_words(seconds: float) -> str:
    hours, minutes = divmod(int(seconds) // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


class GoogleConnector(HttpConnector):
    """A Google API reached with a bearer token; knows Google's error envelope."""

    quota_name: ClassVar[str] = "Google API"

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.token = self.config["access_token"]

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def raise_error(self, response: requests.Response) -> None:
        """Map Google's envelope to our errors, with sentences a community manager can act on."""
        code = response.status_code
        status, reasons, message = read_error(response)
        said = f" ({message})" if message else ""
        if code == 401 or status == "UNAUTHENTICATED" or reasons & AUTH_REASONS:
            raise AuthExpired(
                f"Google no longer accepts this channel's sign-in; reconnect it{said}."
            )
        if reasons & DAILY_REASONS:
            wait = seconds_until_pacific_midnight() + QUOTA_MARGIN
            raise RateLimited(
                wait,
                f"The daily {self.quota_name} quota is used up; it resets at midnight Pacific "
                f"time, in {_in_words(wait)}.",
            )
        if code == 429 or status == "RESOURCE_EXHAUSTED" or reasons & RATE_REASONS:
            wait = retry_after_seconds(response, DEFAULT_WAIT)
            raise RateLimited(
                wait, f"Google is slowing this channel down; retrying in {wait:.0f} s."
            )
        if "commentsDisabled" in reasons:
            raise NotAllowed("Comments are turned off on this video, so nothing can be posted.")
        if code == 403 or status == "PERMISSION_DENIED" or reasons & DENIED_REASONS:
            raise PermissionDenied(
                f"Google refused: the connected account lacks the permission for this{said}."
            )
        if code == 404 or status == "NOT_FOUND":
            raise NotAllowed(f"Google could not find it; it may have been deleted{said}.")
        if code == 400:
            raise BadRequest(f"Google refused the request{said}.")
        super().raise_error(response)

    def get_page(self, path: str, params: dict[str, Any], token_name: str, token: str | None):
        """GET one page; when Google rejects a stale page token, start the listing over."""
        if not token:
            return self.get_json(path, params=params)
        try:
            return self.get_json(path, params={**params, token_name: token})
        except BadRequest:
            return self.get_json(path, params=params)


class Sweep:
    """Where a newest-first sync stands, as kept in the cursor between pulls.

    `since`/`seen` are the watermark of the last finished sync: an item is new when it is newer
    than `since`, or exactly as old with an id not in `seen` (several items can share a second).
    `top`/`top_ids` gather the newest items of the sync in progress and become the watermark
    only in `finish`, so a crash or a rate limit in the middle of a sync loses nothing.
    """

    CORE = ("since", "seen", "top", "top_ids", "page")

    def __init__(self, cursor: Any):
        data = cursor if isinstance(cursor, dict) else {}
        self.since = parse_time(data["since"]) if data.get("since") else None
        self.seen = set(data.get("seen") or ())
        self.top = parse_time(data["top"]) if data.get("top") else None
        self.top_ids = set(data.get("top_ids") or ())
        self.page: str | None = data.get("page")
        self.extra = {k: v for k, v in data.items() if k not in self.CORE}

    def is_older(self, when: datetime) -> bool:
        """Whether a time is before the watermark: a newest-first listing can stop there."""
        return self.since is not None and when < self.since

    def is_new(self, when: datetime, key: str) -> bool:
        return (
            self.since is None or when > self.since or (when == self.since and key not in self.seen)
        )

    def note(self, when: datetime, key: str) -> None:
        """Record an item handed out in this sync."""
        if self.top is None or when > self.top:
            self.top, self.top_ids = when, {key}
        elif when == self.top:
            self.top_ids.add(key)

    def finish(self) -> None:
        """The sync is complete: its newest items become the watermark."""
        if self.top is not None and self.top == self.since:
            self.seen |= self.top_ids
        elif self.top is not None:
            self.since, self.seen = self.top, self.top_ids
        self.top, self.top_ids, self.page = None, set(), None

    def cursor(self, **extra: Any) -> dict[str, Any]:
        """The JSON-ready cursor: the watermark, this sync's progress, and connector extras."""
        out: dict[str, Any] = {"since": iso(self.since) if self.since else None}
        out["seen"] = sorted(self.seen)
        if self.top is not None:
            out |= {"top": iso(self.top), "top_ids": sorted(self.top_ids)}
        if self.page:
            out["page"] = self.page
        return out | {k: v for k, v in extra.items() if v}
