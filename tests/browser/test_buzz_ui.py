"""A bad buzz in real browsers: the incident's banner reaches every CM live, a manager turns
crisis mode on, an agent's reply waits for approval, the manager lets it go or sends it back;
and what moderation rules did shows in the ticket and reaches the people a rule names."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from inbox import buzz, db, events, ingest, realtime
from inbox.db import utcnow
from inbox.models import Channel, Incident, Outbox, User
from tests.browser.conftest import Trouble
from tests.browser.support import CSP_WATCH, ago, eventually, person
from tests.support import LiveServer, World, make_item

pytestmark = pytest.mark.browser

LIVE_MS = 1_000
ANGRY = [
    "Honteux, votre pub est une insulte",
    "Boycott ! Plus jamais chez vous",
    "Scandaleux, retirez cette campagne",
    "Vous devriez avoir honte, c'est lamentable",
    "Désabonnée, c'est inadmissible",
    "Lamentable, on attend des excuses",
]
HOLDING = "Nous avons bien lu vos messages et revenons vers vous très vite."


class Newsroom:
    """A served inbox: Ana (agent) and Manon (manager) on the team's demo channel, a post that
    angers people, and a calm DM."""

    def __init__(self, app, url: str, channel_id: int):
        self.app, self.url, self.channel_id = app, url, channel_id

    def ingest(self, *items) -> None:
        with self.app.app_context():
            ingest.ingest_batch(self.channel_id, list(items))

    def client(self, email: str):
        with self.app.app_context():
            return World(self.app).client(email)

    def api(self, path: str, email: str = "manon@example.com"):
        with self.app.app_context():
            response = World(self.app).client(email).get(path)
            assert response.status_code == 200, response.json
            return response.json

    def scalar(self, query):
        with self.app.app_context(), db.transaction() as s:
            return s.scalar(query)

    def rows(self, model, *where):
        with self.app.app_context(), db.transaction() as s:
            return s.scalars(sa.select(model).where(*where).order_by(model.id)).all()

    def open_incident(self, crisis: bool = False) -> int:
        """What the detection job does on a spike: the incident, its tickets, the live event."""
        with self.app.app_context():
            now = utcnow()
            with db.transaction() as s:
                team_id = s.scalar(sa.select(Channel.team_id).where(Channel.id == self.channel_id))
                incident = Incident(
                    team_id=team_id,
                    channel_id=self.channel_id,
                    scope="post",
                    key="post-7",
                    status="open",
                    started_at=now - timedelta(minutes=10),
                    detected_at=now,
                    window_count=len(ANGRY),
                    baseline_rate=0.4,
                    negative_share=0.83,
                    usual_negative_share=0.12,
                    holding_replies=[],
                )
                s.add(incident)
                s.flush()
                buzz.attach_tickets(s, incident, now)
                if crisis:
                    manager = s.scalar(sa.select(User).where(User.email == "manon@example.com"))
                    buzz.set_crisis(s, incident, True, manager, now)
                written = events.write(s, [buzz.event("incident_opened", incident)])
                incident_id = incident.id
            realtime.publish(written)
        return incident_id


@pytest.fixture
def newsroom(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        world.user("manon@example.com", role="manager")
        channel = world.channel(type_="demo", config={"backlog": 0, "rate": 0})
        channel_id = channel.id
    room = Newsroom(live_app, "", channel_id)
    room.ingest(
        make_item("dm-1", "dm", thread_id="conv-1", author=person("Léa Moreau"),
                  body="Vous livrez en Belgique ?", created_at=ago(30)),
        *[
            make_item(f"c{i}", "comment", thread_id=f"c{i}", post_id="post-7",
                      author=person(f"Client {i}"), body=body, created_at=ago(6 - i * 0.5))
            for i, body in enumerate(ANGRY)
        ],
    )  # fmt: skip
    with LiveServer(live_app) as server:
        room.url = server.url
        yield room


@pytest.fixture
def desks(browser):
    """A signed-in page per person, each in its own browser context, CSP refusals recorded."""
    opened = []

    def open_as(url: str, email: str) -> tuple[Page, Trouble]:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
        context.set_default_timeout(10_000)
        opened.append(context)
        page = context.new_page()
        page.add_init_script(CSP_WATCH)
        trouble = Trouble()
        trouble.watch(page)
        page.goto(url)
        page.get_by_test_id("login-email").fill(email)
        page.get_by_test_id("login-password").fill("password-123")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("live-status")).to_have_class("live is-on")
        expect(page.get_by_test_id("ticket-row")).to_have_count(7)
        return page, trouble

    yield open_as
    for context in opened:
        context.close()


def calm(page: Page, trouble: Trouble) -> None:
    """No CSP refusal, no error, no dialog."""
    assert page.evaluate("window.__cspRefused") == []
    trouble.assert_none()


def toast(page: Page, text: str):
    return page.get_by_test_id("toast").filter(has_text=text)


def test_an_incident_reaches_every_cm_and_crisis_replies_wait_for_a_manager(desks, newsroom):
    ana, ana_trouble = desks(newsroom.url, "ana@example.com")
    manon, manon_trouble = desks(newsroom.url, "manon@example.com")
    expect(ana.get_by_test_id("incident-banner")).to_have_count(0)

    started = time.monotonic()
    incident_id = newsroom.open_incident()
    for page in (ana, manon):
        banner = page.get_by_test_id("incident-banner")
        expect(banner).to_be_visible(timeout=LIVE_MS)
    assert time.monotonic() - started < 2 * LIVE_MS / 1000
    for page in (ana, manon):
        banner = page.get_by_test_id("incident-banner")
        expect(banner).to_contain_text("Pic d'activité sur la publication « post-7 »")
        expect(banner.get_by_test_id("incident-figures")).to_have_text(
            "6 messages · 83 % négatifs (d'habitude 12 %)"
        )
    marks = ana.get_by_test_id("row-incident")
    expect(marks).to_have_count(len(ANGRY))  # the incident's tickets carry its mark
    expect(marks.first).to_have_attribute("aria-label", f"Incident n°{incident_id}")

    # The manager opens the incident from the keyboard, writes a holding reply, turns crisis on.
    manon.keyboard.press("i")
    panel = manon.get_by_test_id("incident-panel")
    expect(panel).to_be_visible()
    minutes = panel.get_by_test_id("incident-minute")
    expect(minutes.first).to_be_visible()
    assert sum(int(m.get_attribute("data-count")) for m in minutes.all()) == len(ANGRY)
    expect(minutes.filter(has=manon.locator(".inc-neg"))).not_to_have_count(0)
    panel.get_by_test_id("holding-add").click()
    panel.get_by_test_id("holding-input").fill(HOLDING)
    panel.get_by_test_id("holding-save").click()
    expect(toast(manon, "Réponses d'attente enregistrées.")).to_be_visible()
    panel.get_by_test_id("crisis-toggle").click()
    expect(panel).to_have_attribute("data-crisis", "true")
    incident = newsroom.api(f"/api/incidents/{incident_id}")
    assert (incident["crisis"], incident["holding_replies"]) == (True, [HOLDING])
    manon.keyboard.press("Escape")

    # The agent sees the crisis, works the incident's tickets, answers with the holding reply.
    expect(ana.get_by_test_id("incident-banner")).to_contain_text("Crise en cours")
    expect(marks.first).to_have_attribute("data-crisis", "true")
    ana.keyboard.press("i")
    ana.get_by_test_id("incident-tickets").click()
    expect(ana.get_by_test_id("incident-filter")).to_be_visible()
    expect(ana.get_by_test_id("ticket-row")).to_have_count(len(ANGRY))
    ana.keyboard.press("Enter")
    expect(ana.get_by_test_id("crisis-note")).to_contain_text(
        "votre réponse attendra l'approbation d'un responsable"
    )
    expect(ana.get_by_test_id("holding-reply")).to_contain_text(HOLDING)
    expect(ana.get_by_test_id("holding-reply").locator("kbd")).to_have_text("1")
    ana.keyboard.press("1")
    box = ana.get_by_test_id("reply-box")
    expect(box).to_have_value(HOLDING)
    expect(box).to_be_focused()
    ana.keyboard.press("Control+Enter")
    expect(toast(ana, "elle attend l'approbation d'un responsable")).to_be_visible()
    reply = ana.locator("[data-testid=timeline-item][data-direction=out]")
    expect(reply.get_by_test_id("delivery")).to_have_attribute("data-delivery", "approval")
    expect(reply.get_by_test_id("delivery")).to_have_text("en attente d'approbation")
    (held,) = newsroom.rows(Outbox, Outbox.action == "reply")
    assert held.state == "approval"

    # The manager hears of it live and approves it from the keyboard; it leaves.
    expect(manon.get_by_test_id("open-approvals")).to_contain_text("1 à approuver")
    manon.keyboard.press("v")
    approval = manon.get_by_test_id("approval")
    expect(approval).to_have_count(1)
    expect(approval).to_contain_text(HOLDING)
    expect(approval).to_contain_text("Ana")
    manon.keyboard.press("a")
    expect(toast(manon, "Réponse approuvée : elle part.")).to_be_visible()
    expect(approval).to_have_count(0)
    assert eventually(lambda: newsroom.rows(Outbox, Outbox.id == held.id)[0].state == "sent")
    expect(reply.get_by_test_id("delivery")).to_have_attribute("data-delivery", "sent")
    expect(toast(ana, "Manon a approuvé votre réponse")).to_be_visible()
    calm(ana, ana_trouble)
    calm(manon, manon_trouble)


def test_a_rejected_reply_comes_back_to_its_author_with_the_reason(desks, newsroom):
    newsroom.open_incident(crisis=True)
    ana, ana_trouble = desks(newsroom.url, "ana@example.com")
    manon, manon_trouble = desks(newsroom.url, "manon@example.com")
    expect(ana.get_by_test_id("incident-banner")).to_contain_text("Crise en cours")
    ana.get_by_test_id("ticket-row").filter(has_text="Client 0").click()
    expect(ana.get_by_test_id("ticket-author")).to_have_text("Client 0")
    ana.keyboard.press("r")
    expect(ana.get_by_test_id("reply-box")).to_be_focused()
    ana.keyboard.type("Calmez-vous.")
    expect(ana.get_by_test_id("send-reply")).to_have_text("Envoyer pour approbation")
    ana.keyboard.press("Control+Enter")
    expect(toast(ana, "elle attend l'approbation")).to_be_visible()

    manon.keyboard.press("v")
    expect(manon.get_by_test_id("approval")).to_contain_text("Calmez-vous.")
    manon.keyboard.press("r")
    reason = manon.get_by_test_id("approval-reason")
    expect(reason).to_be_focused()
    manon.keyboard.type("Trop sec : utilisez la réponse d'attente")
    manon.keyboard.press("Enter")
    expect(toast(manon, "Réponse refusée")).to_be_visible()
    expect(manon.get_by_test_id("approval")).to_have_count(0)

    back = toast(ana, "Manon a refusé votre réponse : Trop sec : utilisez la réponse d'attente")
    expect(back).to_be_visible()
    back.get_by_role("button", name="Reprendre le brouillon").click()
    expect(ana.get_by_test_id("reply-box")).to_have_value("Calmez-vous.")
    (row,) = newsroom.rows(Outbox, Outbox.action == "reply")
    assert (row.state, row.error) == ("cancelled", "Trop sec : utilisez la réponse d'attente")
    calm(ana, ana_trouble)
    calm(manon, manon_trouble)


def test_what_a_rule_did_shows_in_the_ticket_and_its_notice_reaches_the_named_cm(desks, newsroom):
    ana_id = newsroom.scalar(sa.select(User.id).where(User.email == "ana@example.com"))
    manager = newsroom.client("manon@example.com")
    with newsroom.app.app_context():
        rule = manager.post(
            "/api/rules",
            json={
                "name": "Insultes",
                "conditions": [{"type": "keywords", "values": ["arnaque"]}],
                "actions": [{"type": "hide"}, {"type": "notify", "user_ids": [ana_id]}],
            },
        )
        assert rule.status_code == 201, rule.json
        enabled = manager.patch(
            f"/api/rules/{rule.json['id']}", json={"enabled": True, "version": rule.json["version"]}
        )
        assert enabled.status_code == 200, enabled.json
    ana, ana_trouble = desks(newsroom.url, "ana@example.com")
    manon, manon_trouble = desks(newsroom.url, "manon@example.com")

    newsroom.ingest(
        make_item("scam", "comment", thread_id="scam", post_id="post-9",
                  author=person("Faux Concours"), body="Cette marque est une ARNAQUE totale")
    )  # fmt: skip
    notice = toast(ana, "La règle « Insultes » vous signale un message.")
    expect(notice).to_be_visible()
    expect(toast(manon, "La règle « Insultes »")).to_have_count(0)  # not named: not told
    notice.get_by_role("button", name="Ouvrir").click()
    expect(ana.get_by_test_id("ticket-author")).to_have_text("Faux Concours")
    line = ana.locator("[data-testid=timeline-event][data-type=rule_applied]")
    expect(line.first).to_have_text(re.compile("^Masqué par la règle « Insultes »"))
    calm(ana, ana_trouble)
    calm(manon, manon_trouble)
