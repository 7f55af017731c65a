"""Ingest: dedupe, edits, threading, reopen window, atomic batches with their cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Author
from inbox import db, ingest
from inbox.models import Channel, Contact, Event, Identity, Item, Ticket
from tests.support import count, make_item


def tickets():
    with db.transaction() as s:
        return s.scalars(sa.select(Ticket).order_by(Ticket.id)).all()


def test_new_dm_opens_a_ticket_with_its_contact(world):
    channel = world.channel()
    result = ingest.ingest_batch(channel.id, [make_item("m1", "dm", thread_id="conv-1")])
    assert (result.created, result.tickets_created) == (1, 1)
    [ticket] = tickets()
    assert ticket.status == "open" and ticket.item_count == 1 and ticket.author_name == "Ana"
    assert ticket.preview == "message m1" and ticket.thread_key == "dm:conv-1"
    assert count(Contact) == 1 and count(Identity) == 1
    assert [e["type"] for e in result.events] == ["ticket_created", "item_added"]


def test_same_batch_twice_adds_nothing(world):
    channel = world.channel()
    batch = [make_item(f"m{i}", "dm", thread_id=f"conv-{i % 3}") for i in range(10)]
    ingest.ingest_batch(channel.id, batch)
    before = (count(Item), count(Ticket), count(Event), count(Contact))
    again = ingest.ingest_batch(channel.id, batch)
    assert again.created == 0 and again.unchanged == 10 and again.events == []
    assert (count(Item), count(Ticket), count(Event), count(Contact)) == before


def test_item_edited_on_the_platform_updates_in_place(world):
    channel = world.channel()
    first = make_item("r1", "review", rating=2, body="Bof")
    ingest.ingest_batch(channel.id, [first])
    edited_at = first.created_at + timedelta(hours=1)
    result = ingest.ingest_batch(
        channel.id,
        [make_item("r1", "review", rating=5, body="Finalement super", edited_at=edited_at)],
    )
    assert result.edited == 1 and result.created == 0
    with db.transaction() as s:
        item = s.scalar(sa.select(Item))
    assert item.body == "Finalement super" and item.edited_at == edited_at
    assert item.rating == 5, "a reviewer who changes their stars changes the item's rating"
    assert count(Item) == 1 and [e["type"] for e in result.events] == ["item_edited"]


def test_failed_batch_leaves_no_rows_and_cursor_unmoved(world, monkeypatch):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("m0")], cursor={"page": 1})

    def explode(*args, **kwargs):
        raise RuntimeError("crash half-way")

    monkeypatch.setattr(ingest, "_bump_tickets", explode)  # after items were inserted
    with pytest.raises(RuntimeError):
        ingest.ingest_batch(
            channel.id, [make_item("m1", thread_id="t2"), make_item("m2")], cursor={"page": 2}
        )
    assert count(Item) == 1 and count(Ticket) == 1
    with db.transaction() as s:
        assert s.get(Channel, channel.id).cursor == {"page": 1}


def test_cursor_is_saved_with_the_items(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("m1")], cursor={"since": "abc"})
    with db.transaction() as s:
        stored = s.get(Channel, channel.id)
    assert stored.cursor == {"since": "abc"} and stored.last_sync_at is not None


def test_stale_pull_does_not_move_the_cursor_back(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [], cursor={"seq": 5})
    ingest.ingest_batch(channel.id, [make_item("m1")], cursor={"seq": 3}, cursor_from={"seq": 1})
    with db.transaction() as s:
        assert s.get(Channel, channel.id).cursor == {"seq": 5}
    assert count(Item) == 1


def test_comment_replies_join_their_top_level_comment(world):
    channel = world.channel()
    ingest.ingest_batch(
        channel.id,
        [
            make_item("c1", "comment", post_id="p1"),
            make_item("c2", "comment", post_id="p1", thread_id="c1", parent_id="c1"),
            make_item("c3", "comment", post_id="p1"),
        ],
    )
    found = tickets()
    assert [t.item_count for t in found] == [2, 1]
    assert {t.post_id for t in found} == {"p1"}


def test_mentions_make_one_ticket_per_person_per_conversation(world):
    channel = world.channel()
    bob = Author(id="bob", name="Bob")
    ingest.ingest_batch(
        channel.id,
        [
            make_item("x1", "mention", thread_id="root"),
            make_item("x2", "mention", thread_id="root"),
            make_item("x3", "mention", thread_id="root", author=bob),
        ],
    )
    assert sorted(t.item_count for t in tickets()) == [1, 2]


def test_reposts_gather_in_one_digest_ticket_per_post(world):
    channel = world.channel()
    items = [
        make_item(f"rt{i}", "repost", post_id="p9", body="", author=Author(id=f"a{i}"))
        for i in range(5)
    ]
    ingest.ingest_batch(channel.id, [*items, make_item("q1", "quote", post_id="p9", body="")])
    [digest] = tickets()
    assert digest.is_digest and digest.item_count == 6 and digest.kind == "repost"


def test_recently_closed_ticket_reopens_on_a_new_message(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("m1", thread_id="conv")])
    _close(tickets()[0].id, datetime.now(UTC) - timedelta(days=1))
    result = ingest.ingest_batch(channel.id, [make_item("m2", thread_id="conv")])
    [ticket] = tickets()
    assert ticket.status == "open" and ticket.item_count == 2 and ticket.closed_at is None
    assert "ticket_reopened" in [e["type"] for e in result.events]


def test_message_after_the_reopen_window_starts_a_linked_ticket(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("m1", thread_id="conv")])
    old = tickets()[0]
    _close(old.id, datetime.now(UTC) - timedelta(days=30))
    ingest.ingest_batch(channel.id, [make_item("m2", thread_id="conv")])
    new = tickets()[1]
    assert new.previous_ticket_id == old.id and new.status == "open"
    assert tickets()[0].status == "closed"


def test_our_own_outbound_echo_never_opens_a_ticket(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("o1", "dm", thread_id="new", outbound=True)])
    assert count(Ticket) == 0
    ingest.ingest_batch(channel.id, [make_item("m1", thread_id="conv")])
    _close(tickets()[0].id, datetime.now(UTC))
    ingest.ingest_batch(channel.id, [make_item("o2", "dm", thread_id="conv", outbound=True)])
    [ticket] = tickets()
    assert ticket.status == "closed" and ticket.item_count == 2


@pytest.mark.parametrize("automation", [False, True])
def test_batch_costs_the_same_statements_for_10_or_300_items(world, app, automation):
    """Batches, not rows: analysis, near-duplicate lookup and rules included."""
    channel = world.channel()
    if automation:
        world.user("lea@x.example", "manager")
        manager = world.client("lea@x.example")
        rule = manager.post(
            "/api/rules",
            json={
                "name": "Colis",
                "conditions": [{"type": "keywords", "values": ["colis"]}],
                "actions": [{"type": "tag", "value": "livraison"}],
            },
        ).json
        manager.patch(f"/api/rules/{rule['id']}", json={"enabled": True, "version": 1})
    statements = []
    engine = app.extensions["db_engine"]

    def record(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    def run(prefix, n):
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            ingest.ingest_batch(
                channel.id,
                [
                    make_item(
                        f"{prefix}{i}",
                        "dm",
                        thread_id=f"{prefix}c{i}",
                        author=Author(id=f"{prefix}{i}"),
                        body=f"Bonjour, mon colis numéro {i} n'est jamais arrivé chez moi"
                        if automation
                        else f"message {i}",
                    )
                    for i in range(n)
                ],
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    assert run("a", 10) == run("b", 300)


def _close(ticket_id: int, when: datetime) -> None:
    with db.transaction() as s:
        s.execute(
            sa.update(Ticket).where(Ticket.id == ticket_id).values(status="closed", closed_at=when)
        )
