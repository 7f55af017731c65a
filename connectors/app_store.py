"""App Store Connect: the customer reviews of one app, and the developer's public responses.

Contract (../shared/reference/platform-apis.md §5.3; [V] verified there, [P] partly, [U] assumed):
- [V] auth: `Authorization: Bearer <JWT>` signed ES256 with the team's .p8 API key, header
  `kid` = key ID, claims `iss` = issuer ID, `iat`, `exp`, `aud = appstoreconnect-v1`; [P] a
  token may live 20 minutes at most. We sign our own and renew it a minute before it expires.
- [V] `GET /v1/apps/{id}/customerReviews?sort=-createdDate&limit=…&include=response`, JSON:API
  pages chained by `links.next` (a full URL holding Apple's cursor; followed only on api_base).
- [V] there is no "changed since": newest first, we stop at the watermark on `createdDate`.
  Edits are invisible to this API. Reviews can surface a little after their `createdDate`, so
  the watermark keeps a safety overlap and remembers the ids it already reported inside it.
- [V] respond: `POST /v1/customerReviewResponses` (JSON:API body); one response per review,
  so a second response replaces the first (Apple's create-or-update). `DELETE
  /v1/customerReviewResponses/{id}` withdraws it (`delete_response`).
- [P] rate limit: `X-Rate-Limit: user-hour-lim:3600;user-hour-rem:N;` (rolling hour, per key)
  and 429 `RATE_LIMIT_EXCEEDED`. Apple gives no reset time: a `Retry-After`, when present, is
  honoured [U], otherwise we wait `FALLBACK_WAIT`.
- [P] errors: `{"errors": [{"id", "status", "code", "title", "detail"}]}`; 401 `NOT_AUTHORIZED`.

What a customer wrote cannot be hidden, deleted or liked: the only moderation is our answer.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from connectors import register
from connectors.base import (
    AuthExpired,
    Author,
    Batch,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
)
from connectors.http import HttpConnector, api_base_field, retry_after_seconds
from connectors.watermark import close_sync

API_BASE = "https://api.appstoreconnect.apple.com"
AUDIENCE = "appstoreconnect-v1"
TOKEN_LIFETIME = 15 * 60  # Apple refuses tokens that live more than 20 minutes
TOKEN_RENEW_BEFORE = 60
PAGE_LIMIT = 200  # Apple's maximum
OVERLAP = 3600  # seconds of createdDate re-read each sync: late-surfacing reviews are not lost
FALLBACK_WAIT = 300.0  # the hourly window is rolling and Apple says nothing of when it frees up
RATE_HEADER = "X-Rate-Limit"
UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def parse_rate_limit(value: str | None) -> dict[str, int]:
    """Read `user-hour-lim:3600;user-hour-rem:12;` into {"user-hour-lim": 3600, ...}."""
    budget = {}
    for part in (value or "").split(";"):
        name, _, number = part.strip().partition(":")
        if name and number.strip().isdigit():
            budget[name] = int(number)
    return budget


def parse_created(value: str) -> int:
    """Turn Apple's `2017-11-15T08:10:34-08:00` into Unix seconds."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


class AppStoreConfig(Schema):
    class Meta:
        unknown = RAISE

    issuer_id = fields.String(
        required=True,
        validate=validate.Regexp(
            UUID_RE, error="the issuer ID is a UUID (Users and Access › Keys)"
        ),
    )
    key_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z0-9]{10}$", error="the key ID is 10 letters and digits"),
    )
    private_key = fields.String(
        required=True,
        metadata={"secret": True, "description": "content of the AuthKey_<key id>.p8 file"},
    )
    app_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{1,20}$", error="the app's Apple ID is a number"),
    )
    api_base = api_base_field(API_BASE)

    @validates("private_key")
    def check_private_key(self, value: str, **_: Any) -> None:
        """Refuse anything but the PEM of a P-256 private key, with a hint a person can act on."""
        try:
            key = serialization.load_pem_private_key(value.strip().encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                "paste the whole .p8 file, from -----BEGIN PRIVATE KEY----- to the END line"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValidationError("an App Store Connect key is an EC P-256 (ES256) key")


@register
class AppStoreConnector(HttpConnector):
    type = "app_store"
    label = "App Store"
    capabilities = frozenset({"reply"})
    config_schema = AppStoreConfig
    default_api_base = API_BASE
    polls = True

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self._token: str | None = None
        self._token_expires = 0.0

    def now(self) -> float:
        """The clock tokens are dated with (a test can move it)."""
        return time.time()

    # -- auth -------------------------------------------------------------------------------

    def token(self) -> str:
        """A signed ES256 token, reused until a minute before it expires."""
        now = self.now()
        if self._token is None or now >= self._token_expires - TOKEN_RENEW_BEFORE:
            claims = {
                "iss": self.config["issuer_id"],
                "iat": int(now),
                "exp": int(now) + TOKEN_LIFETIME,
                "aud": AUDIENCE,
            }
            headers = {"kid": self.config["key_id"], "typ": "JWT"}
            key = self.config["private_key"].strip()
            self._token = jwt.encode(claims, key, algorithm="ES256", headers=headers)
            self._token_expires = now + TOKEN_LIFETIME
        return self._token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def raise_error(self, response: requests.Response) -> None:
        """Map Apple's JSON:API errors and its hourly budget to our errors."""
        status = response.status_code
        code, detail = _first_error(response)
        if status == 429 or code == "RATE_LIMIT_EXCEEDED":
            budget = parse_rate_limit(response.headers.get(RATE_HEADER))
            limit = budget.get("user-hour-lim")
            wait = retry_after_seconds(response, FALLBACK_WAIT)
            per_hour = f" ({limit} calls per hour)" if limit else ""
            raise RateLimited(
                wait, f"App Store Connect rate limit reached{per_hour}; retrying in {wait:.0f} s"
            )
        if status == 401:
            raise AuthExpired(
                "App Store Connect refused the API key: check the issuer ID, key ID and .p8 key,"
                f" and that the key was not revoked ({detail or code or 'NOT_AUTHORIZED'})"
            )
        if status == 403:
            raise PermissionDenied(
                f"this API key's role may not do that in App Store Connect ({detail or code})"
            )
        if status in (404, 409, 422):
            raise NotAllowed(f"App Store Connect refused: {detail or code or status}")
        super().raise_error(response)

    # -- calls ------------------------------------------------------------------------------

    def check(self) -> str:
        """Read the app's record; name it and the hourly budget left."""
        response = self.call("GET", f"v1/apps/{self.config['app_id']}")
        attributes = (self.json_of(response).get("data") or {}).get("attributes") or {}
        name = attributes.get("name") or self.config["app_id"]
        bundle = f" ({attributes['bundleId']})" if attributes.get("bundleId") else ""
        budget = parse_rate_limit(response.headers.get(RATE_HEADER))
        left = ""
        if "user-hour-rem" in budget and "user-hour-lim" in budget:
            left = f"; {budget['user-hour-rem']} of {budget['user-hour-lim']} calls left this hour"
        return f"Connected to the App Store app “{name}”{bundle}{left}"

    def pull(self, cursor: Any) -> Batch:
        """Read one page of reviews, newest first, until the watermark or the last page."""
        state = _load_state(cursor)
        sync = state["sync"] or {"next": None, "started": time.time(), "found": {}}
        if sync["next"]:
            page = self.get_json(sync["next"])
        else:
            params = {"sort": "-createdDate", "limit": PAGE_LIMIT, "include": "response"}
            page = self.get_json(f"v1/apps/{self.config['app_id']}/customerReviews", params=params)
        responses = {
            r.get("id"): r
            for r in page.get("included") or []
            if r.get("type") == "customerReviewResponses"
        }
        items, reached_old = [], False
        for review in page.get("data") or []:
            created = parse_created(review["attributes"]["createdDate"])
            if state["since"] is not None and created < state["since"]:
                reached_old = True
                continue
            if review["id"] in state["seen"] or review["id"] in sync["found"]:
                continue
            sync["found"][review["id"]] = created
            items.append(self._review_item(review))
            echo = self._response_item(review, responses)
            if echo is not None:
                items.append(echo)
        next_url = (page.get("links") or {}).get("next")
        if next_url and page.get("data") and not reached_old:
            sync["next"] = next_url
            return Batch(items, {**state, "sync": sync}, more=True)
        return Batch(items, _finish(state, sync), more=False)

    def reply(self, target: Target, text: str) -> str:
        """Publish (or replace) the developer response to a review; return the response id."""
        self.require("reply")
        if target.kind != "review":
            raise NotAllowed("on the App Store only reviews can be answered")
        if not text.strip():
            raise NotAllowed("an App Store response cannot be empty")
        body = {
            "data": {
                "type": "customerReviewResponses",
                "attributes": {"responseBody": text},
                "relationships": {
                    "review": {"data": {"type": "customerReviews", "id": target.external_id}}
                },
            }
        }
        response = self.call("POST", "v1/customerReviewResponses", json=body)
        return str(self.json_of(response)["data"]["id"])

    def moderate(self, target: Target, action: str) -> None:
        """Reviews belong to their authors: no hide, delete or like (see `delete_response`)."""
        self.require(action)

    def delete_response(self, response_id: str) -> None:
        """Withdraw one of our published responses (Apple answers 204)."""
        self.call("DELETE", f"v1/customerReviewResponses/{response_id}")

    # -- items ------------------------------------------------------------------------------

    def _review_item(self, review: dict[str, Any]) -> NormalizedItem:
        attributes = review["attributes"]
        nickname = attributes.get("reviewerNickname") or "App Store customer"
        territory = attributes.get("territory")
        return NormalizedItem(
            external_id=review["id"],
            kind="review",
            # Apple identifies reviewers by nickname only; the territory keeps namesakes apart
            author=Author(id=f"{nickname}@{territory}" if territory else nickname, name=nickname),
            created_at=datetime.fromtimestamp(parse_created(attributes["createdDate"]), UTC),
            body=attributes.get("body") or "",
            subject=(attributes.get("title") or None),
            thread_id=review["id"],
            rating=attributes.get("rating"),
        )

    def _response_item(
        self, review: dict[str, Any], responses: dict[str, dict[str, Any]]
    ) -> NormalizedItem | None:
        """Our published answer, as an outbound echo of the reply that created it."""
        linked = ((review.get("relationships") or {}).get("response") or {}).get("data") or {}
        response = responses.get(linked.get("id"))
        if response is None:
            return None
        attributes = response.get("attributes") or {}
        when = attributes.get("lastModifiedDate") or review["attributes"]["createdDate"]
        return NormalizedItem(
            external_id=str(response["id"]),
            kind="review",
            author=Author(id=f"app:{self.config['app_id']}", name="Developer response"),
            created_at=datetime.fromtimestamp(parse_created(when), UTC),
            body=attributes.get("responseBody") or "",
            thread_id=review["id"],
            parent_id=review["id"],
            outbound=True,
        )


def _first_error(response: requests.Response) -> tuple[str, str]:
    try:
        errors = response.json().get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
    except (ValueError, AttributeError, IndexError):
        return "", ""
    return str(first.get("code") or ""), str(first.get("detail") or first.get("title") or "")


def _load_state(cursor: Any) -> dict[str, Any]:
    """The cursor: watermark (`since`, seconds), ids already reported at or after it, and the
    sync in progress (`next` page URL, start time, reviews found so far)."""
    if not isinstance(cursor, dict):
        return {"since": None, "seen": {}, "sync": None}
    sync = cursor.get("sync")
    if sync is not None:
        sync = {"next": sync.get("next"), "started": sync["started"], "found": dict(sync["found"])}
    return {"since": cursor.get("since"), "seen": dict(cursor.get("seen") or {}), "sync": sync}


def _finish(state: dict[str, Any], sync: dict[str, Any]) -> dict[str, Any]:
    """Close a sync (see connectors.watermark)."""
    return close_sync(state, sync, OVERLAP)
