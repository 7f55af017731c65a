"""Channel health: recent traffic, silence against the usual rate, reconnection, the test action."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from click.testing import CliRunner

from inbox import db, health, polling
from inbox.cli import main
from inbox.db import utcnow
from inbox.ingest import ingest_batch
from inbox.models import Channel, Event, Item
from tests.inbox.test_polling import ScriptedConnector  # noqa: F401  (registers "scripted")
from tests.support import make_item


def backdate_items(channel_id: int, start, step: timedelta) -> None:
    """Spread a channel's items over time, oldest first, from `start` every `step`."""
    with db.transaction() as s:
        ids = s.scalars(sa.select(Item.id).where(Item.channel_id == channel_id).order_by(Item.id))
        for n, item_id in enumerate(list(ids)):
            s.execute(
                sa.update(Item).where(Item.id == item_id).values(received_at=start + step * n)
            )


def age_channel(channel_id: int, days: int) -> None:
    with db.transaction() as s:
        s.execute(
            sa.update(Channel)
            .where(Channel.id == channel_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )


def health_events(channel_id: int) -> list[dict]:
    with db.transaction() as s:
        rows = s.scalars(
            sa.select(Event.data)
            .where(Event.type == "channel_health", Event.channel_id == channel_id)
            .order_by(Event.id)
        )
        return list(rows)


def test_health_reports_recent_traffic_and_next_poll(world):
    world.user("admin@x.example", "admin")
    channel = world.channel()
    ingest_batch(channel.id, [make_item(f"h{n}", thread_id=f"t{n}") for n in range(5)])
    backdate_items(channel.id, utcnow() - timedelta(minutes=150), timedelta(minutes=30))
    body = world.client("admin@x.example").get(f"/api/channels/{channel.id}/health").json
    # items at -150, -120, -90, -60 and -30 min: only the last one is inside the hour
    assert body["items_last_hour"] == 1
    assert body["health"] == "ok" and body["receives_webhooks"] is True
    assert body["usual_per_hour"] is None, "a channel younger than a day has no usual rate yet"
    assert body["last_item_at"] is not None


def test_health_is_only_visible_to_the_channel_team(world):
    world.user("agent@x.example", "agent", teams=("Other",))
    channel = world.channel(team="Support")
    client = world.client("agent@x.example")
    assert client.get(f"/api/channels/{channel.id}/health").status_code == 404
    assert client.get("/api/channels/health").json == []


def test_a_busy_channel_that_goes_quiet_is_flagged_silent_then_cleared(world):
    channel = world.channel()
    age_channel(channel.id, days=3)
    # 2 days of traffic, one item every 10 minutes, ending 3 hours ago
    items = [make_item(f"b{n}", thread_id=f"t{n % 40}") for n in range(288)]
    ingest_batch(channel.id, items)
    backdate_items(channel.id, utcnow() - timedelta(hours=51), timedelta(minutes=10))
    assert health.check_silence() == [channel.id]
    flagged = health_events(channel.id)
    # 288 items over the 70 hours between the channel's creation and the quiet window: 4.1 an hour
    assert flagged[-1]["health"] == "silent" and "usually about 4 per hour" in flagged[-1]["error"]
    assert health.check_silence() == [], "flagged once, not at every check"

    ingest_batch(channel.id, [make_item("wake-up", thread_id="t-new")])
    assert health.check_silence() == [channel.id]
    assert health_events(channel.id)[-1]["health"] == "ok"


def test_a_quiet_channel_is_not_flagged(world):
    channel = world.channel()
    age_channel(channel.id, days=3)
    # a handful of items a day: two silent hours are normal
    ingest_batch(channel.id, [make_item(f"q{n}", thread_id=f"t{n}") for n in range(8)])
    backdate_items(channel.id, utcnow() - timedelta(hours=60), timedelta(hours=6))
    assert health.check_silence() == []


def test_expired_credentials_stop_polling_until_the_channel_is_fixed(world):
    channel = world.channel(type_="scripted", config={"fail": "auth"})
    polling.poll(channel.id)
    with db.transaction() as s:
        row = s.get(Channel, channel.id)
        assert row.health == "needs_reconnection" and "revoked" in row.last_error
        s.execute(sa.update(Channel).values(next_poll_at=utcnow() - timedelta(seconds=1)))
    assert polling.enqueue_due() == 0, "a channel that needs reconnecting is not polled"

    from inbox.channels import get_channel, update_channel

    update_channel(get_channel(channel.id), {"config": {"fail": ""}})
    with db.transaction() as s:
        assert s.get(Channel, channel.id).health == "ok"
    assert polling.enqueue_due() == 1, "new credentials make the channel due at once"
    assert health_events(channel.id)[-1]["health"] == "ok"


def test_the_test_action_reports_what_is_wrong(world):
    world.user("admin@x.example", "admin")
    world.user("agent@x.example", "agent")
    channel = world.channel(type_="scripted", config={})
    admin = world.client("admin@x.example")
    response = admin.post(f"/api/channels/{channel.id}/test")
    assert response.status_code == 200
    assert response.json["ok"] is False and response.json["error"] == "unsupported"
    assert (
        world.client("agent@x.example").post(f"/api/channels/{channel.id}/test").status_code == 403
    )


def test_channel_types_describe_config_and_mark_secrets(world):
    world.user("admin@x.example", "admin")
    types = {t["type"]: t for t in world.client("admin@x.example").get("/api/channel-types").json}
    webhook = {f["name"]: f for f in types["webhook"]["config"]}
    assert webhook["secret"]["secret"] is True and webhook["secret"]["required"] is True
    assert types["webhook"]["capabilities"] == ["reply"]


def test_cli_lists_types_and_refuses_bad_config(app):
    runner = CliRunner()
    env = {"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": app.config["SECRET_KEY"]}
    listed = runner.invoke(main, ["channels", "types"], env=env)
    assert (
        listed.exit_code == 0 and "webhook" in listed.output and "secret* (secret)" in listed.output
    )
    bad = runner.invoke(
        main,
        ["channels", "add", "webhook", "--name", "W", "--team", "T", "--set", "secret=short"],
        env=env,
    )
    assert bad.exit_code == 2 and "config.secret" in bad.output


def test_a_push_wakes_a_silent_webhook_channel(app, world):
    from inbox.channels import mark_health
    from tests.inbox.test_hooks import item, post

    channel = world.channel()
    mark_health(channel.id, "silent", "no new message for 2 hours")
    assert post(app, channel.id, {"items": [item("w-new")]}).status_code == 202
    with db.transaction() as s:
        assert s.get(Channel, channel.id).health == "ok"
    assert health_events(channel.id)[-1]["health"] == "ok"
