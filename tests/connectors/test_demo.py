"""Tests for the demo connector: backlog, incremental pulls, determinism and content mix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError

from connectors import connector_class
from connectors.base import INBOUND_KINDS, NormalizedItem, Target, Unsupported
from connectors.demo import AUTHORS, BRAND_POSTS, LANGS, DemoConnector, generate

T0 = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


class ClockedDemo(DemoConnector):
    """A demo connector whose clock the test moves by hand."""

    clock = T0

    def now(self) -> datetime:
        """Return the test's clock."""
        return self.clock


def seq_of(item: NormalizedItem) -> int:
    """Return the sequence number in a demo external id."""
    return int(item.external_id.removeprefix("demo-"))


def content(item: NormalizedItem) -> tuple:
    """Return everything about an item except when it happened."""
    return item.kind, item.author, item.body, item.thread_id, item.post_id, item.parent_id


def roundtrip(cursor: object) -> object:
    """Pass a cursor through JSON, as the poller stores it."""
    return json.loads(json.dumps(cursor))


def test_registered_with_defaults():
    assert connector_class("demo") is DemoConnector
    conn = DemoConnector({})
    assert conn.settings == {"seed": 7, "rate": 12.0, "backlog": 40}
    assert DemoConnector.polls and DemoConnector.secret_fields() == set()


def test_config_rejects_unknown_and_out_of_range():
    with pytest.raises(ValidationError):
        DemoConnector({"nope": 1})
    with pytest.raises(ValidationError):
        DemoConnector({"rate": 601})


def test_first_pull_yields_backlog_in_the_past_and_valid():
    conn = ClockedDemo({"backlog": 60})
    batch = conn.pull(None)
    assert len(batch.items) == 60
    assert [seq_of(i) for i in batch.items] == list(range(1, 61))
    times = [i.created_at for i in batch.items]
    assert times == sorted(times)
    assert all(T0 - timedelta(hours=7) < t < T0 for t in times)
    assert all(t.tzinfo is not None for t in times)
    for item in batch.items:
        assert NormalizedItem.from_dict(item.to_dict()) == item
    assert roundtrip(batch.cursor) == {"seq": 60, "at": T0.isoformat()}


def test_later_pull_continues_without_gap_or_overlap():
    conn = ClockedDemo({"backlog": 10, "rate": 12})
    first = conn.pull(None)
    conn.clock = T0 + timedelta(minutes=2, seconds=30)
    second = conn.pull(roundtrip(first.cursor))
    assert [seq_of(i) for i in second.items] == list(range(11, 41))
    assert all(T0 <= i.created_at <= conn.clock for i in second.items)
    assert second.cursor["seq"] == 40
    conn.clock += timedelta(minutes=1)
    third = conn.pull(roundtrip(second.cursor))
    assert [seq_of(i) for i in third.items] == list(range(41, 53))
    assert min(i.created_at for i in third.items) >= max(i.created_at for i in second.items)


def test_fractional_time_accumulates():
    conn = ClockedDemo({"backlog": 0, "rate": 12})  # one item every 5 seconds
    cursor = conn.pull(None).cursor
    assert cursor == {"seq": 0, "at": T0.isoformat()}
    conn.clock = T0 + timedelta(seconds=3)
    batch = conn.pull(cursor)
    assert batch.items == [] and batch.cursor == cursor
    conn.clock = T0 + timedelta(seconds=8)
    batch = conn.pull(batch.cursor)
    assert [i.external_id for i in batch.items] == ["demo-1"]
    assert batch.cursor == {"seq": 1, "at": (T0 + timedelta(seconds=5)).isoformat()}


def test_long_pause_is_capped():
    conn = ClockedDemo({"backlog": 0, "rate": 60})
    cursor = conn.pull(None).cursor
    conn.clock = T0 + timedelta(hours=3)
    batch = conn.pull(cursor)
    assert len(batch.items) == 200
    assert batch.cursor == {"seq": 200, "at": conn.clock.isoformat()}


def test_zero_rate_produces_nothing_after_backlog():
    conn = ClockedDemo({"backlog": 5, "rate": 0})
    cursor = conn.pull(None).cursor
    conn.clock = T0 + timedelta(days=1)
    assert conn.pull(cursor).items == []


def test_same_seed_and_seq_give_same_item():
    a = generate(3, 100, 50, T0 - timedelta(hours=1), T0)
    b = generate(3, 100, 50, T0 - timedelta(hours=1), T0)
    assert a == b
    # The same seq in another batch and time window keeps its content.
    c = generate(3, 120, 5, T0, T0 + timedelta(minutes=1))
    for x, y in zip(a[20:25], c, strict=True):
        assert x.external_id == y.external_id and x.created_at != y.created_at
        assert content(x) == content(y)
    other_seed = generate(4, 100, 50, T0 - timedelta(hours=1), T0)
    assert [i.body for i in other_seed] != [i.body for i in a]


def test_content_mix():
    items = generate(7, 1, 500, T0 - timedelta(hours=6), T0)
    kinds = {i.kind for i in items}
    assert kinds == {"comment", "dm", "mention", "repost", "review"}
    assert kinds <= set(INBOUND_KINDS)
    people = [i for i in items if i.author in AUTHORS]
    french = [i for i in people if LANGS[AUTHORS.index(i.author)] == "fr"]
    assert 0.55 < len(french) / len(people) < 0.85
    bodies = " ".join(i.body for i in items)
    assert all(w in bodies for w in ("Bonjour", "commande", "livraison"))
    assert all(w in bodies for w in ("order", "Thanks", "store"))
    assert any("http://" in i.body for i in items)  # some spam
    assert len({i.body for i in items}) > 200
    for item in items:
        NormalizedItem.from_dict(item.to_dict())
        assert "<" not in item.body


def test_threads_are_coherent():
    items = generate(7, 1, 2000, T0 - timedelta(hours=6), T0)
    by_id = {i.external_id: i for i in items}
    reviews = [i for i in items if i.kind == "review"]
    assert {i.rating for i in reviews} == {1, 2, 3, 4, 5}
    assert all(i.rating is None for i in items if i.kind != "review")
    assert all(i.thread_id == i.external_id for i in reviews)
    replies = [i for i in items if i.parent_id]
    assert replies and all(i.kind == "comment" for i in replies)
    for reply in replies:
        parent = by_id[reply.parent_id]
        assert parent.kind == "comment" and parent.parent_id is None
        assert reply.thread_id == parent.external_id and reply.post_id == parent.post_id
        assert seq_of(parent) < seq_of(reply)
    dm_authors: dict[str, set[str]] = {}
    for item in items:
        if item.kind == "dm":
            assert item.thread_id.startswith("conv-")
            dm_authors.setdefault(item.thread_id, set()).add(item.author.id)
        if item.kind == "mention":
            assert item.thread_id.startswith("tw-root-") and item.post_id is None
        if item.kind in ("comment", "repost"):
            assert item.post_id.startswith("post-")
    assert all(len(authors) == 1 for authors in dm_authors.values())
    assert max(sum(i.thread_id == t for i in items if i.kind == "dm") for t in dm_authors) > 3


def test_comments_and_reposts_show_the_brand_post_they_answer():
    items = generate(7, 1, 600, T0 - timedelta(hours=6), T0)
    texts: dict[str, str] = {}
    for item in items:
        if item.kind in ("comment", "repost"):
            assert item.post_text in BRAND_POSTS
            assert item.post_url == f"https://social.maisonlumiere.example/{item.post_id}"
            assert texts.setdefault(item.post_id, item.post_text) == item.post_text
        else:
            assert (item.post_text, item.post_url) == (None, None)
    assert len(texts) > 1


def test_reply_and_moderate():
    conn = DemoConnector({})
    target = Target(external_id="demo-3", kind="comment", thread_id="demo-3")
    ids = {conn.reply(target, "Merci !") for _ in range(5)}
    assert len(ids) == 5 and all(i.startswith("demo-out-") for i in ids)
    for action in ("hide", "unhide", "delete", "like"):
        assert conn.moderate(target, action) is None
    with pytest.raises(Unsupported):
        conn.moderate(target, "ban")
