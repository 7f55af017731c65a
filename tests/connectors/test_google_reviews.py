"""Google Business Profile connector against its simulator: reviews, edits, owner replies."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from connectors.base import NotAllowed, RateLimited, Target, Unsupported
from connectors.google_reviews import GoogleReviewsConfig
from connectors.sandbox.google_reviews import ACCOUNT_ID, LOCATION_ID, GoogleReviewsSimulator
from tests.connectors.contract import PullContract, build, inbound_ids, sync

REVIEWS = f"/v4/accounts/{ACCOUNT_ID}/locations/{LOCATION_ID}/reviews"


class TestGoogleReviewsPull(PullContract):
    type = "google_reviews"


@pytest.fixture
def sim():
    simulator = GoogleReviewsSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("google_reviews", sim)


def review_target(review_id: str) -> Target:
    return Target(external_id=review_id, kind="review", thread_id=review_id)


def test_reviews_carry_stars_text_and_their_own_thread(sim, connector):
    ids = sim.add_inbound(10)
    silent = sim.add_review(4, None)
    items, _, _ = sync(connector)
    by_id = {i.external_id: i for i in items}
    assert set(by_id) == {*ids, silent}
    for review_id, item in by_id.items():
        stored = sim.reviews[review_id]
        assert (item.kind, item.thread_id) == ("review", review_id)
        assert item.rating == stored["rating"] and item.body == (stored["comment"] or "")
        assert item.author.name == stored["name"] and item.edited_at is None
    assert by_id[silent].body == "" and by_id[silent].rating == 4
    assert sim.reads()[0].query["orderBy"] == "updateTime desc"


def test_an_edited_review_comes_again_with_edited_at(sim, connector):
    ids = sim.add_inbound(8)
    _, cursor, _ = sync(connector)
    sim.advance(30)
    sim.edit_review(ids[2], "Finalement, le SAV a tout réglé. Merci !", rating=5)
    items, cursor, _ = sync(connector, cursor)
    assert [i.external_id for i in items] == [ids[2]]
    edited = items[0]
    assert edited.body.startswith("Finalement") and edited.rating == 5
    assert edited.edited_at is not None and edited.edited_at > edited.created_at
    assert edited.edited_at.timestamp() == pytest.approx(sim.reviews[ids[2]]["updated"], abs=1e-5)
    assert sync(connector, cursor)[0] == []


def test_reply_puts_the_owner_comment_and_the_review_shows_it(sim, connector):
    review_id = sim.add_inbound(3)[0]
    reply_id = connector.reply(review_target(review_id), "Merci Camille, à bientôt !")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("PUT", f"{REVIEWS}/{review_id}/reply")
    assert call.json() == {"comment": "Merci Camille, à bientôt !"}
    assert reply_id.startswith(f"{review_id}/reply@")
    echo = next(i for i in sync(connector)[0] if i.external_id == reply_id)
    assert echo.outbound and echo.thread_id == review_id and echo.parent_id == review_id
    assert echo.body == "Merci Camille, à bientôt !"


def test_a_changed_reply_gets_a_new_id(sim, connector):
    review_id = sim.add_inbound(1)[0]
    first = connector.reply(review_target(review_id), "Merci !")
    sim.advance(1)
    second = connector.reply(review_target(review_id), "Merci beaucoup !")
    assert first != second


def test_reply_over_4096_bytes_is_refused_before_the_call(sim, connector):
    review_id = sim.add_inbound(1)[0]
    before = len(sim.calls)
    with pytest.raises(NotAllowed, match="4096 bytes"):
        connector.reply(review_target(review_id), "é" * 2049)
    assert len(sim.calls) == before


def test_reviews_cannot_be_hidden_deleted_or_liked(connector):
    for action in ("hide", "unhide", "delete", "like"):
        with pytest.raises(Unsupported):
            connector.moderate(review_target("AbFvOq1"), action)


def test_unknown_review_or_location_is_not_found(sim, connector):
    with pytest.raises(NotAllowed, match="could not find"):
        connector.reply(review_target("AbFvOqMissing"), "Merci")
    with pytest.raises(NotAllowed, match="could not find"):
        build("google_reviews", sim, location_id="1").pull(None)


def test_spent_daily_quota_waits_for_midnight_pacific(sim, connector):
    sim.spend_quota()
    with pytest.raises(RateLimited, match="midnight Pacific") as caught:
        connector.pull(None)
    assert 60 < caught.value.retry_after <= 25 * 3600 + 60


def test_check_names_the_location(sim, connector):
    sim.add_inbound(3)
    assert f"locations/{LOCATION_ID}: 3 reviews" in connector.check()


def test_config_wants_numeric_ids_and_keeps_the_token_secret():
    with pytest.raises(ValidationError) as caught:
        GoogleReviewsConfig().load({"access_token": "t", "account_id": "accounts/1"})
    assert set(caught.value.messages) == {"account_id", "location_id"}
    assert "numeric id" in caught.value.messages["account_id"][0]


def test_an_incremental_sync_after_a_reply_hands_out_nothing_new(sim, connector):
    ids = sim.add_inbound(4)
    _, cursor, _ = sync(connector)
    connector.reply(review_target(ids[0]), "Merci !")
    assert inbound_ids(sync(connector, cursor)[0]) == []
