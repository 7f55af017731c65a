"""The server side of keyboard triage: urgency order, settings, canned replies, presence,
snoozes that wake up, and @mentions in notes."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from inbox import db, ingest, tickets
from inbox.db import utcnow
from inbox.models import Event, Ticket
from tests.inbox.test_realtime import connect, login
from tests.support import LiveServer, World, make_item


def ids(rows):
    return [row["id"] for row in rows]


def test_urgency_puts_the_earliest_due_first_then_the_longest_wait(world):
    world.user("ana@example.com")
    channel = world.channel()
    now = utcnow()
    # a DM (1 h target) and a comment (2 h) written at the same time, and a repost (no clock)
    ingest.ingest_batch(
        channel.id,
        [
            make_item("c1", "comment", thread_id="c1", created_at=now - timedelta(minutes=10)),
            make_item("d1", "dm", thread_id="conv", created_at=now - timedelta(minutes=10)),
            make_item("r1", "repost", post_id="p", created_at=now - timedelta(minutes=30)),
        ],
    )
    with db.transaction() as s:
        by_kind = {t.kind: t.id for t in s.scalars(sa.select(Ticket))}
    ana = world.client("ana@example.com")
    first = ana.get("/api/tickets?sort=urgency&limit=2").json
    rest = ana.get(f"/api/tickets?sort=urgency&limit=2&cursor={first['next_cursor']}").json
    order = ids(first["tickets"]) + ids(rest["tickets"])
    due_at = [r["first_response_due_at"] for r in first["tickets"] + rest["tickets"]]
    if due_at[0] == due_at[1]:  # outside business hours both clocks start at the next opening
        assert set(order[:2]) == {by_kind["dm"], by_kind["comment"]}
    else:
        assert order[:2] == [by_kind["dm"], by_kind["comment"]]
    assert order[2] == by_kind["repost"] and rest["next_cursor"] is None
    assert ana.get("/api/tickets?sort=urgency&cursor=bm9wZQ==").status_code == 400


def test_priority_filter(world):
    world.user("ana@example.com")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("d1", "dm", thread_id="a")])
    ana = world.client("ana@example.com")
    assert ana.get("/api/tickets?priority=urgent").json["tickets"] == []
    assert len(ana.get("/api/tickets?priority=normal").json["tickets"]) == 1
    assert ana.get("/api/tickets?priority=whenever").status_code == 400


def test_a_cm_sets_language_timezone_and_shortcuts(world):
    world.user("ana@example.com")
    ana = world.client("ana@example.com")
    changed = ana.patch("/api/me", json={"locale": "en", "shortcuts": False})
    assert changed.status_code == 200
    assert changed.json["locale"] == "en" and changed.json["shortcuts"] is False
    bad = ana.patch("/api/me", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "timezone"
    assert ana.patch("/api/me", json={"role": "admin"}).status_code == 400


def test_canned_replies_are_filled_in_for_the_ticket(world):
    world.user("manon@example.com", "manager")
    world.user("ana@example.com")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("d1", "dm", thread_id="a")])
    with db.transaction() as s:
        ticket_id = s.scalar(sa.select(Ticket.id))
    manon, ana = world.client("manon@example.com"), world.client("ana@example.com")
    body = "Bonjour {first_name}, merci pour votre message ! {agent_first_name} ({unknown})"
    assert ana.post("/api/canned-replies", json={"title": "Merci", "body": body}).status_code == 403
    assert (
        manon.post("/api/canned-replies", json={"title": "Merci", "body": body}).status_code == 201
    )
    listed = ana.get(f"/api/canned-replies?ticket_id={ticket_id}").json
    # make_item's author is Ana; unknown variables stay visible so nobody sends them blindly
    assert listed[0]["rendered"] == "Bonjour Ana, merci pour votre message ! Ana ({unknown})"


def test_a_note_mentioning_a_teammate_tells_them(world):
    world.user("ana@example.com")
    world.user("camille.martin@example.com")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("d1", "dm", thread_id="a")])
    with db.transaction() as s:
        ticket_id = s.scalar(sa.select(Ticket.id))
    ana = world.client("ana@example.com")
    ana.post(f"/api/tickets/{ticket_id}/notes", json={"text": "@camille.martin tu peux voir ?"})
    with db.transaction() as s:
        mention = s.scalar(sa.select(Event).where(Event.type == "mentioned"))
        camille_id = s.scalar(sa.text("select id from users where email like 'camille%'"))
    assert mention is not None and mention.data["user_id"] == camille_id


def test_snoozed_tickets_wake_up_when_their_time_comes(world):
    ana = world.user("ana@example.com")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("d1", "dm", thread_id="a")])
    with db.transaction() as s:
        ticket = s.scalar(sa.select(Ticket))
    until = utcnow() + timedelta(hours=1)
    tickets.update_ticket(ana, ticket.id, {"version": ticket.version, "snoozed_until": until})
    db.session().commit()
    assert tickets.wake_snoozed(utcnow()) == 0
    assert tickets.wake_snoozed(until + timedelta(seconds=1)) == 1
    with db.transaction() as s:
        woken = s.get(Ticket, ticket.id)
        assert woken.status == "open" and woken.snoozed_until is None
        assert s.scalar(sa.select(Event.type).where(Event.type == "unsnoozed")) == "unsnoozed"


def test_presence_is_relayed_to_teammates_only(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        world.user("bob@example.com")
        world.user("olga@example.com", teams=("Other",))
        channel = world.channel("Support")
        ingest.ingest_batch(channel.id, [make_item("d1", "dm", thread_id="a")])
        with db.transaction() as s:
            ticket_id = s.scalar(sa.select(Ticket.id))
    with LiveServer(live_app) as server:
        ana, _ = connect(server, login(server, "ana@example.com"))
        bob_client = __import__("socketio").Client(reconnection=False)
        import queue as queue_mod

        seen: queue_mod.Queue = queue_mod.Queue()
        bob_http = login(server, "bob@example.com")
        bob_client.on("presence", seen.put)
        cookies = "; ".join(f"{k}={v}" for k, v in bob_http.cookies.items())
        bob_client.connect(server.url, headers={"Cookie": cookies}, transports=["websocket"])
        olga, _ = connect(server, login(server, "olga@example.com"))
        try:
            refused = olga.call("presence", {"ticket_id": ticket_id, "state": "typing"})
            assert refused["ok"] is False, "a ticket of another team stays invisible"
            assert ana.call("presence", {"ticket_id": ticket_id, "state": "typing"})["ok"]
            got = seen.get(timeout=3)
            assert got["ticket_id"] == ticket_id and got["state"] == "typing"
            assert got["name"] == "Ana"
            assert seen.empty(), "olga's attempt reached nobody"
        finally:
            for client in (ana, bob_client, olga):
                client.disconnect()
