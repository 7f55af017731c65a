"""Keyboard triage in a real browser: a CM works the queue without the mouse; the API checks it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from inbox import db, ingest, sla
from inbox.models import Channel, Item, Outbox, SlaPolicy, Ticket
from tests.browser.support import ago, eventually, person
from tests.conftest import build_app
from tests.support import LiveServer, World, make_item

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/triage.png"
UNDO_WINDOW = 3
PARIS = ZoneInfo("Europe/Paris")
FIRST_NAMES = (
    "Léa Hugo Chloé Louis Emma Jules Inès Arthur Manon Paul Camille Noah Jade Adam Lina Gabriel "
    "Zoé Raphaël Alice"
).split()
SPAMMER = "Promo Bot"
CANNED_BODY = "Bonjour {first_name}, merci pour votre message ! {agent_name}"
# Every key the issue names, as the shortcut table writes them.
ISSUE_KEYS = (
    "j k Enter o Escape u a Shift+A r n Ctrl+Enter e s l p h # f x / z ? Ctrl+K Meta+K".split()
)


class Desk:
    """A served inbox (3-second undo window), Ana, her team's demo channel, a canned reply."""

    def __init__(self, app, url: str, channel_id: int, ana_id: int):
        self.app, self.url, self.channel_id, self.ana_id = app, url, channel_id, ana_id

    def ingest(self, *items) -> None:
        with self.app.app_context():
            ingest.ingest_batch(self.channel_id, list(items))

    def api(self, path: str, email: str = "ana@example.com"):
        with self.app.app_context():
            response = World(self.app).client(email).get(path)
            assert response.status_code == 200, response.json
            return response.json

    def rows(self, model, *where):
        with self.app.app_context(), db.transaction() as s:
            return s.scalars(sa.select(model).where(*where).order_by(model.id)).all()


@pytest.fixture
def undo_app(database_url, tmp_path):
    """An app whose replies, hides and deletes wait three seconds before leaving."""
    app = build_app(database_url, tmp_path, JOBS_BACKEND="inprocess", UNDO_WINDOW=UNDO_WINDOW)
    yield app
    app.extensions["jobs"].pool.shutdown(wait=True)
    app.extensions["db_engine"].dispose()


@pytest.fixture
def desk(undo_app):
    with undo_app.app_context():
        world = World(undo_app)
        ana = world.user("ana@example.com")
        world.user("manon@example.com", role="manager")
        channel = world.channel(type_="demo", config={"backlog": 0, "rate": 0})
        with db.transaction() as s:  # round-the-clock targets: the queue order is known
            s.add(
                SlaPolicy(
                    name="Tests",
                    position=1,
                    first_response_minutes=60,
                    next_response_minutes=60,
                    business_hours=False,
                    warn_minutes=15,
                )
            )
        manager = world.client("manon@example.com")
        created = manager.post(
            "/api/canned-replies", json={"title": "Merci du message", "body": CANNED_BODY}
        )
        assert created.status_code == 201, created.json
        ids = (channel.id, ana.id)
    with LiveServer(undo_app) as server:
        yield Desk(undo_app, server.url, *ids)


def dm(i: int, name: str, minutes_ago: float, body: str | None = None):
    return make_item(
        f"dm-{i}",
        "dm",
        thread_id=f"conv-{i}",
        author=person(name),
        body=body or f"Bonjour, question {i} sur ma commande",
        created_at=ago(minutes_ago),
    )


def sign_in(page: Page, url: str, email: str = "ana@example.com") -> None:
    page.goto(url)
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill("password-123")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("live-status")).to_have_class("live is-on")


def palette(page: Page, text: str) -> None:
    """Run a command from the Ctrl+K palette."""
    page.keyboard.press("Control+K")
    expect(page.get_by_test_id("palette")).to_be_visible()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("palette")).to_have_count(0)


def triage_one(page: Page, author: str, screenshot: str | None = None) -> None:
    """Take the open ticket, answer with the canned reply (or deal with spam), tag it, close it."""
    keys = page.keyboard
    keys.press("a")
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("Attribué à Ana")
    tags = page.get_by_test_id("ticket-tags")
    if author == SPAMMER:
        keys.press("l")
        keys.type("spam")
        keys.press("Enter")
        expect(tags).to_contain_text("spam")
        keys.press("h")
        undo = page.locator("[data-testid=toast][data-kind=undo]")
        expect(undo.filter(has_text="Masquage dans")).to_have_count(1)
        keys.press("z")
        expect(page.get_by_test_id("toast").filter(has_text="Masquage annulé")).to_have_count(1)
        expect(page.get_by_test_id("moderation")).to_have_attribute("data-state", "cancelled")
        keys.press("h")  # this time it goes
        expect(undo.filter(has_text="Masquage dans")).to_have_count(1)
    else:
        keys.press("c")
        expect(page.get_by_test_id("canned")).to_be_visible()
        keys.type("merci")
        keys.press("Enter")
        first = author.split(" ")[0]
        box = page.get_by_test_id("reply-box")
        expect(box).to_have_value(f"Bonjour {first}, merci pour votre message ! Ana")
        expect(box).to_be_focused()
        keys.press("Control+Enter")
        expect(box).to_have_value("")
        expect(page.locator("[data-testid=timeline-item][data-direction=out]")).to_have_count(1)
        keys.press("l")
        keys.type("traité")
        keys.press("Enter")
        expect(tags).to_contain_text("traité")
    if screenshot:
        page.screenshot(path=screenshot)
    keys.press("e")


def test_a_cm_triages_twenty_tickets_without_the_mouse(page, desk, trouble):
    names = [f"{first} {chr(65 + i)}." for i, first in enumerate(FIRST_NAMES)]
    items = [dm(i, name, minutes_ago=40 - i) for i, name in enumerate(names)]
    spam = make_item(
        "spam-1",
        "comment",
        thread_id="c-spam",
        post_id="post-7",
        author=person(SPAMMER),
        body="GAGNEZ un iPhone !!! http://promo.example",
        created_at=ago(33.5),
    )
    desk.ingest(*items, spam)
    sign_in(page, desk.url)  # the mouse is not touched from here on
    expect(page.get_by_test_id("ticket-count")).to_have_text("20")
    pane = page.get_by_test_id("ticket-pane")

    page.keyboard.press("Enter")  # opens the most urgent ticket: the one waiting longest
    seen = []
    for n in range(20):
        expect(pane).to_be_visible()
        if seen:
            expect(pane).not_to_have_attribute("data-ticket-id", str(seen[-1]))
        seen.append(int(pane.get_attribute("data-ticket-id")))
        author = page.get_by_test_id("ticket-author").inner_text()
        if n == 0:
            assert author == names[0]
        triage_one(page, author, screenshot=SCREENSHOT if n == 9 else None)
    expect(page.get_by_test_id("ticket-count")).to_have_text("0")
    expect(pane).to_have_count(0)
    assert len(set(seen)) == 20

    closed = desk.api("/api/tickets?status=closed&limit=50")["tickets"]
    assert len(closed) == 20
    assert {row["assignee_id"] for row in closed} == {desk.ana_id}
    by_author = {row["author_name"]: row for row in closed}
    assert by_author[SPAMMER]["tags"] == ["spam"]
    assert all(by_author[name]["tags"] == ["traité"] for name in names)

    def all_sent():
        replies = desk.rows(Outbox, Outbox.action == "reply")
        return len(replies) == 19 and all(row.state == "sent" for row in replies)

    assert eventually(all_sent)
    for name in names[:3]:
        detail = desk.api(f"/api/tickets/{by_author[name]['id']}")
        (reply,) = [item for item in detail["items"] if item["direction"] == "out"]
        assert reply["body"] == f"Bonjour {name.split()[0]}, merci pour votre message ! Ana"
        assert reply["delivery"] == "sent"

    spam_id = by_author[SPAMMER]["id"]
    first_hide = desk.rows(Outbox, Outbox.ticket_id == spam_id)[0]
    assert (first_hide.action, first_hide.state) == ("hide", "cancelled")
    assert eventually(lambda: desk.rows(Item, Item.ticket_id == spam_id)[0].hidden)
    assert [row.state for row in desk.rows(Outbox, Outbox.ticket_id == spam_id)] == [
        "cancelled",
        "sent",
    ]
    trouble.assert_none()


def test_the_help_overlay_lists_every_shortcut_of_the_one_table(page, desk, trouble):
    desk.ingest(dm(1, "Léa Moreau", 5))
    sign_in(page, desk.url)
    page.keyboard.press("?")
    overlay = page.get_by_test_id("help-overlay")
    expect(overlay).to_be_visible()
    table = page.evaluate(
        "async () => (await import('/static/app/keys.js')).SHORTCUTS.map((s) => [s.id, s.keys])"
    )
    listed = page.get_by_test_id("help-shortcut")
    expect(listed).to_have_count(len(table))
    assert {key for _, keys in table for key in keys} >= set(ISSUE_KEYS)
    for shortcut_id, _ in table:
        row = overlay.locator(f"[data-testid=help-shortcut][data-id={shortcut_id}]")
        expect(row.locator("kbd").first).to_be_visible()
        expect(row.locator("dd")).not_to_have_text(f"shortcut.{shortcut_id}")
    expect(overlay.locator("[data-id=palette]")).to_contain_text("Ctrl")
    expect(overlay.locator("[data-id=palette]")).to_contain_text("⌘")
    page.keyboard.press("?")
    expect(overlay).to_have_count(0)
    trouble.assert_none()


def raw_keys_on_screen(page: Page) -> list[str]:
    """Texts on screen that look like a translation key left untranslated."""
    return page.evaluate(
        """() => {
          const found = [];
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) {
            const text = walker.currentNode.textContent.trim();
            if (/^[a-z]+(\\.[a-zA-Z_]+)+$/.test(text)) found.push(text);
          }
          return found;
        }"""
    )


def test_the_ui_switches_to_english_and_back_and_is_saved(page, desk, trouble):
    desk.ingest(dm(1, "Léa Moreau", 5))
    sign_in(page, desk.url)
    french, english = page.evaluate(
        """async () => [
          Object.keys((await import('/static/app/strings-fr.js')).default).sort(),
          Object.keys((await import('/static/app/strings-en.js')).default).sort(),
        ]"""
    )
    assert french == english
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("view-all")).to_have_text("Tous")

    palette(page, "english")
    expect(page.get_by_test_id("view-all")).to_have_text("All")
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("Unassigned")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("ticket-row").first).to_contain_text("unassigned")
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-overlay")).to_contain_text("Keyboard shortcuts")
    page.keyboard.press("Escape")
    assert raw_keys_on_screen(page) == []
    assert desk.api("/api/me")["locale"] == "en"

    page.reload()  # chosen per user: it stays after a reload
    expect(page.get_by_test_id("view-all")).to_have_text("All")
    palette(page, "français")
    expect(page.get_by_test_id("view-all")).to_have_text("Tous")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert desk.api("/api/me")["locale"] == "fr"
    trouble.assert_none()


def cursor_row(page: Page):
    return page.locator("[data-testid=ticket-row][aria-selected=true]")


def test_single_keys_obey_the_setting_while_ctrl_k_always_works(page, desk, trouble):
    desk.ingest(dm(1, "Léa Moreau", 9), dm(2, "Hugo Petit", 5))
    sign_in(page, desk.url)
    expect(cursor_row(page)).to_contain_text("Léa Moreau")
    page.keyboard.press("j")
    expect(cursor_row(page)).to_contain_text("Hugo Petit")

    page.keyboard.press("?")
    toggle = page.get_by_test_id("help-shortcuts-toggle")
    expect(toggle).to_be_checked()
    while not toggle.evaluate("el => el === document.activeElement"):
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(toggle).not_to_be_checked()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("help-overlay")).to_have_count(0)
    assert eventually(lambda: desk.api("/api/me")["shortcuts"] is False)

    page.keyboard.press("k")
    page.keyboard.press("a")
    expect(cursor_row(page)).to_contain_text("Hugo Petit")
    palette(page, "activer raccourcis")
    assert eventually(lambda: desk.api("/api/me")["shortcuts"] is True)
    page.keyboard.press("k")
    expect(cursor_row(page)).to_contain_text("Léa Moreau")
    trouble.assert_none()


def snoozed(desk: Desk) -> dict[str, datetime]:
    rows = desk.api("/api/tickets?status=snoozed")["tickets"]
    return {row["author_name"]: datetime.fromisoformat(row["snoozed_until"]) for row in rows}


def test_snooze_until_tomorrow_nine_in_the_users_timezone(page, desk, trouble):
    desk.ingest(dm(1, "Léa Moreau", 9), dm(2, "Hugo Petit", 5))
    sign_in(page, desk.url)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ticket-author")).to_have_text("Léa Moreau")
    page.keyboard.press("s")
    options = page.get_by_test_id("snooze-option")
    expect(options).to_have_count(4)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ticket-author")).to_have_text("Hugo Petit")  # and on to the next

    tomorrow = datetime.now(PARIS).date() + timedelta(days=1)
    nine = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=PARIS)
    assert eventually(lambda: snoozed(desk)) == {"Léa Moreau": nine}

    page.keyboard.press("s")
    page.keyboard.type("choix")
    page.keyboard.press("Enter")
    field = page.get_by_test_id("snooze-custom-input")
    expect(field).to_be_focused()
    field.fill("2031-03-02T14:30")  # a datetime field is typed in place, still no mouse
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ticket-pane")).to_have_count(0)
    later = datetime(2031, 3, 2, 14, 30, tzinfo=PARIS)
    assert eventually(lambda: len(snoozed(desk)) == 2 and snoozed(desk))["Hugo Petit"] == later
    trouble.assert_none()


def test_bulk_selection_and_post_groups(page, desk, trouble):
    comments = [
        make_item(
            f"c{i}",
            "comment",
            thread_id=f"c{i}",
            post_id="post-42",
            author=person(f"Fan {i}"),
            body=f"Trop beau ce sac {i}",
            created_at=ago(30 - i),
        )
        for i in range(3)
    ]
    desk.ingest(*comments, dm(1, "Léa Moreau", 40), dm(2, "Hugo Petit", 20))
    sign_in(page, desk.url)
    header = page.get_by_test_id("group-header")
    expect(header).to_have_count(1)
    expect(header).to_contain_text("3 commentaires")

    page.keyboard.press("j")  # Léa, then the post's header
    expect(header).to_have_attribute("aria-selected", "true")
    page.keyboard.press("x")
    expect(page.get_by_test_id("bulk-bar")).to_contain_text("3 tickets sélectionnés")
    page.keyboard.press("l")
    expect(page.get_by_test_id("tags")).to_contain_text("3 tickets")
    page.keyboard.type("fans")
    page.keyboard.press("Enter")
    expect(
        page.get_by_test_id("toast").filter(has_text="Étiquette ajoutée à 3 tickets")
    ).to_be_visible()
    expect(page.get_by_test_id("bulk-bar")).to_have_count(0)

    page.keyboard.press("k")
    page.keyboard.press("x")  # Léa
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")  # the first comment
    page.keyboard.press("p")
    page.keyboard.type("urg")
    page.keyboard.press("Enter")
    expect(
        page.get_by_test_id("toast").filter(has_text="Priorité changée sur 2 tickets")
    ).to_be_visible()
    page.keyboard.press("x")
    page.keyboard.press("e")
    expect(page.get_by_test_id("ticket-count")).to_have_text("4")
    expect(cursor_row(page)).to_contain_text("Fan 1")  # the cursor takes the next one
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")  # Hugo
    page.keyboard.press("a")
    expect(page.get_by_test_id("toast").filter(has_text="2 tickets pris")).to_be_visible()

    rows = {row["author_name"]: row for row in desk.api("/api/tickets?limit=50")["tickets"]}
    assert [rows[f"Fan {i}"]["tags"] for i in range(3)] == [["fans"]] * 3
    assert rows["Léa Moreau"]["priority"] == "urgent"
    assert rows["Fan 0"]["status"] == "closed" and rows["Fan 0"]["priority"] == "urgent"
    assert rows["Hugo Petit"]["tags"] == [] and rows["Hugo Petit"]["priority"] == "normal"
    assert rows["Hugo Petit"]["assignee_id"] == rows["Fan 1"]["assignee_id"] == desk.ana_id
    assert rows["Fan 2"]["assignee_id"] is None
    trouble.assert_none()


def test_delete_asks_first_and_z_takes_back_deletes_and_replies(page, desk, trouble):
    desk.ingest(dm(1, "Léa Moreau", 9, body="Premier message"), dm(2, "Hugo Petit", 5))
    desk.ingest(make_item("dm-1b", "dm", thread_id="conv-1", author=person("Léa Moreau")))
    sign_in(page, desk.url)
    page.keyboard.press("o")
    chosen = page.locator("[data-testid=timeline-item][data-chosen=true]")
    expect(chosen).to_contain_text("message dm-1b")  # the latest by default
    page.keyboard.press("[")
    expect(chosen).to_contain_text("Premier message")

    page.keyboard.press("#")
    expect(page.get_by_test_id("confirm-delete")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("confirm-delete")).to_have_count(0)
    assert desk.rows(Outbox) == []

    page.keyboard.press("#")
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=toast][data-kind=undo]")).to_contain_text("Suppression dans")
    page.keyboard.press("z")
    expect(page.get_by_test_id("toast").filter(has_text="Suppression annulée")).to_be_visible()
    (row,) = desk.rows(Outbox)
    assert (row.action, row.state) == ("delete", "cancelled")
    assert desk.rows(Item, Item.id == row.target_item_id)[0].body == "Premier message"

    page.keyboard.press("f")
    expect(page.get_by_test_id("toast").filter(has_text="J'aime")).to_be_visible()
    assert eventually(
        lambda: [r.state for r in desk.rows(Outbox, Outbox.action == "like")] == ["sent"]
    )

    page.keyboard.press("r")
    page.keyboard.type("Oups, pas pour vous.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("[data-testid=toast][data-kind=undo]")).to_contain_text("Envoi dans")
    page.keyboard.press("z")
    expect(page.get_by_test_id("toast").filter(has_text="Réponse annulée")).to_be_visible()
    reply = page.locator("[data-testid=timeline-item][data-direction=out]")
    expect(reply.get_by_test_id("delivery")).to_have_attribute("data-delivery", "cancelled")
    expect(reply.get_by_test_id("delivery")).to_have_text("annulé")
    trouble.assert_none()


def test_sla_countdowns_turn_amber_then_red(page, desk, trouble):
    desk.ingest(
        dm(1, "Late Larry", 70),  # due 10 minutes ago
        dm(2, "Soon Sophie", 50),  # due in 10 minutes
        dm(3, "Calm Carla", 5),  # due in 55 minutes
    )
    sign_in(page, desk.url)
    rows = page.get_by_test_id("ticket-row")
    expect(rows.nth(0)).to_contain_text("Late Larry")
    expect(rows.nth(0).get_by_test_id("sla")).to_have_attribute("data-level", "breached")
    expect(rows.nth(1).get_by_test_id("sla")).to_have_attribute("data-level", "warning")
    expect(rows.nth(2).get_by_test_id("sla")).to_have_attribute("data-level", "ok")
    expect(rows.nth(2).get_by_test_id("sla")).to_have_text("reste 55 min")

    page.keyboard.press("Enter")
    with desk.app.app_context():
        sla.sweep()  # what the clock runs every few seconds: the breach arrives live
    expect(page.locator("[data-testid=timeline-event][data-type=sla_breached]")).to_contain_text(
        "SLA dépassé : 1re réponse"
    )
    trouble.assert_none()


def test_search_views_and_filters_from_the_keyboard(page, desk, trouble):
    desk.ingest(
        dm(1, "Léa Moreau", 9, body="Le sac Céleste existe en camel ?"),
        dm(2, "Hugo Petit", 5, body="Ma commande 4412 est en retard"),
        make_item("r1", "review", author=person("Emily Clarke"), rating=2, body="Slow delivery"),
    )
    sign_in(page, desk.url)
    page.keyboard.press("/")
    expect(page.get_by_test_id("queue-search")).to_be_focused()
    page.keyboard.type("4412")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ticket-count")).to_have_text("1")
    expect(page.get_by_test_id("ticket-row")).to_contain_text("Hugo Petit")
    page.keyboard.press("/")
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ticket-count")).to_have_text("3")

    page.keyboard.press("o")
    page.keyboard.press("a")
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("Attribué à Ana")
    palette(page, "aller mes tickets")
    expect(page.get_by_test_id("view-mine")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("ticket-count")).to_have_text("1")
    palette(page, "aller non attribués")
    expect(page.get_by_test_id("ticket-count")).to_have_text("2")
    page.get_by_test_id("queue-kind").select_option("review")
    expect(page.get_by_test_id("ticket-count")).to_have_text("1")
    expect(page.get_by_test_id("ticket-row")).to_contain_text("Emily Clarke")

    page.get_by_test_id("save-view").click()
    page.get_by_test_id("save-view-name").fill("Avis à traiter")
    page.keyboard.press("Enter")
    page.get_by_test_id("queue-kind").select_option("")
    palette(page, "aller tous")
    expect(page.get_by_test_id("ticket-count")).to_have_text("3")
    palette(page, "avis à traiter")
    expect(page.get_by_test_id("ticket-count")).to_have_text("1")
    expect(page.get_by_test_id("queue-kind")).to_have_value("review")
    trouble.assert_none()


def test_dates_show_in_the_users_timezone(page, desk, trouble):
    winter_noon = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    desk.ingest(
        make_item("tz", "dm", thread_id="tz", author=person("Léa Moreau"), created_at=winter_noon)
    )
    sign_in(page, desk.url)
    page.keyboard.press("Enter")
    shown = page.locator("[data-testid=timeline-item] time")
    expect(shown).to_contain_text("13:00")  # Europe/Paris, the default
    page.get_by_test_id("settings-open").click()
    page.get_by_test_id("settings-timezone").select_option("America/New_York")
    expect(shown).to_contain_text("07:00")
    assert eventually(lambda: desk.api("/api/me")["timezone"] == "America/New_York")
    trouble.assert_none()


def test_three_thousand_open_tickets_scroll_with_few_rows_in_the_page(page, desk, trouble):
    with desk.app.app_context(), db.transaction() as s:
        team_id = s.scalar(sa.select(Channel.team_id).where(Channel.id == desk.channel_id))
        now = datetime.now(UTC)
        s.execute(
            sa.insert(Ticket),
            [
                {
                    "channel_id": desk.channel_id,
                    "team_id": team_id,
                    "thread_key": f"bulk-{i}",
                    "kind": "dm",
                    "status": "open",
                    "author_name": f"Client {i:04d}",
                    "preview": f"Question {i}",
                    "item_count": 1,
                    "last_inbound_at": now - timedelta(seconds=i),
                    "last_activity_at": now - timedelta(seconds=i),
                    "created_at": now - timedelta(seconds=i),
                }
                for i in range(3000)
            ],
        )
    sign_in(page, desk.url)
    rows = page.get_by_test_id("ticket-row")
    expect(rows.first).to_be_visible()
    listing = page.get_by_test_id("ticket-list")
    most = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        most = max(most, rows.count())
        listing.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_timeout(50)
        last = page.get_by_text("Client 0000", exact=True)
        if listing.get_attribute("data-total") == "3000" and last.is_visible():
            break
    expect(page.get_by_test_id("ticket-count")).to_have_text("3000")
    expect(page.get_by_text("Client 0000", exact=True)).to_be_in_viewport()
    assert 0 < most < 100 and rows.count() < 100

    for _ in range(30):  # the keyboard cursor still walks the long list
        page.keyboard.press("j")
    expect(cursor_row(page)).to_be_in_viewport()
    trouble.assert_none()
