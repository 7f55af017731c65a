"""Polling: due channels claimed once, cursors kept, platform errors shown as channel health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from marshmallow import Schema, fields

from connectors import register
from connectors.base import AuthExpired, Batch, Connector, RateLimited, Transient
from inbox import db, polling
from inbox.channels import update_channel
from inbox.models import Channel, Event, Item
from tests.support import count, make_item


class ScriptedConfig(Schema):
    fail = fields.String(load_default="")


@register
class ScriptedConnector(Connector):
    """A platform that answers as its config says: with one item, or with an error."""

    type = "scripted"
    label = "Scripted"
    polls = True
    config_schema = ScriptedConfig

    def pull(self, cursor):
        failures = {
            "auth": AuthExpired("token revoked by the user"),
            "rate": RateLimited(120),
            "down": Transient("503 from the platform"),
        }
        if self.config["fail"]:
            raise failures[self.config["fail"]]
        seq = (cursor or {}).get("seq", 0) + 1
        return Batch([make_item(f"s{seq}", thread_id="t")], {"seq": seq})


def channel_row(channel_id: int) -> Channel:
    with db.transaction() as s:
        return s.get(Channel, channel_id)


def test_first_poll_of_the_demo_channel_brings_its_backlog(world):
    channel = world.channel(type_="demo", config={"backlog": 25})
    assert polling.poll(channel.id) == 25
    assert channel_row(channel.id).cursor["seq"] == 25
    assert polling.poll(channel.id) == 0 and count(Item) == 25


def test_due_channels_are_claimed_once(world, app):
    channel = world.channel(type_="scripted", config={})
    assert polling.enqueue_due() == 1  # the eager backend polls it at once
    assert polling.enqueue_due() == 0
    assert channel_row(channel.id).next_poll_at > datetime.now(UTC) + timedelta(seconds=30)
    assert count(Item) == 1


def test_expired_token_marks_the_channel_and_tells_the_cms(world):
    channel = world.channel(type_="scripted", config={"fail": "auth"})
    assert polling.poll(channel.id) == 0
    row = channel_row(channel.id)
    assert row.health == "needs_reconnection" and "revoked" in row.last_error
    with db.transaction() as s:
        event = s.scalar(sa.select(Event).where(Event.type == "channel_health"))
    assert event.data["health"] == "needs_reconnection" and event.team_id == row.team_id
    assert polling.enqueue_due() == 0  # no point polling until someone reconnects it


def test_rate_limit_pushes_the_next_poll_to_the_platform_reset(world):
    channel = world.channel(type_="scripted", config={"fail": "rate"})
    polling.poll(channel.id)
    row = channel_row(channel.id)
    assert row.next_poll_at > datetime.now(UTC) + timedelta(seconds=100)
    assert row.health == "ok"


def test_outage_is_recorded_and_clears_on_the_next_good_poll(world, app):
    channel = world.channel(type_="scripted", config={"fail": "down"})
    polling.poll(channel.id)
    assert channel_row(channel.id).health == "error"
    with app.test_request_context():
        update_channel(db.session().get(Channel, channel.id), {"config": {"fail": ""}})
    assert polling.poll(channel.id) == 1
    assert channel_row(channel.id).health == "ok"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_paused_channel_is_not_polled(world):
    channel = world.channel(type_="scripted", config={})
    with db.transaction() as s:
        s.get(Channel, channel.id).enabled = False
    assert polling.enqueue_due() == 0 and polling.poll(channel.id) == 0
