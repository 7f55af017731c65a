"""Channel health: what a CM needs to trust that a channel is alive, and silence detection.

A channel reports its state (`ok`, `error`, `needs_reconnection`, `silent`), its last error,
its last successful sync, when the last inbound item arrived, how many arrived in the last hour
against its usual hourly rate, and when it is next polled. One aggregate query serves every
channel at once.

Silence: a channel that usually receives enough traffic that two quiet hours would be very
unlikely (at least `MIN_EXPECTED` items expected in that window, i.e. under a 0.25% chance
for Poisson traffic) and has received nothing for `QUIET` is flagged `silent`, with an event
CMs see live. It is cleared when items arrive again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors import connector_class
from inbox import db
from inbox.db import utcnow
from inbox.models import Channel, Item

QUIET = timedelta(hours=2)
BASELINE = timedelta(days=7)
MIN_HISTORY = timedelta(hours=24)
MIN_EXPECTED = 6.0


def _activity(s, channel_ids: list[int], now: datetime) -> dict[int, dict[str, Any]]:
    """Counts of inbound items per channel, from one grouped query over the 7-day window."""
    if not channel_ids:
        return {}
    hour_ago, quiet_from, since = now - timedelta(hours=1), now - QUIET, now - BASELINE
    rows = s.execute(
        sa.select(
            Item.channel_id,
            sa.func.count().filter(Item.received_at >= hour_ago).label("last_hour"),
            sa.func.count().filter(Item.received_at >= quiet_from).label("quiet_window"),
            sa.func.count().filter(Item.received_at < quiet_from).label("baseline"),
            sa.func.max(Item.received_at).label("last_item_at"),
        )
        .where(
            Item.channel_id.in_(channel_ids),
            Item.direction == "in",
            Item.received_at >= since,
        )
        .group_by(Item.channel_id)
    )
    return {row.channel_id: row._asdict() for row in rows}


def _usual_per_hour(created_at: datetime, baseline_count: int, now: datetime) -> float | None:
    """Average inbound items per hour before the quiet window; None without a day of history."""
    start = max(now - BASELINE, created_at)
    hours = ((now - QUIET) - start).total_seconds() / 3600
    if hours < MIN_HISTORY.total_seconds() / 3600:
        return None
    return baseline_count / hours


def health_of(channels: list[Channel], now: datetime | None = None) -> list[dict[str, Any]]:
    """Describe the health of each channel, as the API and the badge show it."""
    now = now or utcnow()
    activity = _activity(db.session(), [c.id for c in channels], now)
    out = []
    for channel in channels:
        seen = activity.get(channel.id, {})
        usual = _usual_per_hour(channel.created_at, seen.get("baseline", 0), now)
        cls = connector_class(channel.type)
        out.append(
            {
                "channel_id": channel.id,
                "name": channel.name,
                "type": channel.type,
                "enabled": channel.enabled,
                "health": channel.health,
                "last_error": channel.last_error,
                "last_sync_at": channel.last_sync_at,
                "last_item_at": seen.get("last_item_at"),
                "items_last_hour": seen.get("last_hour", 0),
                "usual_per_hour": round(usual, 2) if usual is not None else None,
                "next_poll_at": channel.next_poll_at if cls.polls and channel.enabled else None,
                "polls": cls.polls,
                "receives_webhooks": cls.receives_webhooks,
            }
        )
    return out


def check_silence(now: datetime | None = None) -> list[int]:
    """Flag channels that went quiet against their usual rate; clear those that woke up.

    Returns the ids of channels whose state changed.
    """
    from inbox.channels import mark_health

    now = now or utcnow()
    with db.transaction() as s:  # fresh: not a session that may hold stale channel rows
        channels = s.execute(
            sa.select(Channel.id, Channel.health, Channel.created_at).where(
                Channel.enabled, Channel.health.in_(("ok", "silent"))
            )
        ).all()
        activity = _activity(s, [c.id for c in channels], now)
    changed = []
    for channel in channels:
        seen = activity.get(channel.id, {})
        quiet = seen.get("quiet_window", 0) == 0
        usual = _usual_per_hour(channel.created_at, seen.get("baseline", 0), now)
        expected = (usual or 0) * QUIET.total_seconds() / 3600
        if channel.health == "ok" and quiet and expected >= MIN_EXPECTED:
            hours = int(QUIET.total_seconds() // 3600)
            mark_health(
                channel.id,
                "silent",
                f"no new message for {hours} hours; usually about {usual:.0f} per hour",
            )
            changed.append(channel.id)
        elif channel.health == "silent" and not quiet:
            mark_health(channel.id, "ok", None)
            changed.append(channel.id)
    return changed
