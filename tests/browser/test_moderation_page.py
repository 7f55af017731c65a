"""The moderation view in a real browser: a manager builds, tries and enables a rule; an agent
restores what it hid with one key; the API and the platform queue agree."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from connectors.base import Author
from inbox import db, ingest
from inbox.models import Item, Outbox
from tests.browser.support import eventually
from tests.conftest import build_app
from tests.support import LiveServer, World, make_item

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/moderation_page.png"
HOSTILE_BODY = "<img src=x onerror=alert(1)> arnaque, ne commandez pas"
HOSTILE_AUTHOR = "<b>Mallory</b>"


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def comment(external_id: str, author: str, body: str, days_ago: float, kind: str = "comment"):
    key = re.sub(r"\W+", "-", author.lower()).strip("-")
    return make_item(
        external_id,
        kind,
        thread_id=f"thread-{external_id}",
        post_id="post-7" if kind == "comment" else None,
        author=Author(id=key, handle=f"@{key}", name=author),
        body=body,
        created_at=ago(days_ago),
    )


# A month of past items: three scam comments (one hostile), a harmless comment, a DM that says
# "arnaque" (not a comment), and a scam comment older than thirty days.
PAST = [
    comment("c1", "Paul Martin", "C'est une ARNAQUE, fuyez", 3),
    comment("c2", "Paul Martin", "Arnaque totale, remboursez-moi", 2),
    comment("c3", HOSTILE_AUTHOR, HOSTILE_BODY, 1),
    comment("c4", "Léa Moreau", "Super produit, merci !", 1),
    comment("d1", "Hugo Petit", "Est-ce une arnaque ?", 2, kind="dm"),
    comment("c0", "Paul Martin", "arnaque", 40),
]


class Desk:
    """A served inbox: Mona (manager), Ana (agent), a demo channel that accepts hides."""

    def __init__(self, app, url: str, channel_id: int):
        self.app, self.url, self.channel_id = app, url, channel_id

    def ingest(self, *items) -> None:
        with self.app.app_context():
            ingest.ingest_batch(self.channel_id, list(items))

    def client(self, email: str):
        with self.app.app_context():
            return World(self.app).client(email)

    def item(self, external_id: str) -> Item:
        with self.app.app_context(), db.transaction() as s:
            return s.scalars(sa.select(Item).where(Item.external_id == external_id)).one()

    def outbox(self, item_id: int) -> list[tuple[str, str]]:
        with self.app.app_context(), db.transaction() as s:
            rows = s.execute(
                sa.select(Outbox.action, Outbox.state)
                .where(Outbox.target_item_id == item_id)
                .order_by(Outbox.id)
            )
            return [tuple(row) for row in rows]


@pytest.fixture
def desk(database_url, tmp_path):
    app = build_app(database_url, tmp_path, JOBS_BACKEND="inprocess")
    with app.app_context():
        world = World(app)
        world.user("mona@example.com", role="manager")
        world.user("ana@example.com")
        channel = world.channel(type_="demo", config={"backlog": 0, "rate": 0})
        channel_id = channel.id
    with LiveServer(app) as server:
        yield Desk(app, server.url, channel_id)
    app.extensions["jobs"].pool.shutdown(wait=True)
    app.extensions["db_engine"].dispose()


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url)
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill("password-123")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("live-status")).to_have_class("live is-on")


def open_moderation(page: Page) -> None:
    page.get_by_test_id("open-moderation").click()
    expect(page.get_by_test_id("moderation-view")).to_be_visible()


def expected_refusal(trouble, status: int) -> None:
    """Forget the console line Chromium writes for one refusal the test asked for."""
    line = f"the server responded with a status of {status}"
    found = [text for text in trouble.console_errors if line in text]
    assert found, trouble.console_errors
    trouble.console_errors.remove(found[0])


def hits(page: Page):
    return page.get_by_test_id("review-hit")


def build_scam_rule(page: Page) -> None:
    """Fill the editor: comments containing "arnaque" are hidden."""
    page.get_by_test_id("rule-new").click()
    editor = page.get_by_test_id("rule-editor")
    expect(editor.get_by_label("Nom", exact=True)).to_be_focused()
    page.keyboard.type("Masquer les arnaques")
    rows = editor.get_by_test_id("condition-row")
    expect(rows.first.get_by_test_id("condition-type")).to_have_value("keywords")
    rows.first.get_by_test_id("condition-values").fill("arnaque")
    editor.get_by_test_id("condition-add").click()
    rows.nth(1).get_by_label("Type de la condition 2").select_option("kind")
    rows.nth(1).get_by_test_id("condition-values").fill("comment")
    expect(editor.get_by_test_id("action-row").get_by_test_id("action-type")).to_have_value("hide")


def test_a_manager_tries_and_enables_a_rule_and_an_agent_restores_its_hide(
    browser, page, desk, trouble
):
    desk.ingest(*PAST)
    sign_in(page, desk.url, "mona@example.com")
    open_moderation(page)
    expect(page.get_by_test_id("review-empty")).to_be_visible()
    page.get_by_test_id("moderation-tab-rules").click()
    build_scam_rule(page)
    editor = page.get_by_test_id("rule-editor")

    # The server's refusal lands next to the condition it names.
    editor.get_by_test_id("condition-add").click()
    third = editor.get_by_test_id("condition-row").nth(2)
    third.get_by_test_id("condition-type").select_option("regex")
    third.get_by_test_id("condition-pattern").fill("(arnaque")
    editor.get_by_test_id("rule-dry-run").click()
    error = third.get_by_test_id("field-error")
    expect(error).to_have_attribute("data-field", "conditions.2.pattern")
    expect(error).to_contain_text("ne se compile pas")
    expect(third.get_by_test_id("condition-pattern")).to_have_attribute("aria-invalid", "true")
    third.get_by_label("Retirer la condition 3").click()
    expect(editor.get_by_test_id("field-error")).to_have_count(0)

    editor.get_by_test_id("rule-dry-run").click()
    dry = page.get_by_test_id("dry-run")
    expect(dry.get_by_test_id("dry-run-matched")).to_have_text(
        "3 messages concernés sur 5 au total"
    )
    expect(dry.locator("[data-testid=dry-run-count][data-action=hide]")).to_contain_text("3")
    samples = dry.get_by_test_id("dry-run-sample")
    expect(samples).to_have_count(3)
    expect(samples.filter(has_text=HOSTILE_BODY)).to_contain_text(HOSTILE_AUTHOR)
    expect(dry.get_by_test_id("dry-run-authors-total")).to_have_text("2 auteurs concernés")
    expect(dry.get_by_test_id("dry-run-author").filter(has_text="Paul Martin")).to_contain_text("2")
    assert page.locator("img, b").count() == 0

    editor.get_by_test_id("rule-save").click()
    row = page.get_by_test_id("rule-row").filter(has_text="Masquer les arnaques")
    switch = row.get_by_role("switch", name="Règle « Masquer les arnaques » active")
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(switch).to_be_focused()
    mona = desk.client("mona@example.com")
    (rule,) = mona.get("/api/rules").json["rules"]
    assert rule["enabled"] is False

    # Enabling asks first and shows what the dry run found; cancelling changes nothing.
    page.keyboard.press("Enter")
    confirm = page.get_by_test_id("rule-confirm")
    expect(confirm.locator("[data-testid=dry-run-count][data-action=hide]")).to_contain_text("3")
    page.keyboard.press("Escape")
    expect(confirm).to_have_count(0)
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    confirm.get_by_test_id("rule-confirm-yes").click()
    expect(switch).to_have_attribute("aria-checked", "true")
    assert mona.get("/api/rules").json["rules"][0]["enabled"] is True

    # The agent watches the review queue while a scam comment arrives.
    agent_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    agent = agent_context.new_page()
    trouble.watch(agent)
    sign_in(agent, desk.url, "ana@example.com")
    expect(agent.get_by_test_id("moderation-tab-rules")).to_have_count(0)
    open_moderation(agent)
    expect(agent.get_by_test_id("review-empty")).to_be_visible()
    desk.ingest(comment("c9", "Spam Bot", "Encore une arnaque, cliquez ici", 0))
    hit = hits(agent)
    expect(hit).to_have_count(1)
    expect(hit).to_have_attribute("data-action", "hide")
    expect(hit.get_by_test_id("hit-rule")).to_have_text("Règle « Masquer les arnaques »")
    expect(hit.get_by_test_id("hit-author")).to_have_text("Spam Bot")
    expect(hit.get_by_test_id("hit-body")).to_have_text("Encore une arnaque, cliquez ici")
    expect(hit).to_contain_text("demo Support")
    expect(hit).to_have_attribute("aria-current", "true")
    expect(agent.get_by_test_id("review-keys")).to_contain_text("r pour restaurer")
    item = desk.item("c9")
    assert eventually(lambda: desk.item("c9").hidden), "the platform never hid the comment"
    agent.screenshot(path=SCREENSHOT)

    agent.keyboard.press("r")
    expect(
        agent.get_by_test_id("toast").filter(has_text="Message de Spam Bot restauré")
    ).to_be_visible()
    expect(hit).to_have_attribute("data-restored", "true")
    expect(hit.get_by_test_id("hit-restored")).to_contain_text("Restauré par Ana")

    ana = desk.client("ana@example.com")
    (entry,) = ana.get("/api/moderation/review?include_restored=true").json["hits"]
    assert entry["item"]["id"] == item.id and entry["restored_at"] is not None
    assert ana.get("/api/moderation/review").json["hits"] == []
    assert [action for action, _ in desk.outbox(item.id)] == ["hide", "unhide"]
    agent_context.close()
    expected_refusal(trouble, 400)  # the regex that did not compile
    trouble.assert_none()


def test_deleted_items_say_why_they_stay_and_the_queue_pages(page, desk, trouble):
    mona = desk.client("mona@example.com")
    created = mona.post(
        "/api/rules",
        json={
            "name": "Casinos",
            "conditions": [{"type": "keywords", "values": ["casino"]}],
            "actions": [{"type": "delete"}],
        },
    )
    assert created.status_code == 201, created.json
    rule = created.json
    enabled = mona.patch(f"/api/rules/{rule['id']}", json={"enabled": True, "version": 1})
    assert enabled.status_code == 200, enabled.json
    desk.ingest(*(comment(f"k{i}", f"Bot {i}", f"Meilleur casino {i}", 0.01) for i in range(52)))

    sign_in(page, desk.url, "ana@example.com")
    open_moderation(page)
    expect(hits(page)).to_have_count(50)
    expect(hits(page).first).to_contain_text("Meilleur casino 51")
    page.get_by_test_id("review-more").click()
    expect(hits(page)).to_have_count(52)
    expect(page.get_by_test_id("review-more")).to_have_count(0)

    first, second = hits(page).nth(0), hits(page).nth(1)
    expect(first).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    expect(second).to_have_attribute("aria-current", "true")
    page.keyboard.press("k")
    expect(first).to_have_attribute("aria-current", "true")
    page.keyboard.press("r")
    expect(first.get_by_test_id("hit-problem")).to_have_text(
        "supprimé sur la plateforme : impossible de le restaurer"
    )
    expect(first).to_have_attribute("data-restored", "false")
    # The inbox behind the view did not take the keys: no ticket was opened.
    expect(page.get_by_test_id("ticket-pane")).to_have_count(0)
    expected_refusal(trouble, 409)
    trouble.assert_none()


def test_a_manager_reorders_enables_without_a_prior_dry_run_and_deletes(page, desk, trouble):
    mona = desk.client("mona@example.com")
    for name, word in (("Liens douteux", "bit.ly"), ("Insultes", "idiot")):
        rule = {"name": name, "conditions": [{"type": "keywords", "values": [word]}]}
        created = mona.post("/api/rules", json=rule | {"actions": [{"type": "tag", "value": "x"}]})
        assert created.status_code == 201, created.json
    desk.ingest(comment("c1", "Paul Martin", "Espèce d'idiot", 1))

    sign_in(page, desk.url, "mona@example.com")
    open_moderation(page)
    page.get_by_test_id("moderation-tab-rules").click()
    names = page.get_by_test_id("rule-name")
    expect(names).to_have_text(["Liens douteux", "Insultes"])
    page.get_by_role("button", name="Monter « Insultes »").click()
    expect(names).to_have_text(["Insultes", "Liens douteux"])

    def stored_order():
        return [rule["name"] for rule in mona.get("/api/rules").json["rules"]]

    assert eventually(lambda: stored_order() == ["Insultes", "Liens douteux"]), stored_order()

    page.get_by_role("switch", name="Règle « Insultes » active").click()
    confirm = page.get_by_test_id("rule-confirm")
    expect(confirm.get_by_test_id("confirm-no-dry-run")).to_be_visible()
    confirm.get_by_test_id("confirm-dry-run").click()
    expect(confirm.get_by_test_id("dry-run-matched")).to_have_text(
        "1 message concerné sur 1 au total"
    )
    expect(confirm.locator("[data-testid=dry-run-count][data-action=tag]")).to_contain_text("1")
    confirm.get_by_test_id("rule-confirm-yes").click()
    expect(page.get_by_role("switch", name="Règle « Insultes » active")).to_have_attribute(
        "aria-checked", "true"
    )

    page.get_by_role("button", name="Supprimer « Liens douteux »").click()
    page.get_by_test_id("rule-confirm-yes").click()
    expect(names).to_have_text(["Insultes"])
    assert stored_order() == ["Insultes"]
    trouble.assert_none()
