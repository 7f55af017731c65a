"""Bad-buzz detection over real ingest: a replayed calm week, then one post set on fire.

Items carry their platform time, and `buzz.scan(now)` steps through simulated time the way
the 30-second job would, so the replay is judged as it happened.
"""

from __future__ import annotations

import queue
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Author, NormalizedItem
from inbox import buzz, db, ingest
from inbox.models import Event, Incident, Item, Ticket, WatchedKeyword
from inbox.seed import team_named
from tests.inbox.test_realtime import connect, login
from tests.support import LiveServer, World

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Paris
WEEK = timedelta(days=7)

CALM_TEXTS = {
    "positive": [
        "Trop belle cette collection, bravo !",
        "J'adore la couleur, je craque 😍",
        "Reçue hier, la qualité est top",
        "Merci pour la livraison rapide",
    ],
    "neutral": [
        "Elle existe en 38 ?",
        "C'est dispo en boutique à Lyon ?",
        "Quel est le prix de la veste ?",
        "@julie regarde ça",
        "Vous livrez en Belgique ?",
    ],
    "negative": [
        "Toujours pas reçu ma commande…",
        "Déçue par la taille, beaucoup trop petit",
        "Le SAV ne répond jamais",
    ],
}
ANGRY = [
    "Honteux, votre pub est une insulte",
    "Boycott ! Plus jamais chez vous",
    "Scandaleux, retirez cette campagne",
    "Vous devriez avoir honte 🤬",
    "Désabonnée, c'est inadmissible",
    "Lamentable, on attend des excuses",
]
# (post, published after START, its comments, mean hours after publication they come)
CALM_POSTS = [
    ("post-1", timedelta(hours=3), 45, 2.0),
    ("post-2", timedelta(days=1, hours=5), 70, 1.5),
    ("post-3", timedelta(days=2, hours=2), 25, 3.0),
    ("post-4", timedelta(days=3, hours=9), 120, 1.0),  # a hit: two comments a minute at first
    ("post-5", timedelta(days=4, hours=4), 40, 2.5),
    ("post-6", timedelta(days=5, hours=6), 60, 2.0),
    ("post-7", timedelta(days=6, hours=3), 35, 2.0),
]
USUAL_MOOD = {"neutral": 55, "positive": 33, "negative": 12}


class Traffic:
    """Inbound items with their sentiment, as a channel would have received them."""

    def __init__(self, seed: int = 6):
        self.rng = random.Random(seed)
        self.items: list[tuple[NormalizedItem, str]] = []
        self.threads: dict[str, list[str]] = {}

    def comment(self, post: str, at: datetime, mood: str, body: str | None = None) -> str:
        n = len(self.items)
        external_id = f"{post}-c{n}"
        thread = external_id
        earlier = self.threads.setdefault(post, [])
        if earlier and self.rng.random() < 0.2:  # an answer under someone's comment
            thread = self.rng.choice(earlier)
        else:
            earlier.append(external_id)
        body = body or self.rng.choice(CALM_TEXTS[mood])
        self.add(external_id, "comment", at, mood, body, post_id=post, thread_id=thread)
        return external_id

    def add(self, external_id, kind, at, mood, body, **fields) -> None:
        n = len(self.items)
        author = Author(id=f"person-{n}", handle=f"@person{n}", name=f"Person {n}")
        item = NormalizedItem(external_id, kind, author, at, body=body, **fields)
        self.items.append((item, mood))

    def mood(self, weights=USUAL_MOOD) -> str:
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def calm_week(self, start: datetime = START, posts=CALM_POSTS, days: int = 7) -> None:
        """Posts that get most of their comments in their first hours, and DMs all day."""
        for post, after, comments, hours in posts:
            published = start + after
            for _ in range(comments):
                at = published + timedelta(hours=self.rng.expovariate(1 / hours))
                if at < start + timedelta(days=days):
                    self.comment(post, at, self.mood())
        for n in range(20 * days):
            at = start + timedelta(seconds=self.rng.uniform(0, days * 86400))
            mood = self.mood({"neutral": 60, "positive": 20, "negative": 20})
            body = self.rng.choice(CALM_TEXTS[mood])
            self.add(f"dm-{n}", "dm", at, mood, body, thread_id=f"conv-{n % 40}")

    def burst(self, post: str, at: datetime, count: int, gap: float, weights: dict) -> datetime:
        """`count` comments on one post, `gap` seconds apart on average; return the last time."""
        for _ in range(count):
            mood = self.mood(weights)
            body = self.rng.choice(ANGRY) if mood == "negative" else None
            self.comment(post, at, mood, body)
            at += timedelta(seconds=self.rng.expovariate(1 / gap))
        return at

    def ingest(self, channel_id: int) -> None:
        """Ingest everything, then set each item's sentiment to its hand label."""
        items = sorted((item for item, _ in self.items), key=lambda i: i.created_at)
        ingest.ingest_batch(channel_id, items)
        labels = [{"c": channel_id, "e": item.external_id, "s": mood} for item, mood in self.items]
        table = Item.__table__
        with db.transaction() as s:
            s.execute(
                table.update()
                .where(
                    table.c.channel_id == sa.bindparam("c"),
                    table.c.external_id == sa.bindparam("e"),
                )
                .values(sentiment=sa.bindparam("s")),
                labels,
            )


def scan_every(step: timedelta, start: datetime, end: datetime) -> list[tuple[datetime, list]]:
    """Run the scan at each step of simulated time; return when it touched incidents."""
    touched, now = [], start
    while now <= end:
        found = buzz.scan(now)
        if found:
            touched.append((now, found))
        now += step
    return touched


def incidents() -> list[Incident]:
    with db.transaction() as s:
        return list(s.scalars(sa.select(Incident).order_by(Incident.id)))


def ticket_incidents(channel_id: int, external_ids: list[str]) -> set[int | None]:
    with db.transaction() as s:
        return set(
            s.scalars(
                sa.select(Ticket.incident_id)
                .join(Item, Item.ticket_id == Ticket.id)
                .where(Item.channel_id == channel_id, Item.external_id.in_(external_ids))
            )
        )


ANGRY_MOOD = {"negative": 85, "neutral": 10, "positive": 5}
HAPPY_MOOD = {"positive": 70, "neutral": 27, "negative": 3}


def test_a_burst_of_angry_comments_on_a_post_opens_one_incident_within_a_minute(world):
    channel = world.channel()
    traffic = Traffic()
    traffic.calm_week()
    burst_at = START + WEEK + timedelta(hours=6, minutes=13, seconds=27)
    first = len(traffic.items)
    last = traffic.burst("post-1", burst_at, 90, gap=6, weights=ANGRY_MOOD)
    burst_ids = [item.external_id for item, _ in traffic.items[first:]]
    traffic.ingest(channel.id)

    calm = scan_every(timedelta(minutes=5), START, burst_at - timedelta(seconds=1))
    assert calm == [] and incidents() == [], "a calm week opens no incident"

    scan_every(
        timedelta(seconds=15), burst_at - timedelta(seconds=14), last + timedelta(seconds=15)
    )
    [incident] = incidents()
    assert (incident.scope, incident.key, incident.channel_id) == ("post", "post-1", channel.id)
    delay = (incident.detected_at - burst_at).total_seconds()
    print(f"bad buzz detected {delay:.0f} s after the burst began")  # the README's figure
    assert 0 < delay <= 60, f"detected {delay:.0f} s after the burst began"
    assert incident.started_at == burst_at
    assert incident.negative_share >= 0.6 and incident.usual_negative_share < 0.3
    assert ticket_incidents(channel.id, burst_ids) == {incident.id}
    calm_ids = [i.external_id for i, _ in traffic.items[:first] if i.post_id != "post-1"]
    assert ticket_incidents(channel.id, calm_ids) == {None}
    with db.transaction() as s:
        opened = s.scalars(sa.select(Event).where(Event.type == "incident_opened")).all()
    assert [(e.ticket_id, e.team_id, e.data["incident_id"]) for e in opened] == [
        (None, channel.team_id, incident.id)
    ]


def test_the_incident_resolves_itself_after_a_quiet_half_hour(world):
    channel = world.channel()
    traffic = Traffic(seed=7)
    traffic.calm_week(posts=CALM_POSTS[:3], days=3)
    burst_at = START + timedelta(days=3, hours=2)
    last = traffic.burst("post-2", burst_at, 60, gap=5, weights=ANGRY_MOOD)
    traffic.ingest(channel.id)

    scan_every(timedelta(seconds=30), burst_at, last + timedelta(minutes=25))
    [incident] = incidents()
    assert incident.status == "open", "still open 25 minutes after the last angry comment"
    scan_every(timedelta(seconds=30), last + timedelta(minutes=25), last + timedelta(minutes=45))
    [incident] = incidents()
    assert incident.status == "resolved"
    quiet = incident.resolved_at - last
    assert timedelta(minutes=25) < quiet <= timedelta(minutes=31), quiet
    with db.transaction() as s:
        types = s.scalars(sa.select(Event.type).where(Event.type.like("incident_%"))).all()
    assert types[0] == "incident_opened" and types[-1] == "incident_resolved"


def test_a_happy_viral_post_opens_no_incident(world):
    channel = world.channel()
    traffic = Traffic(seed=8)
    traffic.calm_week(posts=CALM_POSTS[:3], days=3)
    viral_at = START + timedelta(days=3, hours=1)
    last = traffic.burst("post-new", viral_at, 150, gap=3, weights=HAPPY_MOOD)
    traffic.ingest(channel.id)

    assert scan_every(timedelta(seconds=15), viral_at, last + timedelta(minutes=5)) == []
    assert incidents() == []


def test_a_watched_keyword_spike_across_posts_opens_a_keyword_incident(world):
    channel = world.channel()
    with db.transaction() as s:
        s.add(WatchedKeyword(team_id=team_named("Support").id, term="Remboursement"))
    traffic = Traffic(seed=9)
    traffic.calm_week(posts=CALM_POSTS[:3], days=3)
    at = START + timedelta(days=3, hours=4)
    for n in range(14):  # the same grievance everywhere, in every case and accent
        text = ["REMBOURSEMENT refusé, c'est du vol", "Mon rembourśement ? Toujours rien"][n % 2]
        traffic.add(f"kw-{n}", "dm", at, "negative", text, thread_id=f"angry-{n}")
        at += timedelta(seconds=12)
    traffic.ingest(channel.id)

    scan_every(timedelta(seconds=15), at - timedelta(minutes=3), at + timedelta(minutes=1))
    [incident] = incidents()
    assert (incident.scope, incident.key, incident.channel_id) == (
        "keyword",
        "Remboursement",
        None,
    ), "the keyword spike, not a second incident for the channel"
    assert ticket_incidents(channel.id, [f"kw-{n}" for n in range(14)]) == {incident.id}


def test_an_item_is_matched_to_the_open_incident_it_belongs_to():
    post = Incident(id=1, team_id=1, channel_id=3, scope="post", key="p9", status="open")
    word = Incident(id=2, team_id=1, channel_id=None, scope="keyword", key="arnaque", status="open")
    other = Incident(id=3, team_id=2, channel_id=None, scope="keyword", key="colis", status="open")
    found = [post, word, other]
    assert buzz.incident_for(found, channel_id=3, post_id="p9", body="ARNAQUE") is post
    assert buzz.incident_for(found, channel_id=3, post_id="p1", body="Une Arnaqué !") is word
    assert buzz.incident_for(found, channel_id=3, post_id="p1", body="arnaques") is None
    assert buzz.incident_for(found, channel_id=4, post_id=None, body="colis", team_id=1) is None
    assert buzz.crisis_paused(word) is False
    word.crisis = True
    assert buzz.crisis_paused(word) is True


def test_the_statistics_behave():
    assert buzz.poisson_tail(0, 2.0) == 1.0
    assert buzz.poisson_tail(6, 0.5) == pytest.approx(1.4164e-5, rel=1e-3)
    assert buzz.poisson_tail(1, 2.0) == pytest.approx(1 - 2.718281828**-2, rel=1e-9)
    assert buzz.binomial_tail(3, 6, 0.12) == pytest.approx(0.026095, rel=1e-4)


@pytest.mark.timeout(60)
def test_every_cm_of_the_team_hears_the_incident_live(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        world.user("olga@example.com", teams=("Other",))
        channel = world.channel("Support")
        world.channel("Other")
        now = datetime.now(UTC)
        traffic = Traffic(seed=10)
        traffic.burst("post-x", now - timedelta(seconds=50), 12, gap=4, weights={"negative": 1})
        traffic.ingest(channel.id)
    with LiveServer(live_app) as server:
        ana, ana_events = connect(server, login(server, "ana@example.com"))
        olga, olga_events = connect(server, login(server, "olga@example.com"))
        try:
            with live_app.app_context():
                [incident_id] = buzz.scan()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                payload = ana_events.get(timeout=5)
                opened = [e for e in payload["events"] if e["type"] == "incident_opened"]
                if opened:
                    break
            assert opened[0]["data"] == {
                "incident_id": incident_id,
                "scope": "post",
                "key": "post-x",
                "crisis": False,
            }
            assert opened[0]["ticket_id"] is None
            with pytest.raises(queue.Empty):
                olga_events.get(timeout=0.5)
        finally:
            ana.disconnect()
            olga.disconnect()
