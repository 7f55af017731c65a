"""The channel-health badge: calm when all is well, live and loud when a channel needs a person."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inbox.channels import mark_health
from tests.support import LiveServer, World

pytestmark = pytest.mark.browser

LIVE_WAIT_MS = 5_000


@pytest.fixture
def served(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        channel_id = world.channel(type_="demo", config={"backlog": 0}).id
    with LiveServer(live_app) as server:
        yield live_app, server.url, channel_id


def test_a_channel_that_needs_reconnecting_turns_the_badge_red_live(page, served, trouble):
    app, url, channel_id = served
    page.goto(url)
    page.get_by_test_id("login-email").fill("ana@example.com")
    page.get_by_test_id("login-password").fill("password-123")
    page.get_by_test_id("login-submit").click()
    badge = page.get_by_test_id("channel-health-badge")
    expect(badge).to_have_text("Canal OK")
    expect(page.get_by_test_id("live-status")).to_have_class("live is-on")

    with app.app_context():
        mark_health(channel_id, "needs_reconnection", "token revoked <img src=x onerror=alert(1)>")
    expect(badge).to_have_text("1 canal à vérifier", timeout=LIVE_WAIT_MS)
    badge.click()
    row = page.get_by_test_id("channel-health-row")
    expect(row).to_have_attribute("data-health", "needs_reconnection")
    expect(row).to_contain_text("À reconnecter")
    expect(row).to_contain_text("token revoked <img src=x onerror=alert(1)>")
    assert page.locator("img").count() == 0

    with app.app_context():
        mark_health(channel_id, "ok", None)
    expect(badge).to_have_text("Canal OK", timeout=LIVE_WAIT_MS)
    trouble.assert_none()
