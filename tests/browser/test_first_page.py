"""The first page in a real browser: sign in, the live list, the timeline, replying, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from connectors.base import Author
from inbox import ingest
from tests.support import LiveServer, World, make_item

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/first_page.png"
LIVE_WAIT_MS = 5_000
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_BODY = "<script>alert(1)</script>"


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def person(key: str, name: str) -> Author:
    return Author(id=key, handle=f"@{key}", name=name)


class Site:
    """The live server, its demo channel, and a way to push platform items into it."""

    def __init__(self, app, server: LiveServer, channel_id: int):
        self.app, self.url, self.channel_id = app, server.url, channel_id

    def ingest(self, *items) -> None:
        with self.app.app_context():
            ingest.ingest_batch(self.channel_id, list(items))


@pytest.fixture
def site(live_app):
    """A served inbox with one CM and a demo channel (its replies always go through)."""
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        channel = world.channel(type_="demo", config={"backlog": 0})
        ingest.ingest_batch(
            channel.id,
            [
                make_item(
                    "c1",
                    "comment",
                    thread_id="post-1",
                    author=person("lea", "Léa Moreau"),
                    body="Le sac Céleste existe en camel ?",
                    created_at=ago(90),
                ),
                make_item(
                    "d1",
                    "dm",
                    thread_id="conv-1",
                    author=person("hugo", "Hugo Petit"),
                    body="Bonjour, ma commande 4412 est toujours en préparation, normal ?",
                    created_at=ago(30),
                ),
                make_item(
                    "r1",
                    "review",
                    author=person("emily", "Emily Clarke"),
                    body="Lovely Alba jumper, delivery was a bit slow.",
                    rating=4,
                    created_at=ago(12),
                ),
            ],
        )
        channel_id = channel.id
    with LiveServer(live_app) as server:
        yield Site(live_app, server, channel_id)


def sign_in(page: Page, site: Site, password: str = "password-123") -> None:
    page.goto(site.url)
    page.get_by_test_id("login-email").fill("ana@example.com")
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def signed_in(page: Page, site: Site) -> None:
    sign_in(page, site)
    expect(page.get_by_test_id("user-name")).to_have_text("Ana")
    expect(page.get_by_test_id("live-status")).to_have_class("live is-on")


def open_ticket(page: Page, author: str) -> None:
    page.get_by_test_id("ticket-row").filter(has_text=author).click()
    expect(page.get_by_test_id("ticket-author")).to_have_text(author)


def test_wrong_password_shows_the_api_error_then_the_right_one_shows_the_list(page, site):
    sign_in(page, site, password="not-the-password")
    expect(page.get_by_test_id("login-error")).to_have_text("e-mail ou mot de passe incorrect")

    page.get_by_test_id("login-password").fill("password-123")
    page.get_by_test_id("login-submit").click()

    rows = page.get_by_test_id("ticket-row")
    expect(rows).to_have_count(3)
    # the queue sorts by urgency by default; latest activity is one choice away
    page.get_by_test_id("queue-sort").select_option("activity")
    expect(rows.nth(0)).to_contain_text("Emily Clarke")
    expect(rows.nth(1)).to_contain_text("Hugo Petit")
    expect(rows.nth(1)).to_contain_text("ma commande 4412")
    expect(rows.nth(1)).to_contain_text("non attribué")
    expect(rows.nth(2)).to_contain_text("Léa Moreau")


def test_new_tickets_and_items_arrive_live(page, site, trouble):
    signed_in(page, site)
    rows = page.get_by_test_id("ticket-row")
    expect(rows).to_have_count(3)
    page.get_by_test_id("queue-sort").select_option("activity")

    site.ingest(make_item("d2", "dm", thread_id="conv-2", author=person("zoe", "Zoé Bonnet")))
    expect(rows).to_have_count(4, timeout=LIVE_WAIT_MS)
    expect(rows.nth(0)).to_contain_text("Zoé Bonnet")

    open_ticket(page, "Léa Moreau")
    timeline = page.get_by_test_id("timeline-item")
    expect(timeline).to_have_count(1)
    site.ingest(
        make_item(
            "c2",
            "comment",
            thread_id="post-1",
            author=person("lea", "Léa Moreau"),
            body="Et en taille 38 ?",
        )
    )
    expect(timeline).to_have_count(2, timeout=LIVE_WAIT_MS)
    expect(timeline.nth(1)).to_contain_text("Et en taille 38 ?")
    expect(rows.nth(0)).to_contain_text("Léa Moreau")  # fresh activity moved it to the top
    expect(rows.nth(0)).to_contain_text("2 messages")
    trouble.assert_none()


def test_a_reply_from_the_box_shows_in_the_timeline_and_gets_sent(page, site, trouble):
    signed_in(page, site)
    open_ticket(page, "Hugo Petit")
    page.get_by_test_id("take-ticket").click()
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("Attribué à Ana")

    page.get_by_test_id("reply-box").fill("Bonjour Hugo, je regarde votre commande tout de suite.")
    page.get_by_test_id("reply-box").press("Control+Enter")

    reply = page.locator("[data-testid=timeline-item][data-direction=out]")
    expect(reply).to_contain_text("je regarde votre commande")
    expect(reply.get_by_test_id("delivery")).to_have_attribute(
        "data-delivery", "sent", timeout=LIVE_WAIT_MS
    )
    expect(reply.get_by_test_id("delivery")).to_have_text("envoyé")
    expect(page.get_by_test_id("reply-box")).to_have_value("")
    page.screenshot(path=SCREENSHOT)

    page.get_by_test_id("close-ticket").click()
    expect(page.get_by_test_id("ticket-row").filter(has_text="Hugo Petit")).to_have_count(0)
    trouble.assert_none()


def test_hostile_names_and_bodies_stay_text(page, site, trouble):
    site.ingest(
        make_item("x1", "dm", author=person("evil", HOSTILE_NAME), body=HOSTILE_BODY),
    )
    signed_in(page, site)
    page.get_by_test_id("queue-sort").select_option("activity")
    row = page.get_by_test_id("ticket-row").nth(0)
    expect(row).to_contain_text(HOSTILE_NAME)
    expect(row).to_contain_text(HOSTILE_BODY)

    row.click()
    expect(page.get_by_test_id("ticket-author")).to_have_text(HOSTILE_NAME)
    expect(page.get_by_test_id("timeline-item").locator(".entry-body")).to_have_text(HOSTILE_BODY)
    assert page.locator("img").count() == 0
    assert page.locator("body script").count() == 0
    trouble.assert_none()


def test_a_comment_shows_its_post_and_the_persons_other_conversations(page, site, trouble):
    lea = person("lea", "Léa Moreau")
    site.ingest(
        make_item(
            "c9",
            "comment",
            thread_id="post-9",
            post_id="post-9",
            author=lea,
            body="Toujours pas de réponse à mon message privé…",
            post_text=f"Nouvelle collection {HOSTILE_BODY}",
            post_url="https://social.maisonlumiere.example/post-9",
        ),
        make_item("d9", "dm", thread_id="conv-9", author=lea, body="Où en est ma commande 88 ?"),
    )
    signed_in(page, site)
    page.get_by_test_id("ticket-row").filter(has_text="Toujours pas de réponse").click()
    post = page.get_by_test_id("post-context")
    expect(post).to_contain_text(f"Nouvelle collection {HOSTILE_BODY}")  # text, not markup
    expect(page.get_by_test_id("post-link")).to_have_attribute(
        "href", "https://social.maisonlumiere.example/post-9"
    )
    history = page.get_by_test_id("history-entry")
    expect(history).to_have_count(2)  # her first comment and her DM, not this ticket
    history.filter(has_text="ma commande 88").click()
    expect(page.get_by_test_id("timeline-item")).to_contain_text("Où en est ma commande 88 ?")
    expect(page.get_by_test_id("post-context")).to_have_count(0)  # a DM answers no post
    trouble.assert_none()
