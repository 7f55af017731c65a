"""Crisis mode on a bad-buzz incident: approvals, a tighter SLA, holding replies, and the API.

Replies go through the Facebook simulator over real HTTP, so "never sent" means the platform
received nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from connectors.base import Author, NormalizedItem
from connectors.sandbox.facebook import FacebookSimulator
from inbox import buzz, db, ingest, outbox
from inbox.models import Event, Incident, Item, Outbox, SlaPolicy, Ticket

PARIS = ZoneInfo("Europe/Paris")
ANGRY = "C'est honteux, retirez cette pub"


@pytest.fixture
def sim():
    simulator = FacebookSimulator()
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def people(world):
    world.user("agent@example.com", "agent")
    world.user("boss@example.com", "manager")
    world.user("olga@example.com", "manager", teams=("Other",))
    return world


def angry_comments(channel_id: int, post_id: str, external_ids: list[str], at: datetime) -> int:
    """Ingest angry comments 5 s apart, label them negative, and scan: return the incident."""
    items = [
        NormalizedItem(
            external_id,
            "comment",
            Author(f"fan-{n}", f"@fan{n}", f"Fan {n}"),
            at + timedelta(seconds=5 * n),
            body=ANGRY,
            post_id=post_id,
            thread_id=external_id,
        )
        for n, external_id in enumerate(external_ids)
    ]
    ingest.ingest_batch(channel_id, items)
    with db.transaction() as s:
        s.execute(sa.update(Item).where(Item.channel_id == channel_id).values(sentiment="negative"))
    [incident_id] = buzz.scan(at + timedelta(seconds=5 * len(items)))
    return incident_id


def on_facebook(world, sim) -> tuple[int, list[int]]:
    """Ten angry comments under a Page post: the incident and its tickets, oldest first."""
    channel = world.channel(type_="facebook", config=sim.channel_config())
    at = datetime.now(UTC) - timedelta(minutes=2)
    post = sim.add_post("Notre nouvelle campagne", int(at.timestamp()) - 86400)
    ids = [sim.add_comment(post, ANGRY, int(at.timestamp()))["id"] for _ in range(10)]
    incident_id = angry_comments(channel.id, post["id"], ids, at)
    return incident_id, ticket_ids(incident_id)


def ticket_ids(incident_id: int) -> list[int]:
    with db.transaction() as s:
        query = sa.select(Ticket.id).where(Ticket.incident_id == incident_id).order_by(Ticket.id)
        return list(s.scalars(query))


def row(outbox_id: int) -> Outbox:
    with db.transaction() as s:
        return s.get(Outbox, outbox_id)


def event_types(kind: str) -> list[str]:
    with db.transaction() as s:
        return list(
            s.scalars(sa.select(Event.type).where(Event.type.like(kind)).order_by(Event.id))
        )


def test_an_agents_reply_in_a_crisis_waits_for_a_manager_then_goes_out(people, sim):
    incident_id, tickets = on_facebook(people, sim)
    agent, boss = people.client("agent@example.com"), people.client("boss@example.com")
    turned = boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True})
    assert turned.status_code == 200 and turned.json["crisis"] is True
    assert turned.json["crisis_since"] is not None

    writes = len(sim.writes())
    held = agent.post(f"/api/tickets/{tickets[0]}/replies", json={"text": "Nous sommes désolés"})
    assert held.status_code == 202 and held.json["state"] == "approval"
    assert held.json["send_after"] is None, "no undo window: it waits for a manager"
    assert outbox.send(held.json["id"]) == "skipped", "the send job never sends a held reply"
    assert len(sim.writes()) == writes and row(held.json["id"]).state == "approval"

    assert agent.get("/api/approvals").status_code == 403
    [waiting] = boss.get("/api/approvals").json["approvals"]
    assert waiting["outbox_id"] == held.json["id"] and waiting["ticket_id"] == tickets[0]
    assert (waiting["text"], waiting["created_by_name"]) == ("Nous sommes désolés", "Agent")
    assert agent.post(f"/api/outbox/{held.json['id']}/approve").status_code == 403

    approved = boss.post(f"/api/outbox/{held.json['id']}/approve")
    assert approved.status_code == 200
    sent = row(held.json["id"])
    assert sent.state == "sent" and sent.approved_by is not None and sent.external_id
    assert len(sim.writes()) == writes + 1
    assert sim.writes()[-1].form()["message"] == "Nous sommes désolés"
    assert boss.post(f"/api/outbox/{held.json['id']}/approve").status_code == 409
    assert boss.get("/api/approvals").json["approvals"] == []
    assert event_types("reply_%") == ["reply_needs_approval", "reply_approved", "reply_sent"]
    with db.transaction() as s:
        assert s.get(Ticket, tickets[0]).first_response_at is not None, "answered once approved"


def test_a_rejected_reply_never_leaves_and_its_author_gets_the_draft_back(people, sim):
    incident_id, tickets = on_facebook(people, sim)
    agent, boss = people.client("agent@example.com"), people.client("boss@example.com")
    boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True})
    writes = len(sim.writes())
    held = agent.post(f"/api/tickets/{tickets[1]}/replies", json={"text": "lol on s'en fiche"})
    no_reason = boss.post(f"/api/outbox/{held.json['id']}/reject", json={})
    assert no_reason.status_code == 400 and no_reason.json["error"]["field"] == "reason"
    rejected = boss.post(
        f"/api/outbox/{held.json['id']}/reject", json={"reason": "Ton inadapté en crise"}
    )
    assert rejected.status_code == 200 and rejected.json["state"] == "cancelled"
    assert rejected.json["error"] == "Ton inadapté en crise"
    assert len(sim.writes()) == writes
    with db.transaction() as s:
        assert s.get(Item, held.json["reply_item_id"]).deleted is True
        event = s.scalars(sa.select(Event).where(Event.type == "reply_rejected")).one()
    assert event.data["text"] == "lol on s'en fiche" and event.data["reason"]
    assert event.data["author_id"] == row(held.json["id"]).created_by


def test_the_author_can_take_back_a_reply_waiting_for_approval(people, sim):
    incident_id, tickets = on_facebook(people, sim)
    agent, boss = people.client("agent@example.com"), people.client("boss@example.com")
    boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True})
    held = agent.post(f"/api/tickets/{tickets[4]}/replies", json={"text": "Finalement non"})
    taken_back = agent.post(f"/api/outbox/{held.json['id']}/cancel")
    assert taken_back.status_code == 200 and taken_back.json["state"] == "cancelled"
    assert boss.get("/api/approvals").json["approvals"] == []
    assert boss.post(f"/api/outbox/{held.json['id']}/approve").status_code == 409


def test_managers_reply_at_once_in_a_crisis(people, sim):
    incident_id, tickets = on_facebook(people, sim)
    boss = people.client("boss@example.com")
    boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True})
    writes = len(sim.writes())
    sent = boss.post(f"/api/tickets/{tickets[2]}/replies", json={"text": "Nous vous entendons"})
    assert sent.status_code == 202 and row(sent.json["id"]).state == "sent"
    assert len(sim.writes()) == writes + 1


def test_resolving_the_incident_ends_the_crisis(people, sim):
    incident_id, tickets = on_facebook(people, sim)
    agent, boss = people.client("agent@example.com"), people.client("boss@example.com")
    boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True})
    resolved = boss.patch(f"/api/incidents/{incident_id}", json={"status": "resolved"})
    assert resolved.status_code == 200
    assert (resolved.json["status"], resolved.json["crisis"]) == ("resolved", False)
    assert resolved.json["resolved_at"] is not None and resolved.json["ticket_count"] == 10
    free = agent.post(f"/api/tickets/{tickets[3]}/replies", json={"text": "Merci"})
    assert row(free.json["id"]).state == "sent"
    again = boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True})
    assert again.status_code == 409
    assert event_types("incident_%") == ["incident_opened", "incident_updated", "incident_resolved"]


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def first_due(ticket_id: int) -> datetime:
    with db.transaction() as s:
        return s.get(Ticket, ticket_id).first_response_due_at


def test_crisis_mode_tightens_the_sla_and_lifting_it_restores_it(people):
    channel = people.channel()
    # Monday 16 November 2026, 10:00 in Paris: comments are due within 2 business hours
    incident_id = angry_comments(
        channel.id, "post-9", [f"c{n}" for n in range(8)], paris(2026, 11, 16, 10, 0)
    )
    ticket_ids_before = ticket_ids(incident_id)
    first = ticket_ids_before[0]
    assert first_due(first) == paris(2026, 11, 16, 12, 0)
    boss = people.client("boss@example.com")
    boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True})
    assert first_due(first) == paris(2026, 11, 16, 10, 15), "15 minutes, whatever the hour"

    with db.transaction() as s:
        policy = SlaPolicy(name="Crise", position=999, enabled=False, first_response_minutes=30)
        s.add(policy)
        s.flush()
        policy_id = policy.id
    missing = boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": True, "policy_id": 999})
    assert missing.status_code == 400 and missing.json["error"]["field"] == "policy_id"
    chosen = boss.post(
        f"/api/incidents/{incident_id}/crisis", json={"on": True, "policy_id": policy_id}
    )
    assert chosen.json["crisis_policy_id"] == policy_id
    assert first_due(first) == paris(2026, 11, 16, 10, 30), "the incident's own crisis policy"
    late = NormalizedItem(
        "late",
        "comment",
        Author("fan-late", "@late", "Late"),
        paris(2026, 11, 16, 10, 20),
        body=ANGRY,
        post_id="post-9",
        thread_id="late",
    )
    ingest.ingest_batch(channel.id, [late])
    buzz.scan(paris(2026, 11, 16, 10, 21))
    newest = ticket_ids(incident_id)[-1]
    assert newest not in ticket_ids_before and first_due(newest) == paris(2026, 11, 16, 10, 50)

    boss.post(f"/api/incidents/{incident_id}/crisis", json={"on": False})
    assert first_due(first) == paris(2026, 11, 16, 12, 0)
    assert first_due(newest) == paris(2026, 11, 16, 12, 20)


def test_only_managers_steer_an_incident_and_other_teams_never_see_it(people, sim):
    incident_id, tickets = on_facebook(people, sim)
    agent, olga = people.client("agent@example.com"), people.client("olga@example.com")
    url = f"/api/incidents/{incident_id}"
    assert agent.post(f"{url}/crisis", json={"on": True}).status_code == 403
    assert agent.patch(url, json={"status": "resolved"}).status_code == 403
    assert [i["id"] for i in agent.get("/api/incidents").json["incidents"]] == [incident_id]
    assert olga.get("/api/incidents?status=all").json["incidents"] == []
    assert olga.get(url).status_code == 404
    assert olga.post(f"{url}/crisis", json={"on": True}).status_code == 404
    assert olga.patch(url, json={"holding_replies": ["x"]}).status_code == 404
    bad = agent.get("/api/incidents?status=closed")
    assert bad.status_code == 400 and bad.json["error"]["field"] == "status"

    detail = agent.get(url).json
    assert detail["scope"] == "post" and detail["tickets"] == tickets
    assert sum(minute["count"] for minute in detail["timeline"]) == 10
    assert sum(minute["negative"] for minute in detail["timeline"]) == 10
    minutes = [datetime.fromisoformat(m["at"]) for m in detail["timeline"]]
    assert all(b - a == timedelta(minutes=1) for a, b in pairwise(minutes))
    assert [e["type"] for e in detail["events"]] == ["incident_opened"]


def test_holding_replies_are_kept_on_the_incident_within_limits(people, sim):
    incident_id, _ = on_facebook(people, sim)
    boss = people.client("boss@example.com")
    url = f"/api/incidents/{incident_id}"
    replies = ["Nous avons entendu vos messages et revenons vers vous.", "We hear you."]
    saved = boss.patch(url, json={"holding_replies": replies})
    assert saved.status_code == 200 and saved.json["holding_replies"] == replies
    too_many = boss.patch(url, json={"holding_replies": ["ok"] * 21})
    assert too_many.status_code == 400 and too_many.json["error"]["field"] == "holding_replies"
    too_long = boss.patch(url, json={"holding_replies": ["x" * 2001]})
    assert too_long.status_code == 400
    assert too_long.json["error"]["field"].startswith("holding_replies")
    assert boss.patch(url, json={}).status_code == 400
    assert boss.get(url).json["holding_replies"] == replies


def test_managers_choose_the_watched_keywords_of_their_team(people):
    agent, boss = people.client("agent@example.com"), people.client("boss@example.com")
    olga = people.client("olga@example.com")
    assert agent.post("/api/watched-keywords", json={"term": "arnaque"}).status_code == 403
    added = boss.post("/api/watched-keywords", json={"term": "  Arnaque  "})
    assert added.status_code == 201 and added.json["term"] == "Arnaque"
    twice = boss.post("/api/watched-keywords", json={"term": "arnaqué"})
    assert twice.status_code == 409 and twice.json["error"]["field"] == "term"
    short = boss.post("/api/watched-keywords", json={"term": "a"})
    assert short.status_code == 400 and short.json["error"]["field"] == "term"
    assert [k["term"] for k in boss.get("/api/watched-keywords").json["keywords"]] == ["Arnaque"]
    assert olga.get("/api/watched-keywords").json["keywords"] == []
    assert olga.delete(f"/api/watched-keywords/{added.json['id']}").status_code == 404
    assert boss.delete(f"/api/watched-keywords/{added.json['id']}").status_code == 204
    assert boss.get("/api/watched-keywords").json["keywords"] == []


def test_later_comments_join_the_open_incident_instead_of_opening_another(people):
    channel = people.channel()
    at = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    incident_id = angry_comments(channel.id, "post-1", [f"a{n}" for n in range(8)], at)
    later = at + timedelta(minutes=2)
    again = angry_comments(channel.id, "post-1", [f"b{n}" for n in range(8)], later)
    assert again == incident_id
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1
    assert len(ticket_ids(incident_id)) == 16
    assert event_types("incident_%") == ["incident_opened", "incident_updated"]
