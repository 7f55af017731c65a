"""Pulling channels: which are due, and one pull ingested with its cursor."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta

import sqlalchemy as sa

from connectors.base import AuthExpired, ConnectorError, RateLimited, Transient
from inbox import db, jobs
from inbox.channels import build_connector, mark_health
from inbox.db import utcnow
from inbox.ingest import ingest_batch
from inbox.models import Channel

log = logging.getLogger(__name__)


def enqueue_due() -> int:
    """Claim the channels whose next poll has come and enqueue one poll job each."""
    now = utcnow()
    with db.transaction() as s:
        due = s.execute(
            sa.select(Channel.id, Channel.poll_interval, Channel.next_poll_at).where(
                Channel.enabled,
                Channel.next_poll_at <= now,
                Channel.health != "needs_reconnection",
            )
        ).all()
        claimed = []
        for channel_id, interval, planned in due:
            # conditional on the time we read, so two clocks never claim the same poll
            updated = s.execute(
                sa.update(Channel)
                .where(Channel.id == channel_id, Channel.next_poll_at == planned)
                .values(next_poll_at=now + timedelta(seconds=interval))
            ).rowcount
            if updated:
                claimed.append(channel_id)
    for channel_id in claimed:
        jobs.enqueue("workers.jobs.poll_channel", channel_id)
    return len(claimed)


def poll(channel_id: int) -> int:
    """Pull one channel from its cursor; errors become channel health, never silence."""
    with db.transaction() as s:  # a snapshot: no transaction stays open during the call
        channel = s.get(Channel, channel_id)
    if channel is None or not channel.enabled:
        return 0
    cursor = channel.cursor
    try:
        # a copy: the connector may build its new cursor by changing the one it was given
        batch = build_connector(channel).pull(copy.deepcopy(cursor))
    except RateLimited as exc:
        _delay_next_poll(channel_id, exc.retry_after)
        return 0
    except AuthExpired as exc:
        mark_health(channel_id, "needs_reconnection", str(exc) or "credentials expired")
        return 0
    except (Transient, ConnectorError) as exc:
        log.warning("poll of channel %s failed: %s", channel_id, exc)
        mark_health(channel_id, "error", str(exc) or type(exc).__name__)
        return 0
    result = ingest_batch(channel_id, batch.items, batch.cursor, cursor_from=cursor)
    if channel.health == "error" or (channel.health == "silent" and batch.items):
        mark_health(channel_id, "ok", None)
    if batch.more and result.cursor_saved:  # a pull that lost a race does not chain on
        jobs.enqueue("workers.jobs.poll_channel", channel_id)
    return result.created


def _delay_next_poll(channel_id: int, seconds: float) -> None:
    with db.transaction() as s:
        s.execute(
            sa.update(Channel)
            .where(Channel.id == channel_id)
            .values(next_poll_at=utcnow() + timedelta(seconds=max(seconds, 1)))
        )
