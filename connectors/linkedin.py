"""LinkedIn (Community Management API): comments on the organization page's posts.

The contract is not in the shared reference; what we read, and how sure we are
([V] official doc, [P] doc excerpt or third-party code only, [U] assumed):
- [V] versioned REST API on `https://api.linkedin.com/rest/`, headers `Authorization: Bearer`,
  `LinkedIn-Version: YYYYMM` and `X-Restli-Protocol-Version: 2.0.0`; reading and writing an
  organization's comments needs `r_organization_social` / `w_organization_social` and a page
  role (learn.microsoft.com …/community-management/shares/comments-api).
- [P] posts: `GET /rest/posts?q=author&author={org urn}&count&start&sortBy=CREATED` →
  `elements[].id` (`urn:li:share:…` or `urn:li:ugcPost:…`), `elements[].commentary` (the
  post's text in LinkedIn's "little" format: `{hashtag|\\#|word}`, `@[Name](urn:li:…)`,
  reserved characters escaped with `\\`; [V] learn.microsoft.com …/shares/little-text-format),
  `paging {start, count, total}`.
- [P] comments: `GET /rest/socialActions/{URL-encoded urn}/comments?start&count` on a post
  (first-level comments) or on a comment URN (the replies under it); elements carry `$URN`
  (`urn:li:comment:(…,id)`), `id`, `actor`, `object`, `message.text`, `created.time` (ms),
  `lastModified.time`, `parentComment`, `commentsSummary.aggregatedTotalComments`. Order is
  not documented, so every page is read and the watermark filters.
- [P] reply: `POST /rest/socialActions/{parent urn}/comments` with `actor` = organization,
  `object` = the post, `message.text`, `parentComment` = the comment answered; 201 with the
  new comment (`$URN`), or its id in `x-restli-id`.
- [P] delete: `DELETE /rest/socialActions/{parent urn}/comments/{comment id}?actor={org urn}`
  → 204 (an organization may remove comments on its own posts).
- No hide, and no documented like on comments for organizations: unsupported.
- [P] errors `{"status", "serviceErrorCode", "code", "message"}`: 401 `INVALID_ACCESS_TOKEN`
  (serviceErrorCode 65600), 403 `ACCESS_DENIED`, 404, 426 version no longer served [U],
  429 throttled. [U] no reset time is given (daily quotas): a `Retry-After` is honoured when
  present, otherwise we wait `FALLBACK_WAIT`.
- Members are identified by person URN only: names need extra permissions, so items carry none.

Pull: a sync lists the `max_posts` newest posts, then reads every page of comments of each
post and of each comment that has replies; comments newer than the watermark are reported.
Each comment carries its post: `post_text` = the commentary read in the post listing, as plain
text, kept in the cursor for the sync; `post_url` = `https://www.linkedin.com/feed/update/<post
urn>/`, the address LinkedIn shows a post at [P: no permalink field in the Posts API].
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from marshmallow import RAISE, Schema, fields, validate

from connectors import register
from connectors.base import (
    AuthExpired,
    Author,
    Batch,
    ConnectorError,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
    Transient,
)
from connectors.http import HttpConnector, api_base_field, error_text, retry_after_seconds
from connectors.text import post_excerpt, web_link
from connectors.watermark import close_sync

API_BASE = "https://api.linkedin.com"
API_VERSION = "202609"
PAGE = 50
OVERLAP_MS = 600_000  # created.time re-read each sync, so a slow walk leaves no gap
FALLBACK_WAIT = 300.0
FEED_URL = "https://www.linkedin.com/feed/update/"
LITTLE = re.compile(
    r"\{hashtag\|\\?#\|((?:\\.|[^\\}])*)\}"  # {hashtag|\#|word}
    r"|@\[((?:\\.|[^\\\]])*)\]\(urn:li:[^)\s]*\)"  # @[Name](urn:li:…)
    r"|\\(.)"  # an escaped reserved character
)


def plain_text(little: str) -> str:
    """Commentary in LinkedIn's little format as the post reads: #word, Name, no escapes."""

    def one(found: re.Match) -> str:
        hashtag, mention, escaped = found.groups()
        if hashtag is not None:
            return "#" + re.sub(r"\\(.)", r"\1", hashtag)
        if mention is not None:
            return re.sub(r"\\(.)", r"\1", mention)
        return escaped

    return LITTLE.sub(one, little)


def encode(urn: str) -> str:
    """A URN as a path segment (Rest.li 2.0 wants `:`, `(`, `)` and `,` encoded)."""
    return quote(urn, safe="")


def comment_id_of(urn: str) -> str:
    """`urn:li:comment:(urn:li:activity:1,2)` → `2`."""
    return urn.rstrip(")").rsplit(",", 1)[-1]


class LinkedInConfig(Schema):
    class Meta:
        unknown = RAISE

    access_token = fields.String(
        required=True, validate=validate.Length(min=10, max=2048), metadata={"secret": True}
    )
    organization_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{1,20}$", error="the page's organization id is a number"),
        metadata={"description": "the number in urn:li:organization:<id>"},
    )
    api_version = fields.String(
        load_default=API_VERSION,
        validate=validate.Regexp(r"^20\d{2}(0[1-9]|1[0-2])$", error="a version is YYYYMM"),
        metadata={"description": "LinkedIn-Version header (each version is served a year)"},
    )
    max_posts = fields.Integer(
        load_default=20,
        validate=validate.Range(1, 200),
        metadata={"description": "how many of the newest posts are watched for comments"},
    )
    api_base = api_base_field(API_BASE)


@register
class LinkedInConnector(HttpConnector):
    type = "linkedin"
    label = "LinkedIn"
    capabilities = frozenset({"reply", "delete"})
    config_schema = LinkedInConfig
    default_api_base = API_BASE
    polls = True

    @property
    def organization(self) -> str:
        return f"urn:li:organization:{self.config['organization_id']}"

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config['access_token']}",
            "LinkedIn-Version": self.config.get("api_version", API_VERSION),
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def raise_error(self, response: requests.Response) -> None:
        """Map LinkedIn's `{status, serviceErrorCode, code, message}` bodies to our errors."""
        status = response.status_code
        try:
            body = response.json()
            said = f"{body.get('message') or body.get('code') or status}"
        except (ValueError, AttributeError):
            said = error_text(response)
        if status == 429:
            wait = retry_after_seconds(response, FALLBACK_WAIT)
            raise RateLimited(wait, f"LinkedIn throttled the calls ({said}); retry in {wait:.0f} s")
        if status == 401:
            raise AuthExpired(f"LinkedIn refused the access token ({said}): reconnect the page")
        if status == 403:
            raise PermissionDenied(
                f"LinkedIn denied access ({said}): the member needs an admin role on the page"
                " and the app the r/w_organization_social permissions"
            )
        if status == 426:
            raise ConnectorError(
                f"LinkedIn no longer serves API version {self.config.get('api_version')}"
                f" ({said}): set a recent YYYYMM version"
            )
        if status in (404, 409, 410, 422):
            raise NotAllowed(f"LinkedIn refused: {said}")
        super().raise_error(response)

    # -- calls ------------------------------------------------------------------------------

    def check(self) -> str:
        """Read the organization and name its page."""
        data = self.get_json(f"rest/organizations/{self.config['organization_id']}")
        name = data.get("localizedName") or self.organization
        vanity = f" (linkedin.com/company/{data['vanityName']})" if data.get("vanityName") else ""
        return f"Connected to the LinkedIn page “{name}”{vanity}"

    def pull(self, cursor: Any) -> Batch:
        """One step of a sync: a page of posts, or a page of comments of one post or comment."""
        state = _load_state(cursor)
        sync = state["sync"] or {
            "started": time.time(),
            "posts": 0,
            "listing": True,
            "queue": [],
            "start": 0,
            "found": {},
            "about": {},
        }
        items: list[NormalizedItem] = []
        if sync["listing"]:
            self._list_posts(sync)
        else:
            items = self._list_comments(state, sync)
        if sync["listing"] or sync["queue"]:
            return Batch(items, {**state, "sync": sync}, more=True)
        return Batch(items, _finish(state, sync), more=False)

    def _list_posts(self, sync: dict[str, Any]) -> None:
        limit = self.config.get("max_posts", 20)
        page = self.get_json(
            "rest/posts",
            params={
                "q": "author",
                "author": self.organization,
                "sortBy": "CREATED",
                "start": sync["posts"],
                "count": min(PAGE, limit),
            },
        )
        elements = (page.get("elements") or [])[: limit - sync["posts"]]
        posts = [p["id"] for p in elements]
        for post in elements:  # what a comment shows of its post
            commentary = post.get("commentary")
            text = post_excerpt(plain_text(commentary)) if isinstance(commentary, str) else None
            if text:
                sync["about"][post["id"]] = text
        # a queue entry: [object whose comments we list, post urn, thread urn or None]
        sync["queue"] += [[urn, urn, None] for urn in posts]
        sync["posts"] += len(posts)
        sync["listing"] = bool(posts) and sync["posts"] < limit and _has_more(page, sync["posts"])

    def _list_comments(self, state: dict[str, Any], sync: dict[str, Any]) -> list[NormalizedItem]:
        target, post, thread = sync["queue"][0]
        page = self.get_json(
            f"rest/socialActions/{encode(target)}/comments",
            params={"start": sync["start"], "count": PAGE},
        )
        elements = page.get("elements") or []
        items = []
        for element in elements:
            urn = element.get("$URN") or element.get("commentUrn")
            if not urn:
                continue
            replies = (element.get("commentsSummary") or {}).get("aggregatedTotalComments") or 0
            if thread is None and replies:
                sync["queue"].append([urn, post, urn])
            created = int((element.get("created") or {}).get("time") or 0)
            if state["since"] is not None and created < state["since"]:
                continue
            if urn in state["seen"] or urn in sync["found"]:
                continue
            sync["found"][urn] = created
            items.append(self._item(element, urn, post, thread, sync["about"].get(post)))
        sync["start"] += len(elements)
        if not elements or not _has_more(page, sync["start"]):
            sync["queue"].pop(0)
            sync["start"] = 0
            if all(entry[1] != post for entry in sync["queue"]):
                sync["about"].pop(post, None)  # its comments are read: the cursor needs it no more
        return items

    def _item(
        self, element: dict[str, Any], urn: str, post: str, thread: str | None, text: str | None
    ) -> NormalizedItem:
        """A comment under `post`, whose text (`text`) the post listing gave."""
        created = int(element["created"]["time"])
        modified = int((element.get("lastModified") or {}).get("time") or created)
        parent = element.get("parentComment") or thread
        actor = element.get("actor") or (element.get("created") or {}).get("actor") or "unknown"
        return NormalizedItem(
            external_id=urn,
            kind="comment",
            author=Author(id=actor),
            created_at=datetime.fromtimestamp(created / 1000, UTC),
            edited_at=datetime.fromtimestamp(modified / 1000, UTC) if modified > created else None,
            body=(element.get("message") or {}).get("text") or "",
            post_id=post,
            thread_id=parent or urn,  # LinkedIn nests replies one level under a comment
            parent_id=parent,
            outbound=actor == self.organization,
            post_text=text,
            post_url=web_link(f"{FEED_URL}{post}/"),
        )

    # -- writes -----------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        """Answer a comment as the organization, nested under its thread; return the new URN."""
        self.require("reply")
        if not text.strip():
            raise NotAllowed("a LinkedIn comment cannot be empty")
        thread = target.thread_id or target.external_id
        post = self._post_of(target)
        response = self.call(
            "POST",
            f"rest/socialActions/{encode(thread)}/comments",
            json={
                "actor": self.organization,
                "object": post,
                "message": {"text": text},
                "parentComment": thread,
            },
        )
        try:
            created = response.json()
        except ValueError:
            created = {}
        urn = (created or {}).get("$URN") or (created or {}).get("commentUrn")
        restli_id = response.headers.get("x-restli-id", "")
        if not urn and restli_id.startswith("urn:li:comment:"):
            urn = restli_id
        if not urn and restli_id:
            urn = f"urn:li:comment:({post},{restli_id})"
        if not urn:
            raise Transient("LinkedIn accepted the comment but did not say its id")
        return urn

    def moderate(self, target: Target, action: str) -> None:
        """Delete a comment on one of the organization's posts."""
        self.require(action)
        nested = target.thread_id and target.thread_id != target.external_id
        parent = target.thread_id if nested else self._post_of(target)
        self.call(
            "DELETE",
            f"rest/socialActions/{encode(parent)}/comments/{comment_id_of(target.external_id)}",
            params={"actor": self.organization},
        )

    @staticmethod
    def _post_of(target: Target) -> str:
        if target.post_id:
            return target.post_id
        inner = target.external_id.removeprefix("urn:li:comment:(").rsplit(",", 1)[0]
        if inner.startswith("urn:li:") and inner != target.external_id:
            return inner
        raise NotAllowed("this LinkedIn comment does not say which post it belongs to")


def _has_more(page: dict[str, Any], read: int) -> bool:
    paging = page.get("paging") or {}
    if paging.get("total") is not None:
        return read < int(paging["total"])
    count = int(paging.get("count") or 0)
    return bool(page.get("elements")) and len(page["elements"]) >= count > 0


def _load_state(cursor: Any) -> dict[str, Any]:
    """The cursor: watermark (`since`, ms), URNs already reported at or after it, and the sync
    in progress (posts listed and their text, queue of posts and comments to read, comments
    found)."""
    if not isinstance(cursor, dict):
        return {"since": None, "seen": {}, "sync": None}
    sync = cursor.get("sync")
    if sync is not None:
        sync = dict(sync) | {
            "queue": [list(entry) for entry in sync["queue"]],
            "found": dict(sync["found"]),
            "about": dict(sync.get("about") or {}),
        }
    return {"since": cursor.get("since"), "seen": dict(cursor.get("seen") or {}), "sync": sync}


def _finish(state: dict[str, Any], sync: dict[str, Any]) -> dict[str, Any]:
    """Close a sync (see connectors.watermark)."""
    return close_sync(state, sync, OVERLAP_MS, per_second=1000)
