"""What every HTTP connector shares: base URL, auth, timeouts, transient retries, error mapping.

A platform module subclasses `HttpConnector`, says how it authenticates (`auth_headers`,
`auth_params`) and how its error bodies read (`raise_error`, which should end by calling the
generic mapping here). Transient failures (timeouts, refused connections, 5xx) are retried a few
times with exponential backoff and full jitter; a rate limit is never slept on inside a call: it
is raised as `RateLimited(retry_after)` so the channel or the outbox row waits for the reset.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from marshmallow import fields
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from connectors.base import (
    AuthExpired,
    Connector,
    ConnectorError,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Transient,
)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = "CommunityInbox/1.0 (+https://github.com/community-inbox)"
MAX_ERROR_CHARS = 300


def api_base_field(default: str) -> fields.Url:
    """The config field every HTTP connector has: where the platform's API lives."""
    return fields.Url(
        load_default=default,
        schemes={"http", "https"},
        require_tld=False,
        metadata={"description": "API base URL (change it only for a proxy or a simulator)"},
    )


def seconds_until_epoch(value: str | None, default: float = 60.0) -> float:
    """Seconds until a Unix-time reset header (X, Meta's regain time is handled by callers)."""
    try:
        return max(1.0, float(value) - time.time())
    except (TypeError, ValueError):
        return default


def seconds_until_iso(value: str | None, default: float = 60.0) -> float:
    """Seconds until an ISO 8601 reset time (Mastodon's X-RateLimit-Reset)."""
    if not value:
        return default
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(1.0, (when - datetime.now(UTC)).total_seconds())


def retry_after_seconds(response: requests.Response, default: float = 60.0) -> float:
    """Read a standard Retry-After header, in seconds or as an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return default
    if value.strip().isdigit():
        return max(1.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(1.0, (when - datetime.now(UTC)).total_seconds())


def error_text(response: requests.Response) -> str:
    """A short, single-line description of an error response for people to read."""
    body = (response.text or "").strip().replace("\n", " ")
    if len(body) > MAX_ERROR_CHARS:
        body = body[:MAX_ERROR_CHARS] + "…"
    return f"HTTP {response.status_code}" + (f": {body}" if body else "")


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether a failure happened before the request left (refused, unresolvable, connect
    timeout), as opposed to after it was sent (read timeout, connection reset)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class DeliveryUnknown(ConnectorError):
    """A write left but no answer came back: it may have been applied, so it is not retried."""


class _NotSent(Transient):
    """A transient failure before the request reached the platform."""


class HttpConnector(Connector):
    """A connector that speaks a platform's HTTP API through one shared, careful client."""

    default_api_base: ClassVar[str]
    timeout: ClassVar[float] = 15.0
    retry_attempts: ClassVar[int] = 3
    retry_wait_max: ClassVar[float] = 8.0

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.api_base = str(config.get("api_base") or self.default_api_base).rstrip("/") + "/"
        self.http = requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT

    # -- what a platform module overrides ---------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every call (e.g. a bearer token)."""
        return {}

    def auth_params(self) -> dict[str, str]:
        """Query parameters that authenticate every call (e.g. Meta's access_token)."""
        return {}

    def raise_error(self, response: requests.Response) -> None:
        """Turn an error response into our errors; platforms refine this and then call super."""
        status = response.status_code
        if status == 429:
            raise RateLimited(
                retry_after_seconds(response), f"rate limited ({error_text(response)})"
            )
        if status == 401:
            raise AuthExpired(f"the platform refused the credentials ({error_text(response)})")
        if status == 403:
            raise PermissionDenied(f"permission denied ({error_text(response)})")
        if status in (408, 425) or status >= 500:
            raise Transient(f"the platform failed ({error_text(response)})")
        if status in (404, 409, 410, 422):
            raise NotAllowed(f"the platform refused ({error_text(response)})")
        raise ConnectorError(f"unexpected answer ({error_text(response)})")

    # -- the client -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Resolve a path (or a next-page link) against the API base; never leave its origin.

        Pagination links come from the platform's answer; following one to another host would
        hand our token to it, so only links on the API base's own scheme and host are followed.
        """
        url = urljoin(self.api_base, path.lstrip("/")) if "://" not in path else path
        base, target = urlsplit(self.api_base), urlsplit(url)
        if (base.scheme, base.netloc) != (target.scheme, target.netloc):
            raise ConnectorError(f"refusing to follow a link outside {base.netloc}: {url}")
        return url

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> requests.Response:
        """Make one API call, retrying transient failures; raise our errors for the rest."""
        url = self.url(path)
        query = {**(self.auth_params() if authenticate else {}), **(params or {})}
        sent_headers = {**(self.auth_headers() if authenticate else {}), **(headers or {})}
        # A POST or PATCH that failed after it left may have been applied: retrying it could
        # post a reply twice, so only idempotent calls (or one carrying an idempotency key) are
        # retried on any transient failure; the others only when they never reached the platform.
        idempotent = method.upper() in IDEMPOTENT or any(
            k.lower() == "idempotency-key" for k in sent_headers
        )

        def attempt() -> requests.Response:
            try:
                response = self.http.request(
                    method,
                    url,
                    params=query or None,
                    json=json,
                    data=data,
                    headers=sent_headers,
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                if _never_sent(exc):  # the connection never opened: safe to try again
                    raise _NotSent(f"cannot reach {urlsplit(url).netloc}") from exc
                if not idempotent:  # it may have been applied: never post it a second time
                    raise DeliveryUnknown(
                        "the platform did not confirm; it may have been posted, so it will not"
                        " be sent again: check on the platform"
                    ) from exc
                raise Transient(f"no answer from {urlsplit(url).netloc}") from exc
            if response.status_code >= 400:
                self.raise_error(response)
            return response

        retrying = Retrying(
            retry=retry_if_exception_type(Transient if idempotent else _NotSent),
            stop=stop_after_attempt(self.retry_attempts),
            wait=wait_random_exponential(multiplier=0.5, max=self.retry_wait_max),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _NotSent as exc:
            raise Transient(str(exc)) from exc.__cause__

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET and decode a JSON answer; a body that is not JSON is a transient failure."""
        return self.json_of(self.call("GET", path, **kwargs))

    @staticmethod
    def json_of(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise Transient(f"the platform answered with a body that is not JSON ({exc})") from exc
