"""Job functions: thin, they take ids and JSON values and call the services."""

from __future__ import annotations

from connectors.base import NormalizedItem
from inbox import buzz, db, health, hooks, ingest, outbox, polling, sla, tickets
from inbox.channels import mark_health


def poll_due_channels() -> int:
    """Enqueue a poll for every enabled channel whose next poll time has come."""
    return polling.enqueue_due()


def poll_channel(channel_id: int) -> int:
    """Pull what is new on one channel and ingest it with its cursor."""
    return polling.poll(channel_id)


def ingest_webhook(channel_id: int, payload: dict) -> int:
    """Ingest items a webhook delivered (already verified and validated by the route)."""
    items = [NormalizedItem.from_dict(raw) for raw in payload["items"]]
    result = ingest.ingest_batch(channel_id, items)
    if result.created and result.channel_health == "silent":  # items again: no longer silent
        db.session().commit()  # publishing read through this session; mark_health writes apart
        mark_health(channel_id, "ok", None)
    return result.created


def send_outbox(outbox_id: int) -> str:
    """Send one queued reply or moderation action to its platform."""
    return outbox.send(outbox_id)


def sweep_outbox() -> int:
    """Fail outbox rows left in `sending` by a crash, so the CM sees them."""
    return outbox.sweep_stuck()


def check_channel_silence() -> int:
    """Flag channels gone quiet against their usual rate, and clear those that woke up."""
    return len(health.check_silence())


def sweep_webhook_receipts() -> int:
    """Forget old webhook receipts (replays of those fail their timestamp check anyway)."""
    return hooks.sweep_receipts()


def sla_sweep() -> int:
    """Raise the SLA warnings and breaches that have come due."""
    return sla.sweep()


def sla_recompute() -> int:
    """Recompute the due times of open tickets after a policy or calendar change."""
    return sla.recompute_open()


def wake_snoozed() -> int:
    """Reopen snoozed tickets whose time has come."""
    return tickets.wake_snoozed()


def scan_buzz() -> int:
    """Open, grow and resolve bad-buzz incidents from the latest inbound items."""
    return len(buzz.scan())


def forget_cluster_bands() -> int:
    """Drop near-duplicate lookup keys older than the grouping window."""
    from inbox import clusters

    return clusters.forget_old()
