"""Near-duplicate groups over real ingest: a copy-paste raid of 200 comments becomes one group
that one call hides on the platform; ordinary comments stay on their own."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Author
from connectors.sandbox import simulator_class
from connectors.sandbox.traffic import Person
from inbox import db, polling
from inbox.ingest import ingest_batch
from inbox.models import Cluster, Event, Item, Outbox, Ticket
from tests.support import make_item

EMOJI = ["", " 😡", " 🤬🤬", " !!!", " 👎", "!!"]
TAGS = ["", " #boycott", " @marque", " #arnaque", " https://t.co/x1"]


def raid_text(rng: random.Random) -> str:
    text = "Boycott total de cette marque, ils volent leurs clients et mentent, partagez"
    if rng.random() < 0.3:
        text = text.replace("mentent", "nous mentent")
    if rng.random() < 0.3:
        text = text.upper()
    return text + rng.choice(EMOJI) + rng.choice(TAGS)


ORDINARY = [
    "Bonjour, vous ouvrez à quelle heure dimanche ?",
    "Super service, merci à Julie pour son aide",
    "Ma commande 4471 n'est toujours pas arrivée",
    "Est-ce que le modèle bleu revient en stock bientôt ?",
    "J'adore la nouvelle collection, bravo",
    "Impossible de me connecter à l'application depuis hier",
]


@pytest.fixture
def facebook():
    simulator = simulator_class("facebook")(page_size=50)
    simulator.start()
    yield simulator
    simulator.stop()


def test_a_copy_paste_raid_becomes_one_group_hidden_in_one_action(world, facebook):
    channel = world.channel(type_="facebook", config=facebook.channel_config())
    rng = random.Random(6)
    with facebook.lock:
        post = next(p for p in facebook.posts.values() if p["person"] is None)
        now = int(facebook.now())
        raid = [
            facebook.add_comment(
                post, raid_text(rng), now, person=Person(f"66{n:03d}", f"r{n}", f"R {n}", "fr")
            )["id"]
            for n in range(200)
        ]
        for n, text in enumerate(ORDINARY):
            facebook.add_comment(post, text, now, person=Person(f"55{n}", f"o{n}", f"O {n}", "fr"))
    polling.poll(channel.id)

    with db.transaction() as s:
        clustered = dict(
            s.execute(
                sa.select(Item.external_id, Ticket.cluster_id)
                .join(Ticket, Ticket.id == Item.ticket_id)
                .where(Item.direction == "in")
            ).all()
        )
    groups = {clustered[external_id] for external_id in raid}
    assert len(groups) == 1 and None not in groups, "every raid comment in one group"
    (group,) = groups
    others = [c for e, c in clustered.items() if e not in raid]
    assert len(others) == len(ORDINARY) and group not in others

    world.user("cm@x.example", "agent", teams=("Support",))
    cm = world.client("cm@x.example")
    rows = cm.get("/api/tickets", query_string={"cluster": group, "limit": 200}).json["tickets"]
    assert len(rows) == 200 and {r["cluster_size"] for r in rows} == {200}
    described = cm.get(f"/api/clusters/{group}").json
    assert described["size"] == 200 and len(described["ticket_ids"]) == 200
    assert "boycott" in described["sample"].lower()

    writes = len(facebook.writes())
    done = cm.post(f"/api/clusters/{group}/actions", json={"action": "hide"})
    assert done.status_code == 202, done.json
    assert done.json == {"queued": 200, "tickets": 200}
    assert len(facebook.writes()) - writes == 200
    hidden = {c["id"] for c in facebook.comments.values() if c["hidden"]}
    assert hidden == set(raid)
    with db.transaction() as s:
        states = s.scalars(sa.select(Outbox.state).where(Outbox.action == "hide")).all()
        assert states == ["sent"] * 200


def test_groups_grow_across_batches_and_tell_the_screens(world):
    channel = world.channel()
    base = datetime.now(UTC)
    question = "Quand est-ce que les remboursements du vol annulé AF123 arrivent ?"
    first = [
        make_item(
            f"q{n}",
            author=Author(id=f"p{n}", name=f"P{n}"),
            body=question + (" merci" if n % 2 else ""),
            thread_id=f"q{n}",
            created_at=base + timedelta(seconds=n),
        )
        for n in range(3)
    ]
    ingest_batch(channel.id, first)
    later = [
        make_item(
            "q9",
            author=Author(id="p9", name="P9"),
            body=question.upper() + " ???",
            thread_id="q9",
            created_at=base + timedelta(minutes=5),
        ),
        make_item(
            "z1",
            author=Author(id="z", name="Z"),
            body="Bravo pour le nouveau site, il est très clair",
            thread_id="z1",
            created_at=base + timedelta(minutes=5),
        ),
    ]
    ingest_batch(channel.id, later)
    with db.transaction() as s:
        sizes = s.scalars(sa.select(Cluster.size).order_by(Cluster.size.desc())).all()
        grew = [e.data for e in s.scalars(sa.select(Event).where(Event.type == "cluster_grew"))]
    assert sizes[0] == 4, sizes
    assert [g["size"] for g in grew] == [3, 4]


def test_group_actions_check_rights_and_input(world):
    channel = world.channel()
    ingest_batch(
        channel.id,
        [
            make_item(f"g{n}", body="Le lien du concours ne marche pas chez moi", thread_id=f"g{n}")
            for n in range(3)
        ],
    )
    with db.transaction() as s:
        group = s.scalar(sa.select(Cluster.id))
    world.user("cm@x.example", "agent", teams=("Support",))
    world.user("out@x.example", "agent", teams=("Elsewhere",))
    cm, stranger = world.client("cm@x.example"), world.client("out@x.example")
    assert stranger.get(f"/api/clusters/{group}").status_code == 404
    assert (
        stranger.post(f"/api/clusters/{group}/actions", json={"action": "close"}).status_code == 404
    )
    assert cm.post(f"/api/clusters/{group}/actions", json={"action": "tag"}).status_code == 400
    assert cm.post(f"/api/clusters/{group}/actions", json={"action": "reply"}).status_code == 400
    refused = cm.post(f"/api/clusters/{group}/actions", json={"action": "hide"})
    assert refused.status_code == 400, "the generic webhook channel cannot hide"
    tagged = cm.post(f"/api/clusters/{group}/actions", json={"action": "tag", "tags": ["concours"]})
    assert tagged.json == {"queued": 3, "tickets": 3}
    closed = cm.post(f"/api/clusters/{group}/actions", json={"action": "close"})
    assert closed.json["queued"] == 3
    rows = cm.get("/api/tickets", query_string={"status": "closed"}).json["tickets"]
    assert len(rows) == 3 and all(r["tags"] == ["concours"] for r in rows)


def test_lookup_keys_past_the_window_are_dropped_and_old_groups_stop_growing(world):
    from inbox import clusters
    from inbox.models import ClusterBand
    from workers.schedule import SCHEDULE

    assert "workers.jobs.forget_cluster_bands" in {entry.job for entry in SCHEDULE}
    channel = world.channel()
    text = "Le code promo de la newsletter ne fonctionne pas sur le site"
    ingest_batch(channel.id, [make_item("o1", body=text, thread_id="o1")])
    later = datetime.now(UTC) + clusters.WINDOW + timedelta(hours=1)
    assert clusters.forget_old(later) == 64
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ClusterBand)) == 0
    ingest_batch(channel.id, [make_item("o2", body=text, thread_id="o2")])
    with db.transaction() as s:
        assert s.scalars(sa.select(Cluster.size)).all() == [1, 1], "a new group, not the old one"
