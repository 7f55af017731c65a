"""RSS / Atom connector against its simulator: the pull contract, conditional GET, paging."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import feedparser
import pytest
from marshmallow import ValidationError

import connectors.rss as rss
from connectors.base import (
    AuthExpired,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
    Unsupported,
)
from connectors.rss import RssConfig, RssConnector, unwrap_link
from connectors.sandbox.rss import ALERTS, FORUM, RssSimulator
from tests.connectors.contract import PullContract, build, sync


class TestRssPull(PullContract):
    type = "rss"

    def test_expired_token_raises_auth_expired(self, sim, connector):
        """Replaces the contract's test: feeds carry no token to expire.

        What stands for it is a feed that stops serving us: 401 (it now asks for a login, e.g. a
        private feed whose key in the URL changed) needs a person like an expired token; 403 is
        a refusal; 404/410 mean the feed is gone. Each error names the feed to fix.
        """
        sim.add_inbound(3)
        for status, error in ((401, AuthExpired), (403, PermissionDenied), (410, NotAllowed)):
            sim.fail_feed("forum", status)
            with pytest.raises(error, match=r"maison-lumiere\.atom"):
                sync(connector)
        sim.fail_feed("forum", None)
        items, _, _ = sync(connector)
        assert items

    def test_rate_limit_as_503_with_retry_after(self, sim, connector):
        expected = sim.add_inbound(4)
        sim.limit_status = 503
        sim.rate_limit(times=1, reset_in=2)
        with pytest.raises(RateLimited) as caught:
            sync(connector)
        assert 1 <= caught.value.retry_after <= 3
        time.sleep(caught.value.retry_after)
        assert sorted(i.external_id for i in sync(connector)[0]) == sorted(expected)


@pytest.fixture
def sim():
    simulator = RssSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("rss", sim)


def feed_reads(sim, path):
    return [c for c in sim.reads() if c.path == path]


# -- conditional GET ----------------------------------------------------------------------------


def test_an_unchanged_feed_answers_304_and_gives_nothing(sim, connector):
    sim.add_inbound(8)
    _, cursor, _ = sync(connector)
    before = len(sim.reads())
    items, cursor, _ = sync(connector, cursor)
    assert items == []
    assert sim.not_modified == 2, "both feeds answered 304 Not Modified"
    second = sim.reads()[before:]
    assert len(second) == 2, "a 304 ends the feed: no page is read after it"
    for call in second:
        assert call.headers.get("If-None-Match", "").startswith('W/"')
        assert call.headers.get("If-Modified-Since", "").endswith("GMT")

    later = sim.add_inbound(3)
    items, _, _ = sync(connector, cursor)
    assert sorted(i.external_id for i in items) == sorted(later)


def test_a_server_ignoring_conditional_get_gives_no_duplicate(sim, connector):
    sim.add_inbound(12)
    _, cursor, _ = sync(connector)
    sim.honour_conditional = False
    items, cursor, _ = sync(connector, cursor)
    assert items == [] and sim.not_modified == 0
    later = sim.add_inbound(2)
    items, _, _ = sync(connector, cursor)
    assert sorted(i.external_id for i in items) == sorted(later)


def test_the_validators_move_only_when_the_feed_is_read_to_its_end(sim, connector):
    sim.add_inbound(20)
    cursor, pulls = None, []
    while True:
        batch = connector.pull(cursor)
        pulls.append(batch)
        cursor = json.loads(json.dumps(batch.cursor))  # stored as JSON by the poller
        if not batch.more:
            break
    mid_run = [b.cursor for b in pulls if b.cursor["run"] and b.cursor["run"].get("page")]
    assert mid_run, "the paged forum feed needs several pulls"
    forum = connector.feeds[1]
    assert all("etag" not in c["feeds"].get(forum, {}) for c in mid_run)
    assert cursor["feeds"][forum]["etag"].startswith('W/"forum-')
    assert cursor["run"] is None


# -- paging -------------------------------------------------------------------------------------


def test_paged_atom_feed_is_followed_on_first_sync_and_only_as_needed_later(sim, connector):
    with sim.lock:
        first = [sim._forum_post() for _ in range(12)]
    items, cursor, _ = sync(connector)
    assert sorted(i.external_id for i in items) == sorted(first)
    pages = [c.query.get("page", "1") for c in feed_reads(sim, FORUM)]
    assert pages == ["1", "2", "3"]

    before = len(sim.reads())
    with sim.lock:
        later = [sim._forum_post() for _ in range(2)]
    items, _, _ = sync(connector, cursor)
    assert sorted(i.external_id for i in items) == sorted(later)
    forum_reads = [c for c in sim.reads()[before:] if c.path == FORUM]
    assert len(forum_reads) == 1, "page 1 holds known entries: older pages are not read"


def test_next_links_to_another_host_are_not_followed():
    connector = RssConnector(RssConfig().load({"feeds": ["https://forum.example/feed.atom"]}))
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        '<link rel="next" href="{}"/></feed>'
    )
    page = "https://forum.example/feed.atom"
    parsed = feedparser.parse(atom.format("https://evil.example/feed.atom?page=2").encode())
    assert connector._next_link(parsed, page) is None
    parsed = feedparser.parse(atom.format("/feed.atom?page=2").encode())
    assert connector._next_link(parsed, page) == "https://forum.example/feed.atom?page=2"


# -- items --------------------------------------------------------------------------------------


def test_entries_become_mentions_with_author_or_site_and_plain_text(sim, connector):
    with sim.lock:
        alert_id = sim._alert()
        sim.entries["alerts"][-1]["author"] = None
        sim.entries["alerts"][-1]["summary"] = (
            "<p>Top &amp; chic chez <b>Maison Lumière</b><script>alert('x')</script></p>"
            '<p><img src=x onerror="alert(1)">Suite<br/>ici</p>'
        )
        forum_id = sim._forum_post()
    items = {i.external_id: i for i in sync(connector)[0]}
    alert, post = items[alert_id], items[forum_id]
    assert alert.kind == post.kind == "mention"
    assert alert.thread_id == alert_id and post.thread_id == forum_id
    assert alert.body == "Top & chic chez Maison Lumière\n\nSuite\nici"
    assert "alert" not in alert.body and "<" not in alert.body
    host = alert.url.split("/")[2].removeprefix("www.")
    assert alert.author.id == host and alert.author.name == host
    entry = sim.entries["forum"][-1]
    assert post.author.name == entry["author"]
    assert post.author.id == f"forum-mode.example/{entry['author']}"
    assert post.url == entry["link"] and post.subject == entry["title"]
    assert post.created_at == datetime.fromtimestamp(int(entry["published"]), UTC)


def test_keywords_keep_only_entries_naming_the_brand(sim):
    with sim.lock:
        sim._noise()
        kept = sim._alert()
    filtered = build("rss", sim)
    assert [i.external_id for i in sync(filtered)[0]] == [kept]
    everything = build("rss", sim, keywords="")
    assert len(sync(everything)[0]) == 2


def test_keywords_ignore_case_and_accents(sim):
    with sim.lock:
        kept = sim._alert()
    connector = build("rss", sim, keywords="MAISON LUMIERE")
    assert [i.external_id for i in sync(connector)[0]] == [kept]


def test_google_alerts_links_are_unwrapped_and_the_site_is_the_author():
    redirect = "https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://www.mode.example/a/1"
    atom = f"""<feed xmlns="http://www.w3.org/2005/Atom"><title>Google Alert - lumière</title>
      <entry><id>tag:google.com,2013:googlealerts/feed:123</id>
      <title type="html">Les &lt;b&gt;Maison Lumière&lt;/b&gt; soldes</title>
      <link href="{redirect}&amp;ct=ga"/>
      <published>2026-03-01T08:00:00Z</published><updated>2026-03-01T09:30:00Z</updated>
      <content type="html">Les &lt;b&gt;soldes&lt;/b&gt; de
      &lt;b&gt;Maison Lumière&lt;/b&gt;</content>
      </entry></feed>"""
    connector = RssConnector(RssConfig().load({"feeds": "https://www.google.com/alerts/feeds/1"}))
    (entry,) = feedparser.parse(atom.encode()).entries
    item = connector._item(entry, connector._entry_id(entry), "https://www.google.com/alerts/x")
    assert item.url == "https://www.mode.example/a/1"
    assert item.author.id == "mode.example" and item.author.handle == "mode.example"
    assert item.subject == "Les Maison Lumière soldes"
    assert item.body == "Les soldes de Maison Lumière"
    assert item.external_id == "tag:google.com,2013:googlealerts/feed:123"
    assert item.created_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert item.edited_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_unwrap_link_leaves_ordinary_links_and_refuses_other_schemes():
    assert unwrap_link("https://blog.example/a") == "https://blog.example/a"
    assert unwrap_link("javascript:alert(1)") is None
    assert unwrap_link("https://www.google.com/url?url=javascript:alert(1)").startswith("https://")


def test_seen_ids_are_bounded(sim, connector, monkeypatch):
    monkeypatch.setattr(rss, "MAX_SEEN", 6)
    sim.add_inbound(20)
    _, cursor, _ = sync(connector)
    assert all(len(f["seen"]) <= 6 for f in cursor["feeds"].values())
    assert len(json.dumps(cursor)) < 2000


# -- failures and config ------------------------------------------------------------------------


def test_a_page_that_is_not_a_feed_is_refused(sim):
    connector = build("rss", sim, feeds=[sim.base_url + "/blog/"])
    with pytest.raises(NotAllowed, match="not answer with an RSS or Atom feed"):
        connector.pull(None)


def test_a_failing_feed_stops_the_sync_until_it_is_removed_from_the_config(sim, connector):
    sim.add_inbound(6)
    _, cursor, _ = sync(connector)
    later = sim.add_inbound(4)
    sim.fail_feed("forum", 410)
    batch = connector.pull(cursor)  # the alerts feed is read; the forum comes next
    assert batch.more
    with pytest.raises(NotAllowed, match="no longer exists"):
        connector.pull(batch.cursor)
    only_alerts = build("rss", sim, feeds=[sim.base_url + ALERTS])
    items, cursor, _ = sync(only_alerts, batch.cursor)
    assert list(cursor["feeds"]) == [sim.base_url + ALERTS]
    got = {i.external_id for i in batch.items} | {i.external_id for i in items}
    assert got == {i for i in later if not i.startswith("tag:")}, "alerts: each once"


def test_config_accepts_one_url_per_line_and_refuses_other_schemes():
    loaded = RssConfig().load({"feeds": "https://a.example/feed\nhttp://b.example/rss, "})
    assert loaded["feeds"] == ["https://a.example/feed", "http://b.example/rss"]
    for bad in ("file:///etc/passwd", "ftp://a.example/feed", "javascript:alert(1)", "feed"):
        with pytest.raises(ValidationError) as caught:
            RssConfig().load({"feeds": [bad]})
        assert "not an http(s) feed URL" in caught.value.messages["feeds"][0]
    with pytest.raises(ValidationError) as caught:
        RssConfig().load({})
    assert "feed URL" in caught.value.messages["feeds"][0]
    with pytest.raises(ValidationError):
        RssConfig().load({"feeds": "https://a.example/feed", "api_base": "https://x.example"})
    with pytest.raises(ValidationError):
        RssConfig().load({"feeds": "https://a.example/feed", "keywords": "a"})


def test_reading_only(sim, connector):
    assert connector.capabilities == frozenset()
    assert connector.secret_fields() == set()
    before = len(sim.calls)
    with pytest.raises(Unsupported, match="cannot reply"):
        connector.reply(Target(external_id="x", kind="mention"), "merci")
    assert len(sim.calls) == before


def test_check_names_the_feeds(sim, connector):
    assert connector.check() == (
        "Reading 2 feeds: Alerte « Maison Lumière »; Forum Mode & Style – Maison Lumière"
    )
