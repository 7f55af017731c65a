"""RSS and Atom feeds: web mentions from blogs, forums and alert services.

Reads one or more public feeds (a blog's or forum's feed, a Google Alerts, Mention or Alerti
alert feed) and turns each entry into a `mention`. Reading only: nothing can be answered or
moderated through a feed, so the connector has no capabilities.

- Config: `feeds` (one or more absolute http(s) URLs: a list, or one string with a URL per line
  or comma separated) and optional `keywords` (comma separated): when set, only entries whose
  title, text or link contain one of them are kept (case and accents ignored). There is no
  `api_base`: every feed URL is absolute and each is called on its own host.
- Pull: one feed page per call. The first page of each feed is fetched with a conditional GET
  (`If-None-Match` / `If-Modified-Since` from the last sync; `304 Not Modified` ends the feed at
  once). RSS has no paging; Atom paged feeds (RFC 5005) announce older pages with
  `<link rel="next">`, followed on the feed's own host only, while every entry of a page is new
  (a page with an entry already seen means the rest is known), at most `MAX_PAGES` deep.
- Cursor: per feed the `ETag`, `Last-Modified` and a bounded list of short hashes of the entry
  ids already seen (feeds repeat their recent entries on every read; servers that ignore the
  conditional headers are still read without duplicates). Validators and seen ids move only when
  a feed has been read to its end.
- Items: `external_id` and `thread_id` = the entry id (Atom `id`, RSS `guid`, else its link);
  author = the entry's author, or the site's host when it names none (Google Alerts, most alert
  services); body = the summary (else the content) as plain text; subject = the title; url = the
  link (Google Alerts' redirect links are unwrapped); created_at = published, else updated.
- Errors: 429, or 503 with `Retry-After` → RateLimited; 401 → AuthExpired (the feed now asks for
  a login: a private feed whose key in the URL changed; the channel waits for a new address);
  403 → PermissionDenied; 404/410 → NotAllowed naming the feed to fix or remove. A feed that
  keeps failing stops the channel's sync at that feed (shown on the channel) until it is fixed
  or removed from the config.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from calendar import timegm
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import feedparser
import requests
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from connectors import register
from connectors.base import (
    MAX_BODY_CHARS,
    AuthExpired,
    Author,
    Batch,
    ConnectorError,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    RateLimited,
)
from connectors.http import HttpConnector, retry_after_seconds
from connectors.text import html_to_text

MAX_FEEDS = 20
MAX_KEYWORDS = 20
MAX_PAGES = 20  # older pages of one paged feed read in one sync
MAX_SEEN = 500  # entry hashes remembered per feed
MAX_FEED_BYTES = 5_000_000
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


class FeedList(fields.Field):
    """One or more absolute http(s) URLs: a list, or a string with one per line or comma."""

    url = validate.URL(schemes={"http", "https"}, require_tld=False, error="not an http(s) URL")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if isinstance(value, str):
            value = [v for v in re.split(r"[\s,]+", value) if v]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("give feed URLs as a list or one per line")
        urls: list[str] = []
        for raw in value:
            url = raw.strip()
            try:
                self.url(url)
            except ValidationError as exc:
                raise ValidationError(f"{url}: not an http(s) feed URL") from exc
            if url not in urls:
                urls.append(url)
        if not 1 <= len(urls) <= MAX_FEEDS:
            raise ValidationError(f"give 1 to {MAX_FEEDS} feed URLs")
        return urls


def split_keywords(value: str | None) -> list[str]:
    return [k.strip() for k in (value or "").split(",") if k.strip()]


def _validate_keywords(value: str) -> None:
    words = split_keywords(value)
    if len(words) > MAX_KEYWORDS:
        raise ValidationError(f"give at most {MAX_KEYWORDS} keywords")
    if any(len(w) < 2 or len(w) > 100 for w in words):
        raise ValidationError("each keyword needs 2 to 100 characters")


class RssConfig(Schema):
    class Meta:
        unknown = RAISE

    feeds = FeedList(
        required=True,
        error_messages={"required": "Give at least one RSS or Atom feed URL."},
        metadata={"description": "Feed URLs (RSS or Atom), one per line"},
    )
    keywords = fields.String(
        load_default="",
        validate=_validate_keywords,
        metadata={"description": "Keep only entries mentioning one of these (comma separated)"},
    )


def fold(text: str) -> str:
    """Lower case without accents, for keyword matching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def entry_hash(entry_id: str) -> str:
    return hashlib.sha256(entry_id.encode()).hexdigest()[:16]


def unwrap_link(link: str | None) -> str | None:
    """The article behind a Google Alerts redirect (`https://www.google.com/url?…&url=…`)."""
    if not link or not link.startswith(("http://", "https://")):
        return None
    parts = urlsplit(link)
    if parts.hostname in ("www.google.com", "google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("url") or parse_qs(parts.query).get("q")
        if target and target[0].startswith(("http://", "https://")):
            return target[0]
    return link


def _moment(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(timegm(parsed), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _own(entry: Any, key: str) -> Any:
    """An entry's own `updated*` value (feedparser would answer with `published*` instead)."""
    return dict.get(entry, key)  # the plain lookup, without feedparser's fallback


def _bounded_id(value: str) -> str:
    return value if len(value) <= 255 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@register
class RssConnector(HttpConnector):
    type = "rss"
    label = "RSS / Atom feeds"
    capabilities = frozenset()
    config_schema = RssConfig
    polls = True
    default_api_base = "https://feeds.invalid"  # unused: each feed URL is absolute

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.feeds: list[str] = list(self.config["feeds"])
        self.keywords = [fold(k) for k in split_keywords(self.config.get("keywords"))]
        self.http.headers["Accept"] = ACCEPT

    def url(self, path: str) -> str:
        """Feed URLs are absolute and each lives on its own host; only http(s) is fetched."""
        if urlsplit(path).scheme not in ("http", "https"):
            raise ConnectorError(f"not an http(s) feed URL: {path}")
        return path

    def raise_error(self, response: requests.Response) -> None:
        status, url = response.status_code, response.url
        host = urlsplit(url).netloc
        if status == 429 or (status == 503 and response.headers.get("Retry-After")):
            wait = retry_after_seconds(response, default=300.0)
            raise RateLimited(wait, f"{host} asks to wait {wait:.0f} s before reading its feed")
        if status == 401:
            raise AuthExpired(
                f"The feed {url} now asks for a login (HTTP 401): if its address holds a private "
                "key, copy the new address into the channel"
            )
        if status == 403:
            raise PermissionDenied(f"{host} refuses to serve the feed {url} (HTTP 403)")
        if status in (404, 410):
            raise NotAllowed(
                f"The feed {url} no longer exists (HTTP {status}): update or remove it"
            )
        super().raise_error(response)

    # -- check --------------------------------------------------------------------------------

    def check(self) -> str:
        titles = []
        for feed in self.feeds:
            parsed = self._parse(self.call("GET", feed), feed)
            titles.append(html_to_text(parsed.feed.get("title")) or urlsplit(feed).netloc)
        count = len(titles)
        return f"Reading {count} feed{'s' if count > 1 else ''}: " + "; ".join(titles)

    # -- pull ---------------------------------------------------------------------------------

    def pull(self, cursor: Any) -> Batch:
        state = dict(cursor) if isinstance(cursor, dict) else {}
        known = {k: dict(v) for k, v in (state.get("feeds") or {}).items() if k in self.feeds}
        run = dict(state.get("run") or {})
        todo = [f for f in run.get("todo") or [] if f in self.feeds]
        if not todo:
            todo, run = list(self.feeds), {}
        feed = todo[0]
        if run.get("feed") != feed:
            run = {"feed": feed, "page": None, "depth": 0, "fresh": [], "etag": None, "lm": None}
        memory = known.setdefault(feed, {})
        page = run["page"] or feed

        headers = {}
        if run["page"] is None:
            if memory.get("etag"):
                headers["If-None-Match"] = memory["etag"]
            if memory.get("modified"):
                headers["If-Modified-Since"] = memory["modified"]
        response = self.call("GET", page, headers=headers)
        items: list[NormalizedItem] = []
        next_page = None
        if response.status_code != 304:
            if run["page"] is None:
                run["etag"] = response.headers.get("ETag")
                run["lm"] = response.headers.get("Last-Modified")
            parsed = self._parse(response, page)
            seen = set(memory.get("seen") or []) | set(run["fresh"])
            all_new = bool(parsed.entries)
            for entry in parsed.entries:
                entry_id = self._entry_id(entry)
                if entry_id is None:
                    continue
                marker = entry_hash(entry_id)
                if marker in seen:
                    all_new = False
                    continue
                seen.add(marker)
                run["fresh"].append(marker)
                item = self._item(entry, entry_id, page)
                if self._wanted(item):
                    items.append(item)
            if all_new and run["depth"] + 1 < MAX_PAGES:
                next_page = self._next_link(parsed, page)

        if next_page:
            run.update(page=next_page, depth=run["depth"] + 1)
        else:  # the feed is read: its validators and seen ids move
            if response.status_code != 304:
                memory["etag"], memory["modified"] = run["etag"], run["lm"]
            memory["seen"] = ((memory.get("seen") or []) + run["fresh"])[-MAX_SEEN:]
            memory = {k: v for k, v in memory.items() if v}
            known[feed] = memory
            todo = todo[1:]
            run = {}
        if todo:
            run["todo"] = todo
        items.sort(key=lambda i: i.created_at)
        return Batch(items, {"v": 1, "feeds": known, "run": run or None}, more=bool(todo))

    def _parse(self, response: requests.Response, url: str) -> Any:
        if len(response.content) > MAX_FEED_BYTES:
            raise NotAllowed(f"The feed {url} is larger than {MAX_FEED_BYTES // 1_000_000} MB")
        parsed = feedparser.parse(
            io.BytesIO(response.content),  # bytes in a stream: never a URL or a file name
            response_headers={
                "content-location": url,
                "content-type": response.headers.get("Content-Type", "application/xml"),
            },
        )
        if not parsed.get("version") and not parsed.entries:
            raise NotAllowed(f"{url} did not answer with an RSS or Atom feed")
        return parsed

    @staticmethod
    def _next_link(parsed: Any, page: str) -> str | None:
        for link in parsed.feed.get("links") or []:
            if link.get("rel") == "next" and link.get("href"):
                target = urljoin(page, link["href"])
                here, there = urlsplit(page), urlsplit(target)
                if there.scheme in ("http", "https") and there.netloc == here.netloc:
                    return target if target != page else None
        return None

    @staticmethod
    def _entry_id(entry: Any) -> str | None:
        value = entry.get("id") or entry.get("guid") or entry.get("link")
        if not value:
            title, when = entry.get("title"), entry.get("published") or _own(entry, "updated")
            value = f"{title}|{when}" if title and when else None
        return _bounded_id(str(value).strip()) if value else None

    def _item(self, entry: Any, entry_id: str, page: str) -> NormalizedItem:
        link = unwrap_link(entry.get("link"))
        host = (urlsplit(link or page).hostname or "").removeprefix("www.")
        detail = entry.get("author_detail") or {}
        name = (detail.get("name") or entry.get("author") or "").strip()
        published = _moment(entry.get("published_parsed"))
        updated = _moment(_own(entry, "updated_parsed"))
        created = published or updated or datetime.now(UTC)  # undated: when first read
        summary = entry.get("summary")
        if not summary and entry.get("content"):
            summary = entry["content"][0].get("value")
        title = html_to_text(entry.get("title"))
        body = html_to_text(summary) or title
        return NormalizedItem(
            external_id=entry_id,
            kind="mention",
            author=Author(
                id=(f"{host}/{name}" if name else host or "unknown")[:255],
                handle=host[:255] or None,
                name=(name or host)[:255] or None,
            ),
            created_at=created,
            body=body[:MAX_BODY_CHARS],
            thread_id=entry_id,
            subject=title[:300] or None,
            edited_at=updated if published and updated and updated > published else None,
            url=link,
        )

    def _wanted(self, item: NormalizedItem) -> bool:
        if not self.keywords:
            return True
        text = fold(" ".join(filter(None, (item.subject, item.body, item.url))))
        return any(k in text for k in self.keywords)
