"""Two CMs in two browsers: presence, live replies, the reply-collision prompt, racing takes,
catching up after a network drop, and hostile text in every new view."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from connectors.base import Author
from inbox import db, ingest
from inbox.models import CannedReply, Item, Ticket, User
from tests.browser.conftest import Trouble
from tests.support import LiveServer, World, make_item

pytestmark = pytest.mark.browser

PRESENCE_MS = 1_000
LIVE_WAIT_MS = 5_000
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TITLE = "<script>alert(2)</script>"
HOSTILE_BODY = "<svg onload=alert(3)> {author_name}"
CONFLICT = re.compile(r"status of 409")


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def person(name: str) -> Author:
    key = re.sub(r"\W+", "-", name.lower())
    return Author(id=key, handle=f"@{key}", name=name)


class Office:
    """A served inbox where Ana and Bea work the same team's channel."""

    def __init__(self, app, url: str, channel_id: int):
        self.app, self.url, self.channel_id = app, url, channel_id

    def ingest(self, *items) -> None:
        with self.app.app_context():
            ingest.ingest_batch(self.channel_id, list(items))

    def scalar(self, query):
        with self.app.app_context(), db.transaction() as s:
            return s.scalar(query)

    def scalars(self, query):
        with self.app.app_context(), db.transaction() as s:
            return s.scalars(query).all()


@pytest.fixture
def office(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        world.user("bea@example.com")
        channel = world.channel(type_="demo", config={"backlog": 0, "rate": 0})
        ingest.ingest_batch(
            channel.id,
            [
                make_item("d1", "dm", thread_id="conv-1", author=person("Léa Moreau"),
                          body="Ma commande 4412 n'est pas arrivée", created_at=ago(20)),
                make_item("d2", "dm", thread_id="conv-2", author=person("Hugo Petit"),
                          body="Vous livrez en Belgique ?", created_at=ago(10)),
            ],
        )  # fmt: skip
        channel_id = channel.id
    with LiveServer(live_app) as server:
        yield Office(live_app, server.url, channel_id)


@pytest.fixture
def desks(browser):
    """Open a signed-in page per CM, each in its own browser context (its own session)."""
    opened = []

    def open_as(url: str, email: str) -> tuple[Page, Trouble]:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
        context.set_default_timeout(10_000)
        opened.append(context)
        page = context.new_page()
        trouble = Trouble()
        trouble.watch(page)
        page.goto(url)
        page.get_by_test_id("login-email").fill(email)
        page.get_by_test_id("login-password").fill("password-123")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("live-status")).to_have_class("live is-on")
        return page, trouble

    yield open_as
    for context in opened:
        context.close()


def calm(trouble: Trouble, conflicts_expected: bool = False) -> None:
    """Nothing went wrong, apart from the 409 answers the test provoked on purpose."""
    errors = trouble.console_errors
    if conflicts_expected:
        errors = [text for text in errors if not CONFLICT.search(text)]
    assert (trouble.dialogs, errors, trouble.page_errors) == ([], [], [])


def row_of(page: Page, author: str):
    return page.get_by_test_id("ticket-row").filter(has_text=author)


def test_presence_and_typing_show_within_a_second(desks, office):
    ana, ana_trouble = desks(office.url, "ana@example.com")
    bea, bea_trouble = desks(office.url, "bea@example.com")

    ana.keyboard.press("Enter")
    expect(ana.get_by_test_id("ticket-author")).to_have_text("Léa Moreau")
    viewer = row_of(bea, "Léa Moreau").get_by_test_id("row-viewer")
    expect(viewer).to_have_attribute("title", "Ana regarde", timeout=PRESENCE_MS)

    bea.keyboard.press("Enter")
    expect(bea.get_by_test_id("ticket-presence")).to_contain_text(
        "Ana regarde", timeout=PRESENCE_MS
    )
    expect(ana.get_by_test_id("ticket-presence")).to_contain_text(
        "Bea regarde", timeout=PRESENCE_MS
    )

    ana.keyboard.press("r")
    ana.keyboard.type("Bonjour Léa, je regarde")
    expect(bea.get_by_test_id("ticket-presence")).to_contain_text("Ana écrit…", timeout=PRESENCE_MS)
    expect(viewer).to_have_attribute("title", "Ana écrit…", timeout=PRESENCE_MS)
    expect(viewer).to_have_class(re.compile("is-typing"))

    ana.keyboard.press("Escape")  # out of the box
    ana.keyboard.press("u")  # and out of the ticket
    expect(bea.get_by_test_id("ticket-presence")).to_have_count(0, timeout=PRESENCE_MS)
    expect(viewer).to_have_count(0)
    calm(ana_trouble)
    calm(bea_trouble)


def test_a_reply_shows_live_for_the_teammate_whose_late_reply_asks_to_look_first(desks, office):
    ana, ana_trouble = desks(office.url, "ana@example.com")
    bea, bea_trouble = desks(office.url, "bea@example.com")
    for page in (ana, bea):
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("ticket-author")).to_have_text("Léa Moreau")
    bea.keyboard.press("r")
    bea.keyboard.type("Bonjour Léa, je vérifie votre colis.")

    ana.keyboard.press("r")
    ana.keyboard.type("Bonjour Léa, votre colis part ce soir.")
    ana.keyboard.press("Control+Enter")
    on_bea = bea.locator("[data-testid=timeline-item][data-direction=out]")
    expect(on_bea).to_contain_text("votre colis part ce soir", timeout=LIVE_WAIT_MS)
    expect(on_bea.get_by_test_id("delivery")).to_have_attribute("data-delivery", "sent")

    bea.keyboard.press("Control+Enter")
    collision = bea.get_by_test_id("collision")
    expect(collision).to_contain_text("Quelqu'un a répondu pendant que vous écriviez")
    expect(collision).to_contain_text("Ana")
    expect(collision).to_contain_text("votre colis part ce soir")
    box = bea.get_by_test_id("reply-box")
    expect(box).to_have_value("Bonjour Léa, je vérifie votre colis.")
    bea.keyboard.press("Escape")  # read first: the draft stays
    expect(collision).to_have_count(0)
    expect(box).to_have_value("Bonjour Léa, je vérifie votre colis.")

    ana.keyboard.press("r")
    ana.keyboard.type("Et le numéro de suivi arrive.")
    ana.keyboard.press("Control+Enter")
    expect(on_bea).to_have_count(2, timeout=LIVE_WAIT_MS)
    expect(box).to_be_focused()  # "read first" left her in her box
    bea.keyboard.press("Control+Enter")
    expect(collision).to_contain_text("numéro de suivi")
    bea.keyboard.press("Control+Enter")  # send anyway
    expect(collision).to_have_count(0)
    expect(on_bea).to_have_count(3)
    expect(box).to_have_value("")

    bodies = office.scalars(sa.select(Item.body).where(Item.direction == "out").order_by(Item.id))
    assert bodies == [
        "Bonjour Léa, votre colis part ce soir.",
        "Et le numéro de suivi arrive.",
        "Bonjour Léa, je vérifie votre colis.",
    ]
    calm(ana_trouble)
    calm(bea_trouble, conflicts_expected=True)


def test_both_pressing_a_leaves_one_owner_and_tells_the_other(desks, office):
    ana, ana_trouble = desks(office.url, "ana@example.com")
    bea, bea_trouble = desks(office.url, "bea@example.com")
    for page in (ana, bea):
        expect(page.locator("[data-testid=ticket-row][aria-selected=true]")).to_contain_text(
            "Léa Moreau"
        )
    ana.keyboard.press("a")
    bea.keyboard.press("a")

    query = sa.select(Ticket.assignee_id).where(Ticket.author_name == "Léa Moreau")
    deadline = time.monotonic() + 5
    while office.scalar(query) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    owner = office.scalar(sa.select(User.name).where(User.id == office.scalar(query)))
    winner, loser = (ana, bea) if owner == "Ana" else (bea, ana)
    message = loser.get_by_test_id("toast").filter(has_text=f"{owner} a déjà pris ce ticket.")
    expect(message).to_be_visible()
    expect(winner.get_by_test_id("toast").filter(has_text="déjà pris")).to_have_count(0)
    for page in (ana, bea):
        avatar = row_of(page, "Léa Moreau").get_by_test_id("row-assignee")
        expect(avatar).to_have_attribute("title", f"Attribué à {owner}")
    calm(ana_trouble, conflicts_expected=True)
    calm(bea_trouble, conflicts_expected=True)


def test_a_note_mentioning_a_teammate_notifies_her(desks, office):
    ana, ana_trouble = desks(office.url, "ana@example.com")
    bea, bea_trouble = desks(office.url, "bea@example.com")
    ana.keyboard.press("Enter")
    ana.keyboard.press("n")
    box = ana.get_by_test_id("reply-box")
    expect(box).to_have_attribute("data-mode", "note")
    ana.keyboard.type("Peux-tu vérifier le colis ? @be")
    expect(ana.get_by_test_id("mention-list")).to_contain_text("@bea")
    ana.keyboard.press("Tab")
    expect(box).to_have_value("Peux-tu vérifier le colis ? @bea ")
    ana.keyboard.press("Control+Enter")
    note = ana.locator("[data-testid=timeline-item][data-direction=note]")
    expect(note.locator(".mention")).to_have_text("@bea")

    toast = bea.get_by_test_id("toast").filter(has_text="Ana vous a mentionné·e dans une note.")
    expect(toast).to_be_visible(timeout=LIVE_WAIT_MS)
    toast.get_by_role("button", name="Ouvrir").click()
    expect(bea.get_by_test_id("ticket-author")).to_have_text("Léa Moreau")
    expect(bea.locator("[data-testid=timeline-item][data-direction=note]")).to_contain_text(
        "Peux-tu vérifier le colis ?"
    )
    expect(ana.get_by_test_id("toast").filter(has_text="mentionné")).to_have_count(0)
    calm(ana_trouble)
    calm(bea_trouble)


def test_after_a_network_drop_the_page_catches_up_without_reloading(desks, office):
    bea, bea_trouble = desks(office.url, "bea@example.com")
    count = bea.get_by_test_id("ticket-count")
    expect(count).to_have_text("2")
    office.ingest(make_item("d3", "dm", thread_id="conv-3", author=person("Zoé Bonnet")))
    expect(count).to_have_text("3", timeout=LIVE_WAIT_MS)  # an event seen: the point to resume
    bea.evaluate("window.sameDocument = true")

    bea.context.set_offline(True)
    expect(bea.get_by_test_id("live-status")).to_have_class("live is-off", timeout=LIVE_WAIT_MS)
    for i in range(5):  # they keep arriving, one batch each
        office.ingest(
            make_item(f"late-{i}", "dm", thread_id=f"late-{i}", author=person(f"Late {i}"))
        )
    office.ingest(make_item("d2-more", "dm", thread_id="conv-2", author=person("Hugo Petit")))
    bea.wait_for_timeout(500)
    expect(count).to_have_text("3")

    bea.context.set_offline(False)
    expect(bea.get_by_test_id("live-status")).to_have_class("live is-on", timeout=LIVE_WAIT_MS)
    expect(count).to_have_text("8", timeout=LIVE_WAIT_MS)
    for i in range(5):
        expect(row_of(bea, f"Late {i}")).to_have_count(1)
    expect(row_of(bea, "Hugo Petit")).to_contain_text("2 messages")
    assert bea.evaluate("window.sameDocument") is True
    calm(bea_trouble)


def test_hostile_text_stays_text_in_palette_canned_replies_and_presence(desks, office):
    with office.app.app_context(), db.transaction() as s:
        s.execute(sa.update(User).where(User.email == "bea@example.com").values(name=HOSTILE_NAME))
        s.add(CannedReply(title=HOSTILE_TITLE, body=HOSTILE_BODY))
    office.ingest(
        make_item("x1", "dm", thread_id="conv-x", author=person(HOSTILE_NAME), body=HOSTILE_TITLE,
                  created_at=ago(60)),
    )  # fmt: skip
    ana, ana_trouble = desks(office.url, "ana@example.com")
    bea, bea_trouble = desks(office.url, "bea@example.com")
    for page in (ana, bea):
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("ticket-author")).to_have_text(HOSTILE_NAME)
    expect(ana.get_by_test_id("ticket-presence")).to_contain_text(f"{HOSTILE_NAME} regarde")

    ana.keyboard.press("Control+K")
    ana.keyboard.type("script")
    option = ana.get_by_test_id("palette-option").first
    expect(option).to_contain_text(HOSTILE_TITLE)
    expect(option).to_contain_text(f"<svg onload=alert(3)> {HOSTILE_NAME}")
    ana.keyboard.press("Enter")
    box = ana.get_by_test_id("reply-box")
    expect(box).to_have_value(f"<svg onload=alert(3)> {HOSTILE_NAME}")
    ana.keyboard.press("Control+Enter")
    reply = ana.locator("[data-testid=timeline-item][data-direction=out] .entry-body")
    expect(reply).to_have_text(f"<svg onload=alert(3)> {HOSTILE_NAME}")
    expect(bea.locator("[data-testid=timeline-item][data-direction=out] .entry-body")).to_have_text(
        f"<svg onload=alert(3)> {HOSTILE_NAME}", timeout=LIVE_WAIT_MS
    )

    ana.keyboard.press("c")
    expect(ana.get_by_test_id("canned-option")).to_contain_text(HOSTILE_TITLE)
    ana.keyboard.press("Escape")
    for page in (ana, bea):
        assert page.locator("img").count() == 0
        assert page.locator("#app svg:not(.ch-icon)").count() == 0
        assert page.locator("body script").count() == 0
    calm(ana_trouble)
    calm(bea_trouble)
