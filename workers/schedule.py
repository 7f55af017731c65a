"""The periodic schedule as data, read by the embedded scheduler thread and the clock process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    id: str
    job: str
    every: int  # seconds


SCHEDULE = (
    Periodic("poll-due-channels", "workers.jobs.poll_due_channels", 5),
    Periodic("sweep-stuck-outbox", "workers.jobs.sweep_outbox", 60),
    Periodic("sla-sweep", "workers.jobs.sla_sweep", 5),
    Periodic("wake-snoozed", "workers.jobs.wake_snoozed", 15),
    Periodic("check-channel-silence", "workers.jobs.check_channel_silence", 300),
    Periodic("sweep-webhook-receipts", "workers.jobs.sweep_webhook_receipts", 3600),
    Periodic("scan-buzz", "workers.jobs.scan_buzz", 30),
    Periodic("forget-old-cluster-bands", "workers.jobs.forget_cluster_bands", 3600),
)
