"""Moderation rules over real ingest: a Facebook simulator receives the hides, the review
queue lists them and restores them, a dry run predicts what the enabled rule then does."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Author
from connectors.sandbox import simulator_class
from connectors.sandbox.traffic import Person
from inbox import db, polling
from inbox.ingest import ingest_batch
from inbox.models import Event, Item, Outbox, RuleHit, Ticket, TicketTag
from tests.support import make_item

INSULTS = {
    "name": "Insultes",
    "conditions": [{"type": "keywords", "values": ["connard", "bande d'escrocs", "arnaqué"]}],
    "actions": [{"type": "hide"}, {"type": "tag", "value": "insulte"}],
}


@pytest.fixture
def facebook():
    simulator = simulator_class("facebook")(page_size=50)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def manager(world):
    world.user("lea@x.example", "manager", teams=("Support",))
    return world.client("lea@x.example")


def enabled_rule(client, body: dict) -> dict:
    created = client.post("/api/rules", json=body)
    assert created.status_code == 201, created.json
    rule = created.json
    assert rule["enabled"] is False, "a new rule waits for its dry run"
    enabled = client.patch(
        f"/api/rules/{rule['id']}", json={"enabled": True, "version": rule["version"]}
    )
    assert enabled.status_code == 200, enabled.json
    return enabled.json


def person(n: int) -> Person:
    return Person(f"77{n:03d}", f"fan{n}", f"Fan {n}", "fr")


def comment(sim, text: str, who: Person) -> str:
    with sim.lock:
        post = next(p for p in sim.posts.values() if p["person"] is None)
        return sim.add_comment(post, text, int(sim.now()), person=who)["id"]


def hide_calls(sim) -> dict[str, str]:
    """Comment id → is_hidden value of every hide/unhide call the platform received."""
    found = {}
    for call in sim.writes():
        values = call.form() if call.body and not call.body.startswith(b"{") else {}
        if not values and call.body.startswith(b"{"):
            values = call.json()
        if "is_hidden" in values or "is_hidden" in call.query:
            hidden = values.get("is_hidden", call.query.get("is_hidden"))
            found[call.path.rsplit("/", 1)[-1]] = str(hidden).lower()
    return found


def item_by_external(external_id: str) -> Item:
    with db.transaction() as s:
        return s.scalars(sa.select(Item).where(Item.external_id == external_id)).one()


def test_a_rule_hides_an_insult_on_the_platform_and_leaves_a_lookalike(world, manager, facebook):
    channel = world.channel(type_="facebook", config=facebook.channel_config())
    rule = enabled_rule(manager, INSULTS)
    insult = comment(facebook, "Bande d'ESCROCS, je suis ARNAQUE encore une fois", person(1))
    lookalike = comment(facebook, "Je me suis connecté, merci pour l'aide !", person(2))
    other = comment(facebook, "Quel CONNARD ce livreur", person(3))

    polling.poll(channel.id)

    calls = hide_calls(facebook)
    for hidden in (insult, other):  # case and accents folded, phrases matched
        assert calls.get(hidden) == "true", calls
        assert item_by_external(hidden).hidden is True
    assert lookalike not in calls, "'connecté' is not 'connard'"
    assert item_by_external(lookalike).hidden is False
    hidden_item = item_by_external(insult)
    with db.transaction() as s:
        applied = s.scalars(sa.select(Event).where(Event.type == "rule_applied")).all()
        on_insult = [e.data for e in applied if e.data["item_id"] == hidden_item.id]
        assert {d["action"] for d in on_insult} == {"hide", "tag"}
        assert all(d["rule_id"] == rule["id"] and d["rule_name"] == "Insultes" for d in on_insult)
        tags = s.scalars(
            sa.select(TicketTag.tag).where(TicketTag.ticket_id == hidden_item.ticket_id)
        ).all()
        assert tags == ["insulte"]
        rows = s.scalars(sa.select(Outbox).where(Outbox.rule_id == rule["id"])).all()
        assert {r.state for r in rows} == {"sent"} and len(rows) == 2


def test_hidden_items_wait_in_the_review_queue_and_restore_calls_the_platform(
    world, manager, facebook
):
    channel = world.channel(type_="facebook", config=facebook.channel_config())
    enabled_rule(manager, INSULTS)
    insult = comment(facebook, "espèce de connard", person(4))
    polling.poll(channel.id)

    world.user("cm@x.example", "agent", teams=("Support",))
    agent = world.client("cm@x.example")
    queue = agent.get("/api/moderation/review").json
    assert [h["item"]["body"] for h in queue["hits"]] == ["espèce de connard"]
    hit = queue["hits"][0]
    assert hit["action"] == "hide" and hit["rule_name"] == "Insultes"

    restored = agent.post(f"/api/moderation/review/{hit['id']}/restore")
    assert restored.status_code == 200, restored.json
    assert restored.json["restored_at"] is not None
    assert hide_calls(facebook)[insult] == "false", "the platform un-hid it"
    assert item_by_external(insult).hidden is False
    assert agent.get("/api/moderation/review").json["hits"] == []
    again = agent.post(f"/api/moderation/review/{hit['id']}/restore")
    assert again.status_code == 409

    world.user("out@x.example", "agent", teams=("Elsewhere",))
    stranger = world.client("out@x.example")
    assert stranger.get("/api/moderation/review").json["hits"] == []
    assert stranger.post(f"/api/moderation/review/{hit['id']}/restore").status_code == 404


def test_a_vip_dm_is_tagged_and_a_blocked_author_closed_as_spam(world, manager):
    channel = world.channel()
    enabled_rule(
        manager,
        {
            "name": "VIP",
            "conditions": [{"type": "author_vip"}, {"type": "kind", "values": ["dm"]}],
            "actions": [{"type": "tag", "value": "vip"}, {"type": "priority", "value": "high"}],
            "stop": True,
        },
    )
    enabled_rule(
        manager,
        {
            "name": "Bloqués",
            "position": 200,
            "conditions": [{"type": "author_blocked"}],
            "actions": [{"type": "close_spam"}],
        },
    )
    star = Author(id="star-1", handle="@star", name="Une Star")
    troll = Author(id="troll-1", handle="@troll", name="Troll")
    ingest_batch(channel.id, [make_item("d1", author=star, thread_id="c-star")])
    ingest_batch(channel.id, [make_item("d2", author=troll, thread_id="c-troll")])
    with db.transaction() as s:
        contacts = dict(s.execute(sa.select(Ticket.author_name, Ticket.contact_id)).all())
    assert manager.patch(f"/api/contacts/{contacts['Une Star']}", json={"vip": True}).json["vip"]
    assert manager.patch(f"/api/contacts/{contacts['Troll']}", json={"blocked": True}).status_code
    world.user("cm@x.example", "agent", teams=("Support",))
    agent = world.client("cm@x.example")
    assert agent.patch(f"/api/contacts/{contacts['Troll']}", json={"vip": True}).status_code == 403

    later = datetime.now(UTC) + timedelta(seconds=1)
    ingest_batch(
        channel.id,
        [
            make_item("d3", author=star, thread_id="c-star", created_at=later),
            make_item("d4", author=troll, thread_id="c-troll", created_at=later),
            make_item("c5", kind="comment", author=star, thread_id="p-1", created_at=later),
        ],
    )
    rows = {
        t["author_name"] + ":" + t["kind"]: t for t in agent.get("/api/tickets").json["tickets"]
    }
    assert rows["Une Star:dm"]["tags"] == ["vip"] and rows["Une Star:dm"]["priority"] == "high"
    assert rows["Une Star:comment"]["tags"] == [], "the VIP rule is for DMs"
    closed = agent.get("/api/tickets", query_string={"status": "closed"}).json["tickets"]
    assert [(t["author_name"], t["tags"]) for t in closed] == [("Troll", ["spam"])]
    review = agent.get("/api/moderation/review").json["hits"]
    assert [h["action"] for h in review] == ["close_spam"]
    agent.post(f"/api/moderation/review/{review[0]['id']}/restore")
    reopened = agent.get(f"/api/tickets/{closed[0]['id']}").json
    assert reopened["status"] == "open" and reopened["tags"] == []


MONTH_RULE = {
    "name": "Spam liens",
    "conditions": [
        {"type": "has_link"},
        {"type": "keywords", "values": ["gratuit", "free", "promo"]},
    ],
    "actions": [{"type": "close_spam"}, {"type": "tag", "value": "lien"}],
}


def month_of_items(start: datetime) -> list:
    """Thirty days of comments: regulars, first-timers, links, promo words, all mixed."""
    items = []
    texts = [
        "Promo GRATUITE ici http://bit.ly/cadeau",
        "Merci pour la promo, j'ai commandé hier",
        "free followers www.get-fans.example",
        "Le lien du règlement ? https://example.com/reglement",
        "Super vidéo, bravo à l'équipe",
        "Code promo gratuit sur promo-club.example/code",
    ]
    for day in range(30):
        for n, text in enumerate(texts):
            who = (day * 7 + n * 3) % 25  # some authors come back, others write once
            author = Author(id=f"a{who}", handle=f"@a{who}", name=f"Auteur {who}")
            at = start + timedelta(days=day, hours=n)
            items.append(
                make_item(
                    f"m{day}-{n}",
                    kind="comment",
                    author=author,
                    body=text,
                    thread_id=f"m{day}-{n}",
                    post_id="post-1",
                    created_at=at,
                )
            )
    return items


def test_a_dry_run_over_an_imported_month_predicts_what_the_enabled_rule_does(world, manager):
    start = datetime.now(UTC) - timedelta(days=29, hours=12)
    history = world.channel(name="Historique")
    items = month_of_items(start)
    ingest_batch(history.id, items, automate=False)  # the history import's path

    preview = manager.post("/api/rules/dry-run", json={"rule": MONTH_RULE, "days": 30})
    assert preview.status_code == 200, preview.json
    dry = preview.json
    assert dry["scanned"] == len(items)
    assert 0 < dry["matched"] < len(items)
    assert dry["actions"] == {"close_spam": dry["matched"], "tag": dry["matched"]}
    assert dry["authors_total"] >= len(dry["authors"]) > 0
    predicted = {(s["body"], s["author_name"]) for s in dry["samples"]}
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(RuleHit)) == 0, "dry means dry"

    enabled_rule(manager, MONTH_RULE)
    live = world.channel(name="En direct")
    for day in range(30):  # the same items, arriving day by day with the rule enabled
        ingest_batch(live.id, [i for i in items if i.external_id.startswith(f"m{day}-")])
    with db.transaction() as s:
        acted = s.execute(
            sa.select(Item.body, Item.author_name, RuleHit.action)
            .join(RuleHit, RuleHit.item_id == Item.id)
            .where(Item.channel_id == live.id)
        ).all()
    assert len(acted) == dry["matched"]
    assert {(body, author) for body, author, _ in acted} >= predicted
    assert {a for _, _, a in acted} == {"close_spam"}


def test_rules_validate_their_input_and_only_managers_change_them(world, manager):
    bad = [
        ({"conditions": [{"type": "regex", "pattern": "(unclosed"}]}, "pattern"),
        ({"conditions": [{"type": "keywords"}]}, "values"),
        ({"conditions": [{"type": "keywords", "values": ["  "]}]}, "values"),
        ({"conditions": [{"type": "language", "values": ["french"]}]}, "values"),
        ({"conditions": [{"type": "telepathy"}]}, "type"),
        ({"actions": [{"type": "priority", "value": "asap"}]}, "value"),
        ({"actions": [{"type": "assign"}]}, "user_id"),
        ({"actions": [{"type": "assign", "user_id": 999}]}, "actions"),
        ({"actions": [{"type": "hide"}, {"type": "delete"}]}, "actions"),
    ]
    for change, field in bad:
        response = manager.post("/api/rules", json=INSULTS | change)
        assert response.status_code == 400, (change, response.json)
        assert field in (response.json["error"]["field"] or ""), (change, response.json)
    with db.transaction() as s:
        assert s.scalar(sa.text("select count(*) from moderation_rules")) == 0

    world.user("cm@x.example", "agent", teams=("Support",))
    agent = world.client("cm@x.example")
    assert agent.post("/api/rules", json=INSULTS).status_code == 403
    assert agent.get("/api/rules").status_code == 403
    rule = manager.post("/api/rules", json=INSULTS).json
    stale = manager.patch(f"/api/rules/{rule['id']}", json={"enabled": True, "version": 0})
    assert stale.status_code == 409


def test_a_catastrophic_regex_cannot_stall_ingest(world, manager):
    channel = world.channel()
    enabled_rule(
        manager,
        {
            "name": "ReDoS",
            "conditions": [{"type": "regex", "pattern": "(a+)+$"}],
            "actions": [{"type": "tag", "value": "x"}],
        },
    )
    started = time.monotonic()
    ingest_batch(channel.id, [make_item("r1", body="a" * 40 + "!")])
    assert time.monotonic() - started < 5
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1


def test_the_chain_stops_where_a_rule_says_so(world, manager):
    channel = world.channel()
    enabled_rule(
        manager,
        {
            "name": "Premier",
            "position": 1,
            "stop": True,
            "conditions": [{"type": "keywords", "values": ["remboursement"]}],
            "actions": [{"type": "tag", "value": "facturation"}],
        },
    )
    enabled_rule(
        manager,
        {
            "name": "Second",
            "position": 2,
            "conditions": [{"type": "kind", "values": ["dm"]}],
            "actions": [{"type": "tag", "value": "dm"}],
        },
    )
    ingest_batch(
        channel.id,
        [
            make_item("s1", body="Je veux un REMBOURSEMENT", thread_id="t1"),
            make_item("s2", body="Bonjour", thread_id="t2"),
        ],
    )
    with db.transaction() as s:
        tags = s.execute(
            sa.select(Ticket.thread_key, TicketTag.tag).join(
                TicketTag, TicketTag.ticket_id == Ticket.id
            )
        ).all()
    assert sorted(tags) == [("dm:t1", "facturation"), ("dm:t2", "dm")]


def test_first_time_authors_are_told_apart_from_regulars(world, manager):
    channel = world.channel()
    enabled_rule(
        manager,
        {
            "name": "Nouveaux avec lien",
            "conditions": [{"type": "first_time_author"}, {"type": "has_link"}],
            "actions": [{"type": "tag", "value": "a-verifier"}],
        },
    )
    regular = Author(id="reg", handle="@reg", name="Régulier")
    newcomer = Author(id="new", handle="@new", name="Nouveau")
    ingest_batch(channel.id, [make_item("f1", author=regular, body="Bonjour", thread_id="r")])
    later = datetime.now(UTC) + timedelta(seconds=1)
    ingest_batch(
        channel.id,
        [
            make_item(
                "f2",
                author=regular,
                body="voir https://x.example",
                thread_id="r2",
                created_at=later,
            ),
            make_item(
                "f3",
                author=newcomer,
                body="voir https://x.example",
                thread_id="n",
                created_at=later,
            ),
            make_item(
                "f4",
                author=newcomer,
                body="et https://y.example",
                thread_id="n2",
                created_at=later + timedelta(seconds=1),
            ),
        ],
    )
    with db.transaction() as s:
        tagged = s.scalars(
            sa.select(Ticket.thread_key).join(TicketTag, TicketTag.ticket_id == Ticket.id)
        ).all()
    assert tagged == ["dm:n"], "only the newcomer's first message"
