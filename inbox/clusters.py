"""Near-duplicate groups: a copy-paste raid, or one question asked two hundred times.

Each inbound item with enough text gets a MinHash signature (inbox/similarity.py). A cluster
keeps its first item's signature and that signature's LSH band keys in an indexed table, so a
new item finds candidate clusters of its team with one query per batch, and joins the most
similar one above the threshold, or starts its own. Tickets carry `cluster_id`; the queue
shows a group once it has more than one ticket, and group actions apply to all of them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from inbox import similarity
from inbox.db import utcnow
from inbox.models import Cluster, ClusterBand, Ticket

WINDOW = timedelta(days=3)  # a raid or a repeated question is recent; older groups are closed


@dataclass
class Entry:
    """A cluster as one batch sees it: stored already (id) or created in this batch."""

    id: int | None
    signature: list[int]
    sample: str
    size: int
    grew: int = 0


def assign(s: Session, team_id: int, rows: list[dict], now: datetime | None = None) -> list[dict]:
    """Put new inbound item rows (with `id`, `ticket_id`, `body`) into clusters.

    Sets `cluster_id` on their tickets (the first cluster a ticket joins stays its own) and
    returns `cluster_grew` event data for the groups that now hold several items.
    """
    now = now or utcnow()
    signed = []
    for row in rows:
        signature = similarity.signature(row["body"])
        if signature is not None:
            signed.append((row, signature, similarity.band_keys(signature)))
    if not signed:
        return []
    entries, by_band = _candidates(s, team_id, {k for _, _, keys in signed for k in keys}, now)
    placed: dict[int, Entry] = {}  # ticket id -> entry
    fresh: list[tuple[Entry, list[int]]] = []
    for row, signature, keys in signed:
        entry = _best(signature, {id(e): e for k in keys for e in by_band.get(k, [])})
        if entry is None:
            entry = Entry(None, signature, " ".join(row["body"].split())[:300], 0)
            fresh.append((entry, keys))
            for key in keys:
                by_band[key].append(entry)
        entry.size += 1
        entry.grew += 1
        placed.setdefault(row["ticket_id"], entry)
    _store(s, team_id, entries, fresh, now)
    tickets_by_cluster = defaultdict(list)
    for ticket_id, entry in placed.items():
        tickets_by_cluster[entry.id].append(ticket_id)
    for cluster_id, ticket_ids in tickets_by_cluster.items():
        s.execute(
            sa.update(Ticket)
            .where(Ticket.id.in_(ticket_ids), Ticket.cluster_id.is_(None))
            .values(cluster_id=cluster_id)
        )
    touched = {id(e): e for e in placed.values()}.values()
    return [{"cluster_id": e.id, "size": e.size} for e in touched if e.size > 1]


def _candidates(s: Session, team_id: int, keys: set[int], now: datetime):
    """Stored clusters of the team sharing a band key with the batch, by band key."""
    cluster_ids: dict[int, set[int]] = defaultdict(set)
    for band, cluster_id in s.execute(
        sa.select(ClusterBand.band, ClusterBand.cluster_id).where(
            ClusterBand.team_id == team_id,
            _among(s, ClusterBand.band, sorted(keys)),
            ClusterBand.created_at >= now - WINDOW,
        )
    ):
        cluster_ids[cluster_id].add(band)
    entries: dict[int, Entry] = {}
    if cluster_ids:
        for cluster in s.scalars(sa.select(Cluster).where(Cluster.id.in_(list(cluster_ids)))):
            entries[cluster.id] = Entry(cluster.id, cluster.signature, cluster.sample, cluster.size)
    by_band: dict[int, list[Entry]] = defaultdict(list)
    for cluster_id, bands in cluster_ids.items():
        if cluster_id in entries:
            for band in bands:
                by_band[band].append(entries[cluster_id])
    return entries, by_band


def _among(s: Session, column, keys: list[int]):
    """`column IN keys` as one bound value whatever the batch size (64 keys per item)."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam("band_keys", keys, type_=ARRAY(sa.BigInteger)))
    listed = sa.select(sa.column("value", sa.BigInteger)).select_from(
        sa.func.json_each(sa.bindparam("band_keys", json.dumps(keys)))
    )
    return column.in_(listed)


def _best(signature: list[int], candidates: dict[int, Entry]) -> Entry | None:
    best, best_score = None, similarity.THRESHOLD
    for entry in candidates.values():
        score = similarity.similarity(signature, entry.signature)
        if score >= best_score:
            best, best_score = entry, score
    return best


def _store(s: Session, team_id: int, entries: dict[int, Entry], fresh, now: datetime) -> None:
    """Insert the batch's new clusters with their bands; bump the sizes of stored ones."""
    if fresh:
        returned = s.execute(
            sa.insert(Cluster).returning(Cluster.id, Cluster.sample),
            [
                {
                    "team_id": team_id,
                    "signature": entry.signature,
                    "sample": entry.sample,
                    "size": entry.size,
                    "created_at": now,
                    "last_at": now,
                }
                for entry, _ in fresh
            ],
        ).all()
        # RETURNING order is not promised: pair rows back by their position among equals
        ids_by_sample: dict[str, list[int]] = defaultdict(list)
        for cluster_id, sample in sorted(returned):
            ids_by_sample[sample].append(cluster_id)
        for entry, _ in fresh:
            entry.id = ids_by_sample[entry.sample].pop(0)
        bands = {
            (key, entry.id): {
                "team_id": team_id,
                "band": key,
                "cluster_id": entry.id,
                "created_at": now,
            }
            for entry, keys in fresh
            for key in keys
        }
        s.execute(sa.insert(ClusterBand), list(bands.values()))
    grown = [{"c_id": entry.id, "n": entry.grew} for entry in entries.values() if entry.grew]
    if grown:
        table = Cluster.__table__
        s.execute(
            table.update()
            .where(table.c.id == sa.bindparam("c_id"))
            .values(size=table.c.size + sa.bindparam("n"), last_at=now),
            grown,
        )


def forget_old(now: datetime | None = None) -> int:
    """Drop band keys past the window, so lookups stay small; groups themselves remain."""
    from inbox import db

    cutoff = (now or utcnow()) - WINDOW
    with db.transaction() as s:
        return s.execute(sa.delete(ClusterBand).where(ClusterBand.created_at < cutoff)).rowcount
