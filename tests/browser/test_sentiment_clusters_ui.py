"""Sentiment and near-duplicate groups in a real browser: the chip, the filter, a correction from
the keyboard, a copy-paste raid shown as one group and dealt with in one action."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from inbox import db, ingest
from inbox.models import Item, Outbox
from tests.browser.support import CSP_WATCH, ago, eventually, person
from tests.browser.test_triage import palette, sign_in
from tests.support import LiveServer, World, make_item

pytestmark = pytest.mark.browser

ANGRY = "Honteux, votre pub est une insulte, plus jamais chez vous"
HAPPY = "Merci beaucoup, super service, j'adore !"
PLAIN = "Vous livrez en Belgique ?"
RAID = "Gagnez un iPhone gratuit en cliquant sur le lien promo point example avant ce soir"


def comment(n: int, name: str, body: str, minutes_ago: float, post: str = "post-1"):
    return make_item(
        f"c{n}",
        "comment",
        thread_id=f"c{n}",
        post_id=post,
        author=person(name),
        body=body,
        created_at=ago(minutes_ago),
    )


def dm(n: int, name: str, body: str, minutes_ago: float):
    author = person(name)
    at = ago(minutes_ago)
    return make_item(f"dm{n}", "dm", thread_id=f"conv{n}", author=author, body=body, created_at=at)


class Shop:
    """A served inbox: Ana (agent) on her team's demo channel, which can hide and reply."""

    def __init__(self, app, url: str, channel_id: int):
        self.app, self.url, self.channel_id = app, url, channel_id

    def ingest(self, *items) -> None:
        with self.app.app_context():
            ingest.ingest_batch(self.channel_id, list(items))

    def api(self, path: str):
        with self.app.app_context():
            response = World(self.app).client("ana@example.com").get(path)
            assert response.status_code == 200, response.json
            return response.json

    def rows(self, model, *where):
        with self.app.app_context(), db.transaction() as s:
            return s.scalars(sa.select(model).where(*where).order_by(model.id)).all()


@pytest.fixture
def shop(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        channel = world.channel(type_="demo", config={"backlog": 0, "rate": 0})
        channel_id = channel.id
    with LiveServer(live_app) as server:
        yield Shop(live_app, server.url, channel_id)


@pytest.fixture
def watched(page):
    """The page, with its CSP refusals recorded."""
    page.add_init_script(CSP_WATCH)
    return page


def no_csp_refusal(page: Page) -> None:
    assert page.evaluate("window.__cspRefused") == []


def rows(page: Page):
    return page.get_by_test_id("ticket-row")


def row_of(page: Page, author: str):
    return rows(page).filter(has_text=author)


def moods(shop: Shop, query: str = "") -> dict[str, str | None]:
    tickets = shop.api(f"/api/tickets?limit=100{query}")["tickets"]
    return {row["author_name"]: row["sentiment"] for row in tickets}


def test_a_negative_ticket_shows_its_chip_and_the_filter_narrows_the_queue(watched, shop, trouble):
    page = watched
    shop.ingest(
        comment(1, "Colère Claire", ANGRY, 9),
        dm(2, "Happy Hugo", HAPPY, 8),
        dm(3, "Neutre Nina", PLAIN, 7),
    )
    assert moods(shop) == {
        "Colère Claire": "negative",
        "Happy Hugo": "positive",
        "Neutre Nina": "neutral",
    }
    sign_in(page, shop.url)
    chip = row_of(page, "Colère Claire").get_by_test_id("sentiment")
    expect(chip).to_have_attribute("data-sentiment", "negative")
    expect(chip).to_contain_text("Sentiment : négatif")  # a word and a sign, not colour alone
    expect(chip.locator(".senti-sign")).to_have_text("☹")
    expect(row_of(page, "Happy Hugo").get_by_test_id("sentiment")).to_have_attribute(
        "data-sentiment", "positive"
    )
    expect(row_of(page, "Colère Claire").get_by_test_id("language")).to_have_text("FR")

    page.get_by_test_id("queue-sentiment").select_option("negative")
    expect(page.get_by_test_id("ticket-count")).to_have_text("1")
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("Colère Claire")

    # Live: an angry message joins the narrowed queue, a happy one stays out of it.
    shop.ingest(
        comment(4, "Furieux Fred", "Scandaleux, retirez cette campagne, c'est lamentable", 1),
        dm(5, "Contente Chloé", "Reçue hier, la qualité est top, merci !", 1),
    )
    negative = sorted(moods(shop, "&sentiment=negative"))
    assert negative == ["Colère Claire", "Furieux Fred"]
    expect(rows(page)).to_have_count(2)
    expect(row_of(page, "Furieux Fred")).to_have_count(1)
    expect(page.get_by_test_id("ticket-count")).to_have_text("2")

    page.keyboard.press("Enter")
    header = page.get_by_test_id("ticket-sentiment")
    expect(header).to_have_attribute("data-sentiment", "negative")
    expect(header).to_contain_text("négatif")

    palette(page, "filtrer sentiment positif")
    expect(page.get_by_test_id("queue-sentiment")).to_have_value("positive")
    expect(rows(page)).to_have_count(len(moods(shop, "&sentiment=positive")))
    expect(row_of(page, "Happy Hugo")).to_have_count(1)
    expect(row_of(page, "Colère Claire")).to_have_count(0)
    no_csp_refusal(page)
    trouble.assert_none()


def test_correcting_a_sentiment_from_the_keyboard_persists(watched, shop, trouble):
    page = watched
    shop.ingest(dm(1, "Colère Claire", ANGRY, 9), dm(2, "Happy Hugo", HAPPY, 8))
    sign_in(page, shop.url)
    expect(rows(page)).to_have_count(2)
    page.keyboard.press("Enter")  # the one waiting longest
    expect(page.get_by_test_id("ticket-author")).to_have_text("Colère Claire")
    ticket_id = int(page.get_by_test_id("ticket-pane").get_attribute("data-ticket-id"))
    inbound = page.locator("[data-testid=timeline-item][data-direction=in]")
    expect(inbound.get_by_test_id("item-sentiment")).to_have_attribute("data-sentiment", "negative")

    page.keyboard.press("Shift+S")
    picker = page.get_by_test_id("sentiment-picker")
    expect(picker).to_contain_text(ANGRY)
    expect(picker.locator("[data-key=negative]")).to_contain_text("✓")
    page.keyboard.type("neutre")
    page.keyboard.press("Enter")
    expect(
        page.get_by_test_id("toast").filter(has_text="Sentiment corrigé : neutre")
    ).to_be_visible()
    chip = inbound.get_by_test_id("item-sentiment")
    expect(chip).to_have_attribute("data-sentiment", "neutral")
    expect(chip).to_contain_text("corrigé")
    expect(page.get_by_test_id("ticket-sentiment")).to_have_attribute("data-sentiment", "neutral")
    expect(row_of(page, "Colère Claire").get_by_test_id("sentiment")).to_have_attribute(
        "data-sentiment", "neutral"
    )

    detail = shop.api(f"/api/tickets/{ticket_id}")
    (item,) = [entry for entry in detail["items"] if entry["direction"] == "in"]
    assert (item["sentiment"], item["sentiment_corrected"]) == ("neutral", True)
    assert detail["sentiment"] == "neutral"

    palette(page, "corriger le sentiment")
    expect(page.get_by_test_id("sentiment-picker")).to_be_visible()
    page.keyboard.type("positif")
    page.keyboard.press("Enter")
    expect(
        page.locator("[data-testid=timeline-event][data-type=sentiment_corrected]").last
    ).to_contain_text("Sentiment corrigé : positif — Ana")
    assert eventually(lambda: shop.api(f"/api/tickets/{ticket_id}")["sentiment"] == "positive")
    assert moods(shop, "&sentiment=positive").keys() == {"Colère Claire", "Happy Hugo"}
    no_csp_refusal(page)
    trouble.assert_none()


def raid(shop: Shop, count: int = 5, first: int = 0) -> None:
    """A copy-paste raid: the same comment under different posts, from different people."""
    shop.ingest(
        *[
            comment(100 + i, f"Raider {i}", f"{RAID} {i}", 10 - i * 0.5, post=f"post-{i}")
            for i in range(first, first + count)
        ]
    )


def test_a_five_ticket_group_shows_x5_and_one_palette_action_hides_it_all(watched, shop, trouble):
    page = watched
    shop.ingest(dm(1, "Léa Moreau", PLAIN, 20))
    raid(shop)
    listed = shop.api("/api/tickets?limit=100")["tickets"]
    raiders = [row for row in listed if row["author_name"].startswith("Raider")]
    assert {(row["cluster_id"], row["cluster_size"]) for row in raiders} == {
        (raiders[0]["cluster_id"], 5)
    }
    sign_in(page, shop.url)
    header = page.locator("[data-testid=group-header][data-cluster-id]")
    expect(header).to_have_count(1)
    expect(header.get_by_test_id("group-cluster")).to_have_text("×5")
    marks = page.get_by_test_id("row-cluster")
    expect(marks).to_have_count(5)
    for i in range(5):
        expect(marks.nth(i)).to_have_attribute("aria-label", "5 messages quasi identiques")
        expect(marks.nth(i)).to_have_attribute("role", "img")

    page.keyboard.press("j")  # Léa, then the group's header
    expect(header).to_have_attribute("aria-selected", "true")
    page.keyboard.press("x")
    expect(page.get_by_test_id("bulk-bar")).to_contain_text("5 tickets sélectionnés")
    palette(page, "masquer tout le groupe")
    expect(
        page.get_by_test_id("toast").filter(has_text="Masquage demandé pour 5 tickets du groupe")
    ).to_be_visible()
    expect(page.get_by_test_id("bulk-bar")).to_have_count(0)

    hides = shop.rows(Outbox, Outbox.action == "hide")
    assert len(hides) == 5
    assert len({row.ticket_id for row in hides}) == 5
    raider_ids = {row["id"] for row in raiders}
    assert {row.ticket_id for row in hides} == raider_ids

    def all_hidden():
        return all(item.hidden for item in shop.rows(Item, Item.ticket_id.in_(raider_ids)))

    assert eventually(all_hidden)

    # Live: one more copy arrives, every row of the group counts it.
    raid(shop, count=1, first=5)
    expect(header.get_by_test_id("group-cluster")).to_have_text("×6")
    expect(marks).to_have_count(6)
    for i in range(6):
        expect(marks.nth(i)).to_have_attribute("aria-label", "6 messages quasi identiques")
    no_csp_refusal(page)
    trouble.assert_none()


def test_x_on_a_group_then_r_answers_every_message_of_it_at_once(watched, shop, trouble):
    page = watched
    shop.ingest(dm(1, "Léa Moreau", PLAIN, 20))
    raid(shop)
    sign_in(page, shop.url)
    expect(rows(page)).to_have_count(6)
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.get_by_test_id("bulk-bar")).to_contain_text("5 tickets sélectionnés")
    page.keyboard.press("r")
    dialog = page.get_by_test_id("group-reply")
    expect(dialog).to_contain_text("Répondre aux 5 messages du groupe")
    expect(page.get_by_test_id("group-reply-box")).to_be_focused()
    page.keyboard.type("Ce concours est faux : ne cliquez pas sur ce lien.")
    page.keyboard.press("Control+Enter")
    expect(
        page.get_by_test_id("toast").filter(has_text="Réponse partie sous 5 messages du groupe")
    ).to_be_visible()
    expect(dialog).to_have_count(0)

    replies = shop.rows(Outbox, Outbox.action == "reply")
    assert len(replies) == 5
    assert {row.text for row in replies} == {"Ce concours est faux : ne cliquez pas sur ce lien."}
    page.keyboard.press("x")  # nothing selected any more: x picks the group again
    expect(page.get_by_test_id("bulk-bar")).to_contain_text("5 tickets sélectionnés")
    page.keyboard.press("k")
    page.keyboard.press("x")  # Léa too: a mixed selection cannot be hidden as one group
    page.keyboard.press("h")
    expect(page.get_by_test_id("toast").filter(has_text="un seul groupe")).to_be_visible()
    assert shop.rows(Outbox, Outbox.action == "hide") == []
    no_csp_refusal(page)
    trouble.assert_none()
