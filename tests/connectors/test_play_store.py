"""Google Play connector against its simulator: reviews, edits, developer replies, limits."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from connectors.base import NotAllowed, RateLimited, Target
from connectors.play_store import PlayStoreConfig
from connectors.sandbox.play_store import PACKAGE, PlayStoreSimulator
from tests.connectors.contract import PullContract, build, inbound_ids, sync

REVIEWS = f"/androidpublisher/v3/applications/{PACKAGE}/reviews"


class TestPlayStorePull(PullContract):
    type = "play_store"


@pytest.fixture
def sim():
    simulator = PlayStoreSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("play_store", sim)


def review_target(review_id: str) -> Target:
    return Target(external_id=review_id, kind="review", thread_id=review_id)


def test_reviews_carry_stars_text_and_their_own_thread(sim, connector):
    ids = sim.add_inbound(9)
    items, _, _ = sync(connector)
    assert sorted(i.external_id for i in items) == sorted(ids)
    for item in items:
        stored = sim.reviews[item.external_id]
        assert (item.kind, item.thread_id, item.rating) == (
            "review",
            item.external_id,
            stored["rating"],
        )
        assert item.body == stored["text"] and item.author.name == stored["name"]
        assert item.created_at.timestamp() == pytest.approx(stored["modified"] / 1e9, abs=1e-5)
        assert item.edited_at is None
    assert "token" in sim.reads()[1].query, "pages follow tokenPagination.nextPageToken"


def test_an_edited_review_comes_again_with_edited_at_and_its_first_date(sim, connector):
    ids = sim.add_inbound(7)
    items, cursor, _ = sync(connector)
    first_seen = {i.external_id: i.created_at for i in items}
    sim.advance(3600)
    sim.edit_review(ids[4], "Mise à jour : le bug de paiement est corrigé, merci.", rating=4)
    items, cursor, _ = sync(connector, cursor)
    assert [i.external_id for i in items] == [ids[4]]
    edited = items[0]
    assert edited.body.startswith("Mise à jour") and edited.rating == 4
    assert edited.created_at == first_seen[ids[4]]
    assert edited.edited_at.timestamp() == pytest.approx(
        sim.reviews[ids[4]]["modified"] / 1e9, abs=1e-5
    )
    assert sync(connector, cursor)[0] == []


def test_reply_posts_reply_text_and_the_review_shows_it(sim, connector):
    review_id = sim.add_inbound(2)[0]
    reply_id = connector.reply(review_target(review_id), "Merci pour votre retour !")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", f"{REVIEWS}/{review_id}:reply")
    assert call.json() == {"replyText": "Merci pour votre retour !"}
    assert reply_id.startswith(f"{review_id}/reply@")
    echo = next(i for i in sync(connector)[0] if i.external_id == reply_id)
    assert echo.outbound and (echo.thread_id, echo.parent_id) == (review_id, review_id)


def test_reply_longer_than_350_characters_is_refused_before_the_call(sim, connector):
    review_id = sim.add_inbound(1)[0]
    before = len(sim.calls)
    with pytest.raises(NotAllowed, match="350 characters; this one has 351"):
        connector.reply(review_target(review_id), "a" * 351)
    assert len(sim.calls) == before
    connector.reply(review_target(review_id), "a" * 350)
    assert len(sim.writes()) == 1


def test_translation_language_is_asked_for_when_configured(sim):
    sim.add_inbound(2)
    sync(build("play_store", sim, translation_language="fr"))
    assert sim.reads()[-1].query["translationLanguage"] == "fr"


def test_a_rejected_page_token_restarts_the_listing(sim, connector):
    ids = sim.add_inbound(3)
    batch = connector.pull({"since": None, "seen": [], "page": "not-a-token"})
    assert sorted(i.external_id for i in batch.items) == sorted(ids)
    assert [c.query.get("token") for c in sim.reads()] == ["not-a-token", None]


def test_spent_daily_quota_waits_for_midnight_pacific(sim, connector):
    sim.spend_quota()
    with pytest.raises(RateLimited, match="midnight Pacific") as caught:
        connector.check()
    assert 60 < caught.value.retry_after <= 25 * 3600 + 60


def test_unknown_package_is_not_found(sim):
    with pytest.raises(NotAllowed, match="could not find"):
        build("play_store", sim, package_name="com.example.other").pull(None)


def test_check_names_the_app(connector):
    assert connector.check() == f"Connected to the Google Play reviews of {PACKAGE}"


def test_config_wants_a_package_name():
    with pytest.raises(ValidationError) as caught:
        PlayStoreConfig().load({"access_token": "t", "package_name": "maison lumiere"})
    assert caught.value.messages == {
        "package_name": ["Enter the app's package name, like com.example.app."]
    }


def test_an_incremental_sync_after_a_reply_hands_out_nothing_new(sim, connector):
    ids = sim.add_inbound(4)
    _, cursor, _ = sync(connector)
    connector.reply(review_target(ids[0]), "Merci !")
    assert inbound_ids(sync(connector, cursor)[0]) == []
