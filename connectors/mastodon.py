"""Mastodon: mentions, direct messages and watched hashtags of the brand's account.

Contract (mastodon/documentation, summarised in platform-apis.md §6; verified there [V]):

- Auth: `Authorization: Bearer <user token>` against the account's own instance (`api_base`).
  Scopes: `read:notifications read:statuses write:statuses write:favourites`.
- Pull: `GET /api/v1/notifications?types[]=mention&limit=40`, newest first. The first sync walks
  back with `rel="next"` links (`max_id`) until an empty page; later syncs start at
  `min_id=<watermark>` and walk forward with `rel="prev"` links until an empty page. Links are
  followed on `api_base` only: a link naming another host (an instance behind a proxy announces
  its public name) is re-rooted on `api_base`, so the token never leaves it.
- Hashtag watch (optional `watch_tags`): `GET /api/v1/timelines/tag/:hashtag`, paged the same
  way, one watermark per tag; a newly watched tag reads back at most `MAX_TAG_BACKFILL` pages
  (a popular tag's history is not the brand's inbox). Statuses that mention the brand are
  skipped there (the notification already brings them); the brand's own come back `outbound`.
- Items: a mention whose status has `visibility == "direct"` is a `dm`, any other one a
  `mention`; a watched-tag status is a `mention`. `external_id` is the STATUS id (so a status
  met in two streams is one item). `thread_id` is the root status of the reply chain: the status
  itself when it replies to nothing, else the first of `GET /api/v1/statuses/:id/context`
  ancestors (cached in the cursor, bounded, so a long conversation costs one lookup per new
  branch). The REST API does not expose a status's conversation, and `GET /api/v1/conversations`
  only names the LAST status of each direct conversation, so the reply-chain root is the
  conversation key for direct messages too (Mastodon itself starts a conversation at the root
  status and hands it down to replies). The ingest pairs that key with the author for mentions
  (DESIGN §5). Status `content` is HTML: it becomes plain text (`html_to_text`).
- Reply: `POST /api/v1/statuses` with `status` (prefixed by `@acct ` of the target's author when
  the text does not mention them: a direct status reaches only the accounts it mentions),
  `in_reply_to_id` and the target's `visibility` (read with `GET /api/v1/statuses/:id`, so a
  followers-only or direct conversation is never answered in public). An `Idempotency-Key`
  derived from the target and the text makes a retried send return the first status instead of
  posting twice (Mastodon keeps keys for an hour).
- Like: `POST /api/v1/statuses/:id/favourite`. Hiding or deleting someone else's status does not
  exist on Mastodon (only block, mute and report): refused as `Unsupported`.
- Errors: 429 `{"error": "Too many requests"}` with `X-RateLimit-Reset` (ISO 8601, read against
  the server's `Date` header to cancel clock skew); 401 `{"error": "The access token is
  invalid"}` → AuthExpired; 403 → PermissionDenied; 404 → NotAllowed (deleted or not visible);
  422 → NotAllowed with Mastodon's validation message.

Assumed [U]: ancestors lists are capped by the server (a thread deeper than that roots at its
oldest visible ancestor); replies in a group conversation are addressed to the author only.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from connectors import register
from connectors.base import (
    MAX_BODY_CHARS,
    AuthExpired,
    Author,
    Batch,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
    Transient,
    Unsupported,
)
from connectors.http import HttpConnector, api_base_field, retry_after_seconds
from connectors.text import html_to_text

PAGE_LIMIT = 40  # notifications allow 80, tag timelines 40
MAX_TAGS = 10
MAX_TAG_BACKFILL = 5  # pages of a hashtag's past read when it is first watched
MAX_ROOTS = 400  # status id -> root id pairs kept in the cursor
NOTIFICATIONS = "notifications"
TAG_RE = re.compile(r"^\w{1,100}$")
VISIBILITIES = ("public", "unlisted", "private", "direct")

# -- config ---------------------------------------------------------------------------------


def split_tags(value: str | None) -> list[str]:
    """The hashtags of a `watch_tags` value, without '#', in order, each once."""
    tags: list[str] = []
    for raw in re.split(r"[,\s]+", value or ""):
        tag = raw.strip().lstrip("#")
        if tag and tag.casefold() not in {t.casefold() for t in tags}:
            tags.append(tag)
    return tags


def _validate_tags(value: str) -> None:
    tags = split_tags(value)
    bad = [t for t in tags if not TAG_RE.match(t)]
    if bad:
        raise ValidationError(f"not a hashtag: {', '.join(bad)} (letters, digits and _ only)")
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"watch at most {MAX_TAGS} hashtags")


class MastodonConfig(Schema):
    class Meta:
        unknown = RAISE

    api_base = api_base_field("https://mastodon.social")
    access_token = fields.String(
        required=True,
        validate=validate.Length(min=8, max=512),
        error_messages={
            "required": "Paste the access token of the brand's Mastodon account "
            "(Preferences → Development → your application)."
        },
        metadata={
            "secret": True,
            "description": "User access token with read:notifications, read:statuses, "
            "write:statuses and write:favourites",
        },
    )
    watch_tags = fields.String(
        load_default="",
        validate=_validate_tags,
        metadata={"description": "Hashtags to watch, comma separated (e.g. MaisonLumiere)"},
    )


# -- helpers --------------------------------------------------------------------------------


def _id_key(value: str) -> tuple[int, str]:
    """Order Mastodon ids (numeric strings; other servers use fixed-width sortable strings)."""
    return len(value), value


def _newest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b, key=_id_key)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def mentions_account(text: str, acct: str) -> bool:
    """Whether `text` already addresses `@acct` (the full acct; case does not matter)."""
    pattern = rf"(?<![\w@])@{re.escape(acct)}(?![\w@]|\.\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def idempotency_key(target: Target, text: str) -> str:
    """The same reply to the same status always carries the same key."""
    digest = hashlib.sha256(f"{target.external_id}\n{text}".encode()).hexdigest()
    return f"inbox-{digest[:40]}"


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        message = str(body["error"])
        if body.get("error_description"):
            message += f": {body['error_description']}"
        return message[:300]
    return f"HTTP {response.status_code}"


def rate_limit_wait(response: requests.Response) -> float:
    """Seconds until Mastodon's ISO 8601 `X-RateLimit-Reset`, measured on the server's clock."""
    reset = _when(response.headers.get("X-RateLimit-Reset"))
    if reset is None:
        return retry_after_seconds(response, default=300.0)
    now = datetime.now(UTC)
    date = response.headers.get("Date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            now = email.utils.parsedate_to_datetime(date).astimezone(UTC)
    return min(3600.0, max(1.0, (reset - now).total_seconds()))


# -- the connector --------------------------------------------------------------------------


@register
class MastodonConnector(HttpConnector):
    type = "mastodon"
    label = "Mastodon"
    capabilities = frozenset({"reply", "like"})
    config_schema = MastodonConfig
    polls = True
    default_api_base = "https://mastodon.social"

    REFUSALS = {
        "hide": "Mastodon cannot hide someone else's post; block, mute or report the account "
        "on Mastodon instead.",
        "unhide": "Mastodon cannot unhide posts: it has no hide action.",
        "delete": "Mastodon cannot delete someone else's post; report it to its server instead.",
    }

    @classmethod
    def require(cls, action: str) -> None:
        if action not in cls.capabilities and action in cls.REFUSALS:
            raise Unsupported(cls.REFUSALS[action])
        super().require(action)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config['access_token']}"}

    def raise_error(self, response: requests.Response) -> None:
        status, message = response.status_code, _error_message(response)
        if status == 429:
            wait = rate_limit_wait(response)
            raise RateLimited(wait, f"Mastodon rate limit reached; calls resume in {wait:.0f} s")
        if status == 401:
            raise AuthExpired(
                f"Mastodon refused the access token ({message}); "
                "reconnect the channel with a new token"
            )
        if status == 403:
            raise PermissionDenied(
                f"Mastodon refused this action ({message}); the token may lack a scope"
            )
        if status in (404, 410):
            raise NotAllowed(
                "Mastodon cannot find this post: it was deleted or is not visible to the account"
            )
        if status == 422:
            raise NotAllowed(f"Mastodon refused it: {message}")
        super().raise_error(response)

    # -- who am I -----------------------------------------------------------------------------

    def check(self) -> str:
        account = self.get_json("api/v1/accounts/verify_credentials")
        host = urlsplit(self.api_base).netloc
        return f"Connected as @{account.get('acct') or account.get('username')} on {host}"

    # -- pull ---------------------------------------------------------------------------------

    def streams(self) -> list[str]:
        return [NOTIFICATIONS] + [
            f"tag:{t.casefold()}" for t in split_tags(self.config.get("watch_tags"))
        ]

    def pull(self, cursor: Any) -> Batch:
        """One page of one stream (notifications, then each watched tag) per call."""
        state = dict(cursor) if isinstance(cursor, dict) else {}
        streams = self.streams()
        marks = {k: v for k, v in (state.get("marks") or {}).items() if k in streams}
        roots = {str(a): str(b) for a, b in state.get("roots") or []}
        run = dict(state.get("run") or {})
        todo = [s for s in run.get("todo") or [] if s in streams]
        if not todo:
            todo, run = list(streams), {}
        stream = todo[0]
        if run.get("stream") != stream:
            run = {"stream": stream, "next": None, "newest": None}
        me = state.get("me")
        if me is None and stream != NOTIFICATIONS:
            me = str(self.get_json("api/v1/accounts/verify_credentials")["id"])

        mark = marks.get(stream)
        forward = mark is not None  # from the watermark up, or (first sync) from the top down
        if run.get("next"):
            response = self.call("GET", self._on_base(run["next"]))
        elif stream == NOTIFICATIONS:
            params = {"types[]": "mention", "limit": PAGE_LIMIT}
            response = self.call("GET", "api/v1/notifications", params=_with(params, mark))
        else:
            tag = quote(stream.removeprefix("tag:"), safe="")
            response = self.call(
                "GET", f"api/v1/timelines/tag/{tag}", params=_with({"limit": PAGE_LIMIT}, mark)
            )
        records = self.json_of(response)
        if not isinstance(records, list):
            raise Transient("Mastodon answered with something other than a list")

        items = self._items(stream, records, roots, me)
        newest = run.get("newest")
        for record in records:
            if isinstance(record, dict) and record.get("id"):
                newest = _newest(newest, str(record["id"]))
        link = response.links.get("prev" if forward else "next", {}).get("url")
        pages = run.get("pages", 0) + 1
        backfilled = not forward and stream != NOTIFICATIONS and pages >= MAX_TAG_BACKFILL
        if records and link and link != run.get("next") and not backfilled:
            run.update(todo=todo, next=link, newest=newest, pages=pages)
        else:  # this stream is read to the end: its watermark moves
            if newest is not None:
                marks[stream] = newest
            todo = todo[1:]
            run = {"todo": todo, "stream": None, "next": None, "newest": None}
        new_cursor = {
            "v": 1,
            "marks": marks,
            "roots": [[k, v] for k, v in list(roots.items())[-MAX_ROOTS:]],
            "run": run if todo else None,
        }
        if me is not None:
            new_cursor["me"] = me
        return Batch(items, new_cursor, more=bool(todo))

    def _on_base(self, link: str) -> str:
        """A pagination link, re-rooted on api_base when the server names another host."""
        base, target = urlsplit(self.api_base), urlsplit(link)
        if (base.scheme, base.netloc) == (target.scheme, target.netloc):
            return link
        return urlunsplit((base.scheme, base.netloc, target.path, target.query, ""))

    def _items(
        self, stream: str, records: list, roots: dict[str, str], me: str | None
    ) -> list[NormalizedItem]:
        statuses = []
        for record in records:
            if not isinstance(record, dict):
                continue
            if stream == NOTIFICATIONS:
                status = record.get("status")
                if record.get("type") != "mention" or not isinstance(status, dict):
                    continue
            else:
                status = record
                if status.get("reblog") or any(
                    str(m.get("id")) == me for m in status.get("mentions") or []
                ):
                    continue  # boosts are not conversations; mentions come as notifications
            statuses.append(status)
        statuses.sort(key=lambda s: _id_key(str(s.get("id"))))  # parents before replies
        items = []
        for status in statuses:
            item = self._item(status, roots, me)
            if item is not None:
                items.append(item)
        return items

    def _item(self, status: dict, roots: dict[str, str], me: str | None) -> NormalizedItem | None:
        account = status.get("account") or {}
        created = _when(status.get("created_at"))
        if not status.get("id") or not account.get("id") or created is None:
            return None
        status_id, parent = str(status["id"]), status.get("in_reply_to_id")
        acct = account.get("acct") or account.get("username") or str(account["id"])
        url = status.get("url") or status.get("uri")
        return NormalizedItem(
            external_id=status_id,
            kind="dm" if status.get("visibility") == "direct" else "mention",
            author=Author(
                id=str(account["id"]),
                handle=f"@{acct}"[:255],
                name=(account.get("display_name") or account.get("username") or acct)[:255],
            ),
            created_at=created,
            body=status_text(status),
            thread_id=self._root(status, roots),
            parent_id=str(parent) if parent else None,
            edited_at=_when(status.get("edited_at")),
            url=url if isinstance(url, str) and url.startswith(("https://", "http://")) else None,
            outbound=me is not None and str(account["id"]) == me,
        )

    def _root(self, status: dict, roots: dict[str, str]) -> str:
        """The first status of the reply chain this one belongs to."""
        status_id, parent = str(status["id"]), status.get("in_reply_to_id")
        if status_id in roots:
            return roots[status_id]
        if not parent:
            root = status_id
        elif str(parent) in roots:
            root = roots[str(parent)]
        else:
            try:
                context = self.get_json(f"api/v1/statuses/{quote(status_id, safe='')}/context")
            except NotAllowed:  # deleted meanwhile: its parent is the best root we know
                context = {}
            ancestors = [a for a in (context or {}).get("ancestors") or [] if a.get("id")]
            root = str(ancestors[0]["id"]) if ancestors else str(parent)
            for ancestor in ancestors:
                roots.setdefault(str(ancestor["id"]), root)
        roots.pop(status_id, None)
        roots[status_id] = root
        return root

    # -- write --------------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        self.require("reply")
        text = (text or "").strip()
        if not text:
            raise NotAllowed("Mastodon cannot post an empty reply")
        status = self.get_json(f"api/v1/statuses/{quote(target.external_id, safe='')}")
        acct = (status.get("account") or {}).get("acct") or (target.author_handle or "")
        acct = acct.lstrip("@")
        visibility = status.get("visibility")
        if target.kind == "dm" or visibility not in VISIBILITIES:
            visibility = "direct" if target.kind == "dm" else "public"
        body = text if not acct or mentions_account(text, acct) else f"@{acct} {text}"
        response = self.call(
            "POST",
            "api/v1/statuses",
            json={"status": body, "in_reply_to_id": target.external_id, "visibility": visibility},
            headers={"Idempotency-Key": idempotency_key(target, text)},
        )
        created = self.json_of(response)
        if not isinstance(created, dict) or not created.get("id"):
            raise Transient("Mastodon answered the reply without a status id")
        return str(created["id"])

    def moderate(self, target: Target, action: str) -> None:
        self.require(action)
        if action == "like":
            self.call("POST", f"api/v1/statuses/{quote(target.external_id, safe='')}/favourite")


def _with(params: dict[str, Any], mark: str | None) -> dict[str, Any]:
    return params | {"min_id": mark} if mark is not None else params


def status_text(status: dict) -> str:
    """A status as plain text: content warning, text, then its attachments' links."""
    text = html_to_text(status.get("content"))
    spoiler = (status.get("spoiler_text") or "").strip()
    if spoiler:
        text = f"CW: {spoiler}\n\n{text}"
    for media in status.get("media_attachments") or []:
        link = media.get("url") or media.get("remote_url")
        if link:
            described = media.get("description")
            text += f"\n[{media.get('type') or 'media'}] {link}" + (
                f" ({described})" if described else ""
            )
    return text.strip()[:MAX_BODY_CHARS]
