"""SLA clocks with hand-computed due times: business hours, notes, pauses, policies, breaches.

Default policy (inbox/sla.py): DMs answered within 1 hour, comments within 2, in Paris business
hours (Monday–Friday 09:00–18:00, French public holidays closed). Times below are Paris time
(UTC+1 in November 2026, UTC+2 in May).
"""

from __future__ import annotations

import queue
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from inbox import db, ingest, sla
from inbox.db import utcnow
from inbox.models import Event, SlaPolicy, SlaResponse, Ticket
from inbox.outbox import add_note
from inbox.tickets import update_ticket
from tests.inbox.test_realtime import connect, login
from tests.support import LiveServer, World, make_item

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def ticket_of(external_id: str) -> Ticket:
    with db.transaction() as s:
        return s.scalar(sa.select(Ticket).order_by(Ticket.id.desc()))


def dm(external_id: str, at: datetime, thread: str = "conv-1"):
    return make_item(external_id, "dm", thread_id=thread, created_at=at)


def reply(ticket_id: int, at: datetime, agent_id: int | None = None) -> SlaResponse:
    with db.transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        response = sla.on_reply(s, ticket, at, agent_id)
        s.flush()
        s.expunge(response)
        return response


def change(user, ticket_id: int, **values):
    with db.transaction() as s:
        version = s.get(Ticket, ticket_id).version
    update_ticket(user, ticket_id, {"version": version, **values})
    db.session().commit()


def test_friday_1750_with_a_one_hour_target_is_due_monday_0950(world):
    channel = world.channel()
    # Friday 13 Nov 2026 17:50: 10 minutes left on Friday, 50 more from Monday 09:00
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 13, 17, 50))])
    ticket = ticket_of("m1")
    assert ticket.first_response_due_at == paris(2026, 11, 16, 9, 50)
    assert ticket.sla_next_check_at == paris(2026, 11, 16, 9, 35), "warned 15 minutes before"


def test_holidays_are_skipped(world):
    channel = world.channel()
    # Thursday 30 April 2026 17:30 (UTC+2): 30 min on Thursday, Friday 1 May is a holiday,
    # then the weekend: the other 30 min on Monday 4 May, due 09:30
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 4, 30, 17, 30))])
    assert ticket_of("m1").first_response_due_at == paris(2026, 5, 4, 9, 30)


def test_a_note_does_not_stop_the_clock_but_a_reply_does(world):
    world.user("ana@example.com")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 13, 17, 50))])
    ticket = ticket_of("m1")
    from inbox.models import User

    ana = db.session().scalar(sa.select(User))
    add_note(ana, ticket.id, "je regarde lundi")
    db.session().commit()
    assert ticket_of("m1").first_response_due_at == paris(2026, 11, 16, 9, 50)

    # answered Monday 09:20: 10 min on Friday + 20 min on Monday = 30 business minutes
    response = reply(ticket.id, paris(2026, 11, 16, 9, 20), ana.id)
    assert response.which == "first" and response.business_seconds == 30 * 60
    assert response.wall_seconds == (2 * 86400 + 15 * 3600 + 30 * 60)
    assert response.target_seconds == 3600 and response.breached is False
    after = ticket_of("m1")
    assert after.first_response_at == paris(2026, 11, 16, 9, 20)
    assert after.first_response_due_at is None and after.sla_next_check_at is None


def test_the_next_message_starts_the_next_response_clock(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 16, 10, 0))])
    ticket_id = ticket_of("m1").id
    reply(ticket_id, paris(2026, 11, 16, 10, 30))
    ingest.ingest_batch(channel.id, [dm("m2", paris(2026, 11, 16, 16, 0))])
    ticket = ticket_of("m2")
    assert ticket.id == ticket_id
    # 16:00 + 1 h = 17:00 the same day
    assert ticket.next_response_due_at == paris(2026, 11, 16, 17, 0)
    response = reply(ticket_id, paris(2026, 11, 17, 9, 30))
    # 16:00 → 18:00 is 2 h, then 09:00 → 09:30: 2 h 30 of business time, over the 1 h target
    assert response.which == "next" and response.business_seconds == 2.5 * 3600
    assert response.breached is True


def test_pending_time_is_not_counted(world):
    ana = world.user("ana@example.com")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 16, 10, 0))])
    ticket_id = ticket_of("m1").id
    with db.transaction() as s:  # 10:10 → 11:10 pending (waiting for the customer's order number)
        ticket = s.get(Ticket, ticket_id)
        for key, value in sla.on_change(
            s, ticket, {"status": "pending"}, paris(2026, 11, 16, 10, 10)
        ).items():
            setattr(ticket, key, value)
        ticket.status = "pending"
    assert ticket_of("m1").sla_next_check_at is None, "a paused clock raises nothing"
    with db.transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        for key, value in sla.on_change(
            s, ticket, {"status": "open"}, paris(2026, 11, 16, 11, 10)
        ).items():
            setattr(ticket, key, value)
        ticket.status = "open"
    # due 11:00 moved by the hour of pause
    assert ticket_of("m1").first_response_due_at == paris(2026, 11, 16, 12, 0)
    # 10:00 → 11:30 is 90 minutes, 60 of them pending: 30 minutes counted
    response = reply(ticket_id, paris(2026, 11, 16, 11, 30), ana.id)
    assert response.business_seconds == 30 * 60 and not response.breached


def test_closing_stores_the_resolution_time_less_pauses(world):
    ana = world.user("ana@example.com")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 16, 10, 0))])
    ticket_id = ticket_of("m1").id
    reply(ticket_id, paris(2026, 11, 16, 10, 5), ana.id)
    with db.transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        closing = sla.on_change(s, ticket, {"status": "closed"}, paris(2026, 11, 16, 15, 0))
    assert closing["resolution_seconds"] == 5 * 3600
    assert closing["resolution_business_seconds"] == 5 * 3600


def test_a_priority_policy_recomputes_the_due_time(world):
    admin = world.user("admin@example.com", "admin")
    channel = world.channel()
    with db.transaction() as s:
        s.add(SlaPolicy(name="Urgent", position=1, priority="urgent", first_response_minutes=15))
    # Monday 10:00, default 1 hour → 11:00
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 16, 10, 0))])
    ticket = ticket_of("m1")
    assert ticket.first_response_due_at == paris(2026, 11, 16, 11, 0)
    change(admin, ticket.id, priority="urgent")
    assert ticket_of("m1").first_response_due_at == paris(2026, 11, 16, 10, 15)
    change(admin, ticket.id, priority="normal")
    assert ticket_of("m1").first_response_due_at == paris(2026, 11, 16, 11, 0)


def test_the_sweep_warns_then_breaches_once_each(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 16, 10, 0))])
    ticket_id = ticket_of("m1").id
    assert sla.sweep(paris(2026, 11, 16, 10, 44)) == 0
    assert sla.sweep(paris(2026, 11, 16, 10, 45)) == 1  # 15 minutes before 11:00
    assert sla.sweep(paris(2026, 11, 16, 10, 50)) == 0
    assert sla.sweep(paris(2026, 11, 16, 11, 0)) == 1
    assert sla.sweep(paris(2026, 11, 16, 12, 0)) == 0
    with db.transaction() as s:
        kinds = list(
            s.scalars(sa.select(Event.type).where(Event.type.like("sla_%")).order_by(Event.id))
        )
        ticket = s.get(Ticket, ticket_id)
    assert kinds == ["sla_warning", "sla_breached"]
    assert ticket.first_response_breached is True and ticket.sla_next_check_at is None


def test_reposts_have_no_clock(world):
    channel = world.channel()
    ingest.ingest_batch(channel.id, [make_item("r1", "repost", post_id="p1", created_at=utcnow())])
    ticket = ticket_of("r1")
    assert ticket.first_response_due_at is None and ticket.sla_next_check_at is None


@pytest.mark.timeout(60)
def test_a_breach_reaches_the_screen_within_seconds_of_the_due_time(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        channel = world.channel("Support")
        with db.transaction() as s:  # a 1-minute, around-the-clock target
            s.add(
                SlaPolicy(name="Fast", position=1, business_hours=False, first_response_minutes=1)
            )
        # written 57 s ago: due in 3 s
        written = utcnow() - timedelta(seconds=57)
        ingest.ingest_batch(channel.id, [make_item("m1", "dm", created_at=written)])
        due = written + timedelta(minutes=1)
    live_app.extensions["jobs"].start_schedule()
    with LiveServer(live_app) as server:
        client, received = connect(server, login(server, "ana@example.com"))
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    payload = received.get(timeout=1)
                except queue.Empty:
                    continue
                breach = [e for e in payload["events"] if e["type"] == "sla_breached"]
                if breach:
                    late = (datetime.now(UTC) - due).total_seconds()
                    assert breach[0]["data"]["clock"] == "first_response"
                    assert late < 10, f"the breach came {late:.1f} s after the due time"
                    return
            pytest.fail("no breach event reached the socket")
        finally:
            client.disconnect()
            live_app.extensions["jobs"].stopping.set()


def test_admins_change_policies_and_open_tickets_follow(world):
    world.user("admin@example.com", "admin")
    world.user("agent@example.com", "agent")
    channel = world.channel()
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 16, 10, 0))])
    admin, agent = world.client("admin@example.com"), world.client("agent@example.com")
    policy = {"name": "DM express", "position": 1, "kind": "dm", "first_response_minutes": 30}
    assert agent.post("/api/sla/policies", json=policy).status_code == 403
    bad = admin.post("/api/sla/policies", json=policy | {"kind": "fax"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "kind"
    created = admin.post("/api/sla/policies", json=policy)
    assert created.status_code == 201
    # the recompute job ran: 10:00 + 30 min
    assert ticket_of("m1").first_response_due_at == paris(2026, 11, 16, 10, 30)
    patched = admin.patch(
        f"/api/sla/policies/{created.json['id']}", json={"first_response_minutes": 45}
    )
    assert patched.status_code == 200 and patched.json["kind"] == "dm", (
        "a patch changes only what it sends"
    )
    assert ticket_of("m1").first_response_due_at == paris(2026, 11, 16, 10, 45)
    assert admin.delete(f"/api/sla/policies/{created.json['id']}").status_code == 204
    assert ticket_of("m1").first_response_due_at == paris(2026, 11, 16, 11, 0)


def test_a_calendar_with_no_hours_is_refused_with_the_reason(world):
    world.user("admin@example.com", "admin")
    admin = world.client("admin@example.com")
    empty = {"mon": [], "tue": [], "wed": [], "thu": [], "fri": [], "sat": [], "sun": []}
    response = admin.post("/api/sla/calendars", json={"name": "Never", "hours": empty})
    assert (
        response.status_code == 400 and "aucune heure ouvrée" in response.json["error"]["message"]
    )
    ok = admin.post(
        "/api/sla/calendars",
        json={"name": "Support", "hours": {"mon": [["09:00", "12:00"], ["14:00", "18:00"]]}},
    )
    assert ok.status_code == 201 and ok.json["holidays_country"] == "FR"


def test_a_closed_ticket_keeps_its_resolution_target_for_reports(world):
    channel = world.channel()
    with db.transaction() as s:
        s.add(SlaPolicy(name="DMs", position=1, kind="dm", resolution_minutes=60))
    ingest.ingest_batch(channel.id, [dm("m1", paris(2026, 11, 16, 10, 0))])
    ticket_id = ticket_of("m1").id
    with db.transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        closing = sla.on_change(s, ticket, {"status": "closed"}, paris(2026, 11, 16, 10, 30))
    # resolved in 30 business minutes against 60: the target stays for "within target"
    assert closing.get("resolution_due_at", ticket.resolution_due_at) == paris(2026, 11, 16, 11, 0)
    assert closing["resolution_business_seconds"] == 1800
    assert closing.get("resolution_breached", False) is False
