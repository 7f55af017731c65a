"""Every platform end to end: simulator → real connector → poll or webhook → tickets → reply.

These run the inbox's own paths (poll job, /hooks route, outbox) against each platform
simulator over real HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from connectors import connector_class
from connectors.sandbox import simulator_class, simulator_types
from inbox import db, polling
from inbox.models import Channel, Item, Outbox, Ticket
from tests.support import count

TYPES = simulator_types()
POLLING = [t for t in TYPES if connector_class(t).polls]
PUSHING = [t for t in TYPES if connector_class(t).receives_webhooks and simulator_class(t).pushes]
REPLYING = [t for t in POLLING if "reply" in connector_class(t).capabilities]


@pytest.fixture
def sim(request):
    simulator = simulator_class(request.param)(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


def stored_ids(channel_id: int) -> set[str]:
    with db.transaction() as s:
        rows = s.scalars(
            sa.select(Item.external_id).where(Item.channel_id == channel_id, Item.direction == "in")
        )
        return set(rows)


def test_every_platform_has_a_simulator():
    from connectors import connector_types

    platforms = set(connector_types()) - {"demo", "webhook", "email"}
    platforms -= {t for t in platforms if not t.isidentifier() or t == "scripted"}
    assert platforms <= set(TYPES), f"no simulator for {platforms - set(TYPES)}"


@pytest.mark.parametrize("sim", POLLING, indirect=True)
def test_poll_job_brings_platform_traffic_into_tickets(world, sim):
    expected = sim.add_inbound(12)
    channel = world.channel(type_=sim.type, config=sim.channel_config())
    polling.poll(channel.id)  # follow-up pages are enqueued and run by the eager backend
    assert set(expected) <= stored_ids(channel.id)
    assert count(Ticket) >= 1
    with db.transaction() as s:
        row = s.get(Channel, channel.id)
        assert row.health == "ok" and row.last_sync_at is not None
        json.dumps(row.cursor)  # the cursor is stored as JSON

    again = sim.add_inbound(3)
    polling.poll(channel.id)
    assert set(again) <= stored_ids(channel.id)
    assert len(stored_ids(channel.id)) == len(set(expected) | set(again)), "no duplicates"


@pytest.mark.parametrize("sim", POLLING, indirect=True)
def test_expired_token_marks_the_channel_and_a_fix_resumes_polling(world, sim):
    channel = world.channel(type_=sim.type, config=sim.channel_config())
    sim.expire_token()
    polling.poll(channel.id)
    with db.transaction() as s:
        assert s.get(Channel, channel.id).health == "needs_reconnection"
    sim.restore_token()
    world.user("admin@x.example", "admin", teams=("Support",))
    admin = world.client("admin@x.example")
    checked = admin.post(f"/api/channels/{channel.id}/test").json
    assert checked["ok"] is True and checked["message"]
    with db.transaction() as s:
        assert s.get(Channel, channel.id).health == "ok"


@pytest.mark.parametrize("sim", PUSHING, indirect=True)
def test_signed_platform_webhook_is_ingested_and_forgeries_are_not(app, world, sim):
    channel = world.channel(type_=sim.type, config=sim.channel_config())
    client = app.test_client()
    headers, body, ids = sim.webhook_delivery(2)
    response = client.post(f"/hooks/{channel.id}", data=body, headers=headers)
    assert response.status_code == 202, response.json
    assert set(ids) <= stored_ids(channel.id)

    replay = client.post(f"/hooks/{channel.id}", data=body, headers=headers)
    assert replay.status_code == 200 and replay.json["duplicate"] is True

    before = count(Item)
    headers, body, _ = sim.webhook_delivery(1, secret="someone-else-s-secret-000")
    assert client.post(f"/hooks/{channel.id}", data=body, headers=headers).status_code == 401
    headers, body, _ = sim.webhook_delivery(1, age=3600)
    assert client.post(f"/hooks/{channel.id}", data=body, headers=headers).status_code == 401
    assert count(Item) == before


@pytest.mark.parametrize("sim", REPLYING, indirect=True)
def test_a_reply_goes_out_through_the_outbox_and_records_the_platform_id(world, sim):
    sim.add_inbound(4)
    channel = world.channel(type_=sim.type, config=sim.channel_config())
    polling.poll(channel.id)
    world.user("cm@x.example", "agent", teams=("Support",))
    cm = world.client("cm@x.example")
    ticket = cm.get("/api/tickets").json["tickets"][0]
    writes = len(sim.writes())
    response = cm.post(f"/api/tickets/{ticket['id']}/replies", json={"text": "Merci, on regarde !"})
    assert response.status_code in (200, 201, 202), response.json
    with db.transaction() as s:
        row = s.scalars(sa.select(Outbox).order_by(Outbox.id.desc())).first()
        assert row.state == "sent", row.error
        assert row.external_id
    assert len(sim.writes()) > writes
