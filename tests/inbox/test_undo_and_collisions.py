"""The undo window and the guard against replying twice."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from inbox import db, ingest
from inbox.models import Item, Outbox, SlaResponse, Ticket
from tests.conftest import build_app
from tests.support import World, make_item


@pytest.fixture
def slow_app(database_url, tmp_path):
    """Public actions wait one second before they leave."""
    app = build_app(database_url, tmp_path, UNDO_WINDOW=1)
    with app.app_context():
        yield app
    app.extensions["db_engine"].dispose()


def setup_ticket(app):
    world = World(app)
    world.user("ana@example.com")
    channel = world.channel(type_="demo", config={"backlog": 0})
    ingest.ingest_batch(channel.id, [make_item("m1", "comment", thread_id="c1")])
    with db.transaction() as s:
        ticket = s.scalar(sa.select(Ticket))
        item_id = s.scalar(sa.select(Item.id))
    return world.client("ana@example.com"), ticket.id, item_id


def outbox_row(outbox_id):
    with db.transaction() as s:
        return s.get(Outbox, outbox_id)


def test_a_reply_taken_back_in_its_window_never_leaves(slow_app):
    ana, ticket_id, _ = setup_ticket(slow_app)
    sent = ana.post(f"/api/tickets/{ticket_id}/replies", json={"text": "Oups, mauvais ticket"})
    assert sent.status_code == 202 and sent.json["state"] == "queued"
    assert sent.json["send_after"] is not None
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SlaResponse)) == 1
    undone = ana.post(f"/api/outbox/{sent.json['id']}/cancel")
    assert undone.status_code == 200 and undone.json["state"] == "cancelled"
    slow_app.extensions["jobs"].run_delayed()  # the send job comes and finds nothing to send
    assert outbox_row(sent.json["id"]).state == "cancelled"
    with db.transaction() as s:
        reply = s.get(Item, sent.json["reply_item_id"])
        ticket = s.get(Ticket, ticket_id)
        assert reply.deleted is True
        # the wait is running again: the cancelled reply does not count as a response
        assert s.scalar(sa.select(sa.func.count()).select_from(SlaResponse)) == 0
        assert ticket.first_response_at is None and ticket.first_response_due_at is not None


def test_after_the_window_it_is_sent_and_cannot_be_taken_back(slow_app):
    ana, _, item_id = setup_ticket(slow_app)
    hide = ana.post(f"/api/items/{item_id}/moderation", json={"action": "hide"})
    assert hide.status_code == 202 and hide.json["send_after"] is not None
    slow_app.extensions["jobs"].run_delayed()  # too early: it waits for its window
    assert outbox_row(hide.json["id"]).state == "queued"
    time.sleep(1.1)
    slow_app.extensions["jobs"].run_delayed()
    assert outbox_row(hide.json["id"]).state == "sent"
    late = ana.post(f"/api/outbox/{hide.json['id']}/cancel")
    assert (
        late.status_code == 409 and "déjà parti" in late.json["error"]["message"]
    )  # Ana reads French


def test_likes_do_not_wait(slow_app):
    ana, _, item_id = setup_ticket(slow_app)
    like = ana.post(f"/api/items/{item_id}/moderation", json={"action": "like"})
    assert like.json["send_after"] is None and outbox_row(like.json["id"]).state == "sent"


def test_only_the_author_or_a_manager_can_take_it_back(slow_app):
    ana, ticket_id, _ = setup_ticket(slow_app)
    World(slow_app).user("bob@example.com")
    bob = World(slow_app).client("bob@example.com")
    sent = ana.post(f"/api/tickets/{ticket_id}/replies", json={"text": "Bonjour"})
    assert bob.post(f"/api/outbox/{sent.json['id']}/cancel").status_code == 403


def test_a_reply_written_meanwhile_stops_the_second_one(world):
    world.user("ana@example.com")
    world.user("bob@example.com")
    channel = world.channel(type_="demo", config={"backlog": 0})
    ingest.ingest_batch(channel.id, [make_item("m1", "dm", thread_id="conv")])
    with db.transaction() as s:
        ticket_id = s.scalar(sa.select(Ticket.id))
        seen = s.scalar(sa.select(Item.id))
    ana, bob = world.client("ana@example.com"), world.client("bob@example.com")
    first = bob.post(f"/api/tickets/{ticket_id}/replies", json={"text": "Je m'en occupe"})
    assert first.status_code == 202
    second = ana.post(
        f"/api/tickets/{ticket_id}/replies", json={"text": "Bonjour !", "seen_item_id": seen}
    )
    assert second.status_code == 409
    assert "Bob a répondu pendant que vous écriviez" in second.json["error"]["message"]
    assert second.json["error"]["items"][0]["body"] == "Je m'en occupe"
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Outbox)) == 1
