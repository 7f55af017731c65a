"""The contract every connector keeps, checked against its simulator over real HTTP.

A connector's test module subclasses the suites that apply and names its type:

    class TestMastodonPull(PullContract):
        type = "mastodon"

    class TestMastodonWebhook(WebhookContract):  # platforms that push
        type = "mastodon"

Platforms whose comments all answer a post (a video, a photo, a page post) use
`CommentsPullContract`, which also checks that each comment shows that post.

Platform-specific tests (which endpoint a reply hits, with which body; handshakes; the
platform's own limits) live beside them in the same module.
"""

from __future__ import annotations

import time
from typing import ClassVar

import pytest

from connectors import connector_class
from connectors.base import (
    INBOUND_KINDS,
    POST_TEXT_CHARS,
    AuthExpired,
    Connector,
    NormalizedItem,
    RateLimited,
    RawRequest,
    Target,
    Unsupported,
    WebhookRejected,
)
from connectors.sandbox import simulator_class
from connectors.sandbox.base import Simulator

ACTIONS = ("hide", "unhide", "delete", "like")
MAX_PULLS = 60


def build(type_: str, sim: Simulator, **overrides) -> Connector:
    """The connector configured the way a channel would be, pointed at the simulator."""
    cls = connector_class(type_)
    return cls(cls.config_schema().load(sim.channel_config() | overrides))


def sync(connector: Connector, cursor=None) -> tuple[list[NormalizedItem], object, int]:
    """Pull until the connector says there is no more, as the poll job does."""
    items: list[NormalizedItem] = []
    for pulls in range(1, MAX_PULLS + 1):
        batch = connector.pull(cursor)
        items.extend(batch.items)
        cursor = batch.cursor
        if not batch.more:
            return items, cursor, pulls
    raise AssertionError(f"still more after {MAX_PULLS} pulls")


def inbound_ids(items: list[NormalizedItem]) -> list[str]:
    return [i.external_id for i in items if not i.outbound]


class _Suite:
    type: ClassVar[str]
    page_size: ClassVar[int] = 5

    @pytest.fixture
    def sim(self):
        simulator = simulator_class(self.type)(page_size=self.page_size)
        simulator.start()
        yield simulator
        simulator.stop()

    @pytest.fixture
    def connector(self, sim) -> Connector:
        return build(self.type, sim)


class PullContract(_Suite):
    """A polling connector: pages, incremental cursor, rate limits, expired credentials."""

    seeded: ClassVar[int] = 23  # with page_size 5: at least five pages

    def test_first_sync_reads_every_page(self, sim, connector):
        expected = sim.add_inbound(self.seeded)
        reads_before = len(sim.reads())
        items, cursor, _ = sync(connector)
        got = inbound_ids(items)
        assert sorted(got) == sorted(expected), "first sync must return each item exactly once"
        assert len(sim.reads()) - reads_before >= 3, "the first sync should page through results"
        assert cursor is not None

    def test_incremental_sync_has_no_duplicate_and_no_gap(self, sim, connector):
        sim.add_inbound(self.seeded)
        _, cursor, _ = sync(connector)
        later = sim.add_inbound(7)
        items, cursor, _ = sync(connector, cursor)
        assert sorted(inbound_ids(items)) == sorted(later)
        items, _, _ = sync(connector, cursor)
        assert inbound_ids(items) == [], "nothing new means nothing returned"

    def test_items_follow_our_normalized_shape(self, sim, connector):
        sim.add_inbound(12)
        items, _, _ = sync(connector)
        assert items
        for item in items:
            assert item.kind in INBOUND_KINDS
            assert item.author.id
            assert item.created_at.tzinfo is not None
            assert NormalizedItem.from_dict(item.to_dict()) == item

    def test_rate_limit_is_raised_with_the_platform_reset_then_sync_completes(self, sim, connector):
        expected = sim.add_inbound(12)
        sim.rate_limit(times=1, reset_in=2)
        with pytest.raises(RateLimited) as caught:
            sync(connector)
        assert 0.5 <= caught.value.retry_after <= 4, "retry_after must follow the reset"
        time.sleep(caught.value.retry_after)
        items, _, _ = sync(connector)
        assert sorted(inbound_ids(items)) == sorted(expected)

    def test_expired_token_raises_auth_expired(self, sim, connector):
        sim.add_inbound(3)
        sim.expire_token()
        with pytest.raises(AuthExpired):
            connector.pull(None)

    def test_check_names_the_account_and_spots_bad_credentials(self, sim, connector):
        assert isinstance(connector.check(), str) and connector.check()
        sim.expire_token()
        with pytest.raises(AuthExpired):
            connector.check()

    def test_unsupported_actions_are_refused_before_any_call(self, sim, connector):
        target = Target(external_id="x-1", kind="comment", thread_id="x-1", author_id="u-1")
        before = len(sim.calls)
        for action in ACTIONS:
            if action not in connector.capabilities:
                with pytest.raises(Unsupported, match=action):
                    connector.moderate(target, action)
        if "reply" not in connector.capabilities:
            with pytest.raises(Unsupported):
                connector.reply(target, "merci")
        assert len(sim.calls) == before


class CommentsPullContract(PullContract):
    """A polling connector whose comments all answer a post (a video, a photo, a page post):
    each comment shows that post's text and link."""

    def test_comments_show_the_post_they_answer(self, sim, connector):
        sim.add_inbound(12)
        items, _, _ = sync(connector)
        answers = [i for i in items if i.kind == "comment" and i.post_id != i.external_id]
        assert answers
        for item in answers:
            assert item.post_text and len(item.post_text) <= POST_TEXT_CHARS, item
            assert item.post_url and item.post_url.startswith("https://"), item


class WebhookContract(_Suite):
    """A pushing platform: signed deliveries get in; forged and stale ones do not.

    The simulator builds deliveries exactly as the platform sends them:
    `sim.webhook_delivery(count, age=0, secret=None) -> (headers, body, ids)`.
    """

    def request(self, headers, body) -> RawRequest:
        return RawRequest(method="POST", headers=headers, body=body)

    def test_signed_delivery_is_verified_and_parsed(self, sim, connector):
        headers, body, ids = sim.webhook_delivery(3)
        connector.verify_webhook(self.request(headers, body))
        items = connector.parse_webhook(body)
        assert sorted(i.external_id for i in items) == sorted(ids)
        for item in items:
            assert NormalizedItem.from_dict(item.to_dict()) == item

    def test_forged_delivery_is_refused(self, sim, connector):
        headers, body, _ = sim.webhook_delivery(1, secret="not-the-app-secret-at-all")
        with pytest.raises(WebhookRejected):
            connector.verify_webhook(self.request(headers, body))
        headers, body, _ = sim.webhook_delivery(1)
        tampered = body.replace(b'"', b"'", 1) if b'"' in body else body + b" "
        with pytest.raises(WebhookRejected):
            connector.verify_webhook(self.request(headers, tampered))

    def test_stale_delivery_is_refused_as_a_replay(self, sim, connector):
        headers, body, _ = sim.webhook_delivery(1, age=3600)
        with pytest.raises(WebhookRejected):
            connector.verify_webhook(self.request(headers, body))
