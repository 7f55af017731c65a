"""Web mention feeds: an alert service's RSS 2.0 feed and a forum's paged Atom feed.

- `/alerts/maison-lumiere.rss`: RSS 2.0 like the alert services (Alerti, Mention…) publish:
  the 50 latest web pages naming the brand (blogs, magazines), `guid`, `pubDate` (RFC 822),
  `dc:creator` when the page names its author, an HTML `description`. No paging (RSS has none).
  Alerts are keyword based, so some pages are false positives that do not name the brand.
- `/forum/t/maison-lumiere.atom`: a forum's Atom feed of posts in its Maison Lumière topics,
  paged per RFC 5005 (`?page=N`, `page_size` entries, `<link rel="next">` to older entries,
  `first`, `previous`, `last`).
- `/blog/`: an HTML page, not a feed (what a wrong URL gives).

Both feeds answer conditional GETs like a web server: `ETag` and `Last-Modified` on every
answer, `304 Not Modified` when `If-None-Match` matches (it takes precedence) or, without it,
when `If-Modified-Since` is not older than the last change. `honour_conditional = False` makes
the server ignore them (many do). Feeds are public: `authorized()` is always true; the fault
switches give the web server's answers: `expire_token()` → 401 with `WWW-Authenticate: Basic`,
`fail_feed(name, status)` → that status for one feed (403, 404, 410…), `rate_limit()` → 429 (or
`limit_status = 503`) with `Retry-After` in seconds.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from flask import Flask, Response, request

from connectors.sandbox.base import Simulator
from connectors.sandbox.traffic import Message

BRAND = "Maison Lumière"
ALERTS = "/alerts/maison-lumiere.rss"
FORUM = "/forum/t/maison-lumiere.atom"
FEEDS = {"alerts": ALERTS, "forum": FORUM}
RSS_WINDOW = 50
FORUM_HOST = "forum-mode.example"
SITES = [
    ("blog.modeetmoi.example", "Mode & Moi"),
    ("www.lesnouvellesdelamode.example", "Les Nouvelles de la Mode"),
    ("www.fashion-weekly.example", "Fashion Weekly"),
    ("www.petitsbudgets.example", "Petits Budgets"),
    ("carnet.dressing.example", "Le Carnet du Dressing"),
]
SPAM_SITES = [("best-replica-deals.example", "Best Deals 2026"), ("promo-luxe.example", "")]
TITLES = {
    "fr": [
        "Avis : {brand} tient-elle ses promesses ?",
        "{brand} : la nouvelle collection décryptée",
        "J'ai testé {brand} pendant un mois",
        "Commande chez {brand} : mon retour d'expérience",
        "Les pièces {brand} à shopper cette saison",
    ],
    "en": [
        "{brand} review: is it worth it?",
        "I tried {brand} so you don't have to",
        "{brand}'s new collection, reviewed",
    ],
}
SNIPPETS = {
    "fr": "… notre avis sur {brand} et ses best-sellers …",
    "en": "… our take on {brand} and its best sellers …",
}
TOPICS = [
    "{brand} : avis sur la qualité ?",
    "Délais de livraison chez {brand}",
    "{brand}, ça taille petit ou grand ?",
    "Retour et remboursement {brand}",
    "{brand} sizing, anyone?",
]
NOISE = [
    ("La Maison de la Lumière de Lyon rouvre ses portes", "Visites guidées tout l'été."),
    ("Fête des Lumières : le programme", "Les lumières de la maison commune éclairent la place."),
    ("Maison et lumière : 10 idées déco", "Comment faire entrer la lumière dans la maison."),
]


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]


def http_date(moment: float) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(moment, UTC), usegmt=True)


def atom_date(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class RssSimulator(Simulator):
    type = "rss"
    pushes = False

    def __init__(self, **kwargs: Any):
        self.entries: dict[str, list[dict]] = {"alerts": [], "forum": []}
        self.version = {"alerts": 0, "forum": 0}
        self.changed = {"alerts": time.time(), "forum": time.time()}
        self.failing: dict[str, int] = {}
        self.honour_conditional = True
        self.limit_status = 429
        self.not_modified = 0  # 304 answers given
        self._seq = int(time.time()) * 1000  # entry numbers never reused by a restart
        self._topics: list[dict] = []
        super().__init__(**kwargs)

    # -- the simulator contract ---------------------------------------------------------------

    def authorized(self) -> bool:
        return True  # public feeds

    def auth_error(self) -> Response:
        return Response(
            "<h1>401 Unauthorized</h1>",
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="Private feeds"'},
            content_type="text/html; charset=utf-8",
        )

    def rate_limited(self, reset_at: float) -> Response:
        wait = max(1, math.ceil(reset_at - time.time()))
        reason = "Too Many Requests" if self.limit_status == 429 else "Service Unavailable"
        return Response(
            f"<h1>{self.limit_status} {reason}</h1>",
            status=self.limit_status,
            headers={"Retry-After": str(wait)},
            content_type="text/html; charset=utf-8",
        )

    def channel_config(self) -> dict[str, Any]:
        return {
            "feeds": [self.base_url + ALERTS, self.base_url + FORUM],
            "keywords": "Maison Lumière, maisonlumiere",
        }

    def fail_feed(self, name: str, status: int | None) -> None:
        """Answer every read of one feed ('alerts' or 'forum') with `status` (None: recover)."""
        with self.lock:
            if status is None:
                self.failing.pop(FEEDS[name], None)
            else:
                self.failing[FEEDS[name]] = status

    # -- traffic ------------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        ids = []
        with self.lock:
            for _ in range(count):
                rng = self.traffic.rng
                if rng.random() < 0.15:
                    self._noise()
                if rng.random() < 0.35:
                    ids.append(self._alert())
                else:
                    ids.append(self._forum_post())
        return ids

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _touch(self, feed: str) -> None:
        self.version[feed] += 1
        self.changed[feed] = time.time()

    def _alert(self, message: Message | None = None) -> str:
        rng = self.traffic.rng
        message = message or self.traffic.message(tone=rng.choice(["praise", "complaint", None]))
        n = self._next()
        spam = message.tone == "spam"
        host, site = rng.choice(SPAM_SITES if spam else SITES)
        lang = message.author.lang if not message.author.bot else "fr"
        title = rng.choice(TITLES[lang]).format(brand=BRAND)
        link = f"https://{host}/{time.strftime('%Y/%m')}/{slug(title)}-{n}/"
        teaser = SNIPPETS[lang].format(brand=f"<b>{escape(BRAND)}</b>")
        summary = f"<p>{escape(message.text)}</p><p>{teaser}</p>"
        permalink = rng.random() < 0.5
        entry = {
            "id": link if permalink else f"urn:alert:{self.type}:{n}",
            "permalink": permalink,
            "title": title,
            "link": link,
            "author": message.author.name if not spam and rng.random() < 0.6 else None,
            "site": site,
            "summary": summary,
            "published": time.time(),
        }
        self.entries["alerts"].append(entry)
        self._touch("alerts")
        return entry["id"]

    def _noise(self) -> None:
        rng = self.traffic.rng
        title, text = rng.choice(NOISE)
        n = self._next()
        host, site = rng.choice(SITES)
        link = f"https://{host}/{slug(title)}-{n}/"
        self.entries["alerts"].append(
            {
                "id": f"urn:alert:{self.type}:{n}",
                "permalink": False,
                "title": title,
                "link": link,
                "author": None,
                "site": site,
                "summary": f"<p>{escape(text)}</p>",
                "published": time.time(),
            }
        )
        self._touch("alerts")

    def _forum_post(self) -> str:
        rng = self.traffic.rng
        if not self._topics or rng.random() < 0.3:
            title = TOPICS[len(self._topics) % len(TOPICS)].format(brand=BRAND)
            self._topics.append({"id": 4000 + len(self._topics), "title": title, "posts": 0})
            topic = self._topics[-1]
            message = self.traffic.message(tone=rng.choice(["question", "complaint"]))
        else:
            topic = rng.choice(self._topics)
            message = self.traffic.message()
        topic["posts"] += 1
        n = self._next()
        title = topic["title"] if topic["posts"] == 1 else f"Re: {topic['title']}"
        entry = {
            "id": f"tag:{FORUM_HOST},2026:post-{n}",
            "title": title,
            "link": f"https://{FORUM_HOST}/t/{slug(topic['title'])}/{topic['id']}#post-{n}",
            "author": message.author.handle,
            "summary": "".join(f"<p>{escape(p)}</p>" for p in message.text.split("\n")),
            "published": time.time(),
        }
        self.entries["forum"].append(entry)
        self._touch("forum")
        return entry["id"]

    # -- routes -------------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.add_url_rule(ALERTS, view_func=self._alerts_feed)
        app.add_url_rule(FORUM, view_func=self._forum_feed)
        app.add_url_rule("/blog/", view_func=self._blog)

    def _validators(self, feed: str, page: int = 1) -> tuple[str, str]:
        return f'W/"{feed}-{self.version[feed]}-p{page}"', http_date(self.changed[feed])

    def _conditional(self, etag: str, last_modified: str) -> Response | None:
        """304 when the client's copy is current (If-None-Match wins over If-Modified-Since)."""
        if not self.honour_conditional:
            return None
        given = request.headers.get("If-None-Match")
        if given is not None:
            tags = {t.strip().removeprefix("W/") for t in given.split(",")}
            fresh = etag.removeprefix("W/") in tags or "*" in tags
        else:
            since = request.headers.get("If-Modified-Since")
            if not since:
                return None
            try:
                fresh = email.utils.parsedate_to_datetime(
                    last_modified
                ) <= email.utils.parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return None
        if not fresh:
            return None
        self.not_modified += 1
        return Response(status=304, headers={"ETag": etag, "Last-Modified": last_modified})

    def _answer(self, body: str, content_type: str, etag: str, last_modified: str) -> Response:
        return Response(
            body,
            content_type=content_type,
            headers={"ETag": etag, "Last-Modified": last_modified, "Cache-Control": "max-age=300"},
        )

    def _failure(self) -> Response | None:
        status = self.failing.get(request.path)
        if status is None:
            return None
        return Response(f"<h1>HTTP {status}</h1>", status=status, content_type="text/html")

    def _alerts_feed(self) -> Response:
        with self.lock:
            failed = self._failure()
            if failed is not None:
                return failed
            etag, last_modified = self._validators("alerts")
            unchanged = self._conditional(etag, last_modified)
            if unchanged is not None:
                return unchanged
            entries = list(reversed(self.entries["alerts"]))[:RSS_WINDOW]
        items = []
        for e in entries:
            creator = f"<dc:creator>{escape(e['author'])}</dc:creator>" if e["author"] else ""
            source = f"<source url={quoteattr(e['link'])}>{escape(e['site'])}</source>"
            items.append(
                "<item>"
                f"<title>{escape(e['title'])}</title>"
                f"<link>{escape(e['link'])}</link>"
                f'<guid isPermaLink="{"true" if e["permalink"] else "false"}">'
                f"{escape(e['id'])}</guid>"
                f"<pubDate>{http_date(e['published'])}</pubDate>"
                f"{creator}{source if e['site'] else ''}"
                f"<description>{escape(e['summary'])}</description>"
                "</item>"
            )
        base = request.host_url.rstrip("/")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>Alerte « {escape(BRAND)} »</title>"
            f"<link>{escape(base)}/alerts/</link>"
            f'<atom:link href={quoteattr(base + ALERTS)} rel="self" '
            'type="application/rss+xml"/>'
            f"<description>Nouvelles mentions de « {escape(BRAND)} » sur le web</description>"
            f"<language>fr</language><lastBuildDate>{last_modified}</lastBuildDate>"
            f"<ttl>15</ttl>{''.join(items)}</channel></rss>"
        )
        return self._answer(body, "application/rss+xml; charset=utf-8", etag, last_modified)

    def _forum_feed(self) -> Response:
        try:
            page = max(1, int(request.args.get("page", "1")))
        except ValueError:
            page = 1
        with self.lock:
            failed = self._failure()
            if failed is not None:
                return failed
            etag, last_modified = self._validators("forum", page)
            unchanged = self._conditional(etag, last_modified)
            if unchanged is not None:
                return unchanged
            newest_first = list(reversed(self.entries["forum"]))
            updated = self.changed["forum"]
        size = self.page_size
        pages = max(1, math.ceil(len(newest_first) / size))
        entries = newest_first[(page - 1) * size : page * size]
        me = request.host_url.rstrip("/") + FORUM
        links = [f'<link rel="self" href="{me}?page={page}"/>', f'<link rel="first" href="{me}"/>']
        links.append(f'<link rel="last" href="{me}?page={pages}"/>')
        if page < pages:
            links.append(f'<link rel="next" href="{me}?page={page + 1}"/>')
        if page > 1:
            links.append(f'<link rel="previous" href="{me}?page={page - 1}"/>')
        body_entries = [
            "<entry>"
            f"<id>{escape(e['id'])}</id>"
            f'<title type="text">{escape(e["title"])}</title>'
            f'<link rel="alternate" type="text/html" href={quoteattr(e["link"])}/>'
            f"<author><name>{escape(e['author'])}</name>"
            f"<uri>https://{FORUM_HOST}/u/{escape(e['author'])}</uri></author>"
            f"<published>{atom_date(e['published'])}</published>"
            f"<updated>{atom_date(e['published'])}</updated>"
            f'<summary type="html">{escape(e["summary"])}</summary>'
            "</entry>"
            for e in entries
        ]
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
            f"<id>tag:{FORUM_HOST},2026:topics/maison-lumiere</id>"
            f"<title>Forum Mode &amp; Style – {escape(BRAND)}</title>"
            f"<updated>{atom_date(updated)}</updated>"
            f'<link rel="alternate" type="text/html" href="https://{FORUM_HOST}/tags/maison-lumiere"/>'
            f"{''.join(links)}{''.join(body_entries)}</feed>"
        )
        return self._answer(body, "application/atom+xml; charset=utf-8", etag, last_modified)

    def _blog(self) -> Response:
        return Response(
            "<!doctype html><html><head><title>Blog</title></head>"
            "<body><h1>Le blog</h1><p>Pas de flux ici.</p></body></html>",
            content_type="text/html; charset=utf-8",
        )
