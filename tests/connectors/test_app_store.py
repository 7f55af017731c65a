"""App Store Connect: the pull contract, the JWT the simulator verifies, responses, limits."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import request
from marshmallow import ValidationError

from connectors.app_store import AppStoreConnector, parse_rate_limit
from connectors.base import (
    AuthExpired,
    ConnectorError,
    NotAllowed,
    RateLimited,
    Target,
    Transient,
    Unsupported,
)
from connectors.sandbox.app_store import APP_ID, ISSUER_ID, KEY_ID, AppStoreSimulator
from tests.connectors.contract import PullContract, build, sync


class TestAppStorePull(PullContract):
    type = "app_store"


@pytest.fixture
def sim():
    simulator = AppStoreSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("app_store", sim)


def review_target(review_id: str) -> Target:
    return Target(external_id=review_id, kind="review", thread_id=review_id)


def other_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# -- the token ------------------------------------------------------------------------------


def test_token_is_es256_for_apple_and_verified_by_the_simulator(sim, connector):
    token = connector.token()
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, sim.public_key, algorithms=["ES256"], audience="appstoreconnect-v1")
    assert header["alg"] == "ES256" and header["kid"] == KEY_ID
    assert claims["iss"] == ISSUER_ID
    assert 0 < claims["exp"] - claims["iat"] <= 20 * 60
    assert connector.token() == token, "a live token is reused"
    assert connector.check().startswith("Connected to the App Store app “Maison Lumière”")
    sent = sim.reads()[-1].headers["Authorization"]
    assert sent == f"Bearer {token}"


def test_token_is_renewed_before_it_expires(connector):
    first = connector.token()
    connector.now = lambda: time.time() + 15 * 60  # within a minute of the end of its life
    assert connector.token() != first


def test_simulator_refuses_an_expired_token(sim):
    now = int(time.time())
    claims = {"iss": ISSUER_ID, "iat": now - 1500, "exp": now - 300, "aud": "appstoreconnect-v1"}
    token = jwt.encode(claims, sim.private_key, algorithm="ES256", headers={"kid": KEY_ID})
    answer = requests.get(
        f"{sim.base_url}/v1/apps/{APP_ID}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "NOT_AUTHORIZED"


def test_expired_jwt_from_a_slow_clock_is_auth_expired(sim):
    class Late(AppStoreConnector):
        def now(self) -> float:
            return time.time() - 3600  # a clock an hour behind signs tokens already expired

    late = Late(AppStoreConnector.config_schema().load(sim.channel_config()))
    with pytest.raises(AuthExpired, match="API key"):
        late.check()


def test_token_signed_with_another_key_is_auth_expired(sim):
    connector = build("app_store", sim, private_key=other_key_pem())
    with pytest.raises(AuthExpired):
        connector.pull(None)


def test_token_living_longer_than_twenty_minutes_is_refused(sim, monkeypatch):
    monkeypatch.setattr("connectors.app_store.TOKEN_LIFETIME", 45 * 60)
    connector = build("app_store", sim)
    with pytest.raises(AuthExpired):
        connector.check()


# -- pulling --------------------------------------------------------------------------------


def test_reviews_carry_rating_title_nickname_and_thread(sim, connector):
    (review_id,) = sim.add_inbound(1)
    items, _, _ = sync(connector)
    (item,) = items
    stored = sim.reviews[review_id]
    assert item.kind == "review" and item.external_id == review_id == item.thread_id
    assert item.rating == stored["rating"] and item.subject == stored["title"]
    assert item.body == stored["body"] and item.author.name == stored["nickname"]
    assert item.created_at.timestamp() == stored["created"]
    first = sim.reads()[-1]
    assert first.path == f"/v1/apps/{APP_ID}/customerReviews"
    assert first.query["sort"] == "-createdDate" and first.query["include"] == "response"


def test_next_links_are_followed_and_the_cursor_survives_json(sim, connector):
    sim.add_inbound(12)
    cursor, pulls, items = None, 0, []
    while True:
        batch = connector.pull(cursor)
        cursor, pulls = json.loads(json.dumps(batch.cursor)), pulls + 1
        items += batch.items
        if not batch.more:
            break
    assert pulls == 3 and len({i.external_id for i in items}) == 12
    assert all(c.query.get("cursor") for c in sim.reads()[-2:]), "pages 2 and 3 use links.next"


def test_sync_stops_paging_below_the_watermark(sim, connector):
    old = sim.add_inbound(12)
    for review_id in old:
        sim.reviews[review_id]["created"] -= 3 * 3600
    _, cursor, _ = sync(connector)
    sim.add_inbound(6)
    _, cursor, _ = sync(connector, cursor)
    new = sim.add_inbound(2)
    before = len(sim.reads())
    items, _, pulls = sync(connector, cursor)
    assert sorted(i.external_id for i in items) == sorted(new)
    assert pulls == 2 and len(sim.reads()) - before == 2, "4 pages exist, 2 are read"


def test_link_to_another_host_is_not_followed(sim, connector):
    sim.add_inbound(7)
    batch = connector.pull(None)
    assert batch.more
    cursor = batch.cursor | {"sync": batch.cursor["sync"] | {"next": "https://evil.example/v1/x"}}
    with pytest.raises(ConnectorError, match="refusing to follow"):
        connector.pull(cursor)


def test_our_published_response_comes_back_as_an_outbound_echo(sim, connector):
    (review_id,) = sim.add_inbound(1)
    response_id = connector.reply(review_target(review_id), "Merci pour votre avis !")
    items, _, _ = sync(connector)
    echo = next(i for i in items if i.outbound)
    assert echo.external_id == response_id
    assert echo.thread_id == review_id and echo.body == "Merci pour votre avis !"


# -- writing --------------------------------------------------------------------------------


def test_reply_posts_the_json_api_body_and_returns_the_response_id(sim, connector):
    (review_id,) = sim.add_inbound(1)
    response_id = connector.reply(review_target(review_id), "Thank you!")
    (call,) = sim.writes()
    assert call.method == "POST" and call.path == "/v1/customerReviewResponses"
    assert call.json() == {
        "data": {
            "type": "customerReviewResponses",
            "attributes": {"responseBody": "Thank you!"},
            "relationships": {"review": {"data": {"type": "customerReviews", "id": review_id}}},
        }
    }
    assert sim.responses[review_id]["id"] == response_id


def test_second_reply_replaces_the_first(sim, connector):
    (review_id,) = sim.add_inbound(1)
    first = connector.reply(review_target(review_id), "Merci !")
    second = connector.reply(review_target(review_id), "Merci beaucoup, à bientôt !")
    assert first != second
    assert sim.responses[review_id]["body"] == "Merci beaucoup, à bientôt !"
    assert len(sim.responses) == 1


def test_delete_response_withdraws_ours(sim, connector):
    (review_id,) = sim.add_inbound(1)
    response_id = connector.reply(review_target(review_id), "Merci !")
    connector.delete_response(response_id)
    assert sim.writes()[-1].method == "DELETE"
    assert sim.writes()[-1].path == f"/v1/customerReviewResponses/{response_id}"
    assert review_id not in sim.responses
    with pytest.raises(NotAllowed, match="customerReviewResponses"):
        connector.delete_response(response_id)


def test_reply_to_an_unknown_review_is_not_allowed(sim, connector):
    with pytest.raises(NotAllowed, match="no resource"):
        connector.reply(review_target("00000000-0000-0000-0000-000000000000"), "Merci")


def test_empty_reply_and_non_review_targets_are_refused_before_any_call(sim, connector):
    with pytest.raises(NotAllowed):
        connector.reply(review_target("r-1"), "   ")
    with pytest.raises(NotAllowed):
        connector.reply(Target(external_id="c-1", kind="comment"), "Merci")
    assert sim.calls == []


def test_reviews_cannot_be_moderated(sim, connector):
    for action in ("hide", "unhide", "delete", "like"):
        with pytest.raises(Unsupported, match=action):
            connector.moderate(review_target("r-1"), action)
    assert sim.calls == []


# -- limits and failures --------------------------------------------------------------------


def test_rate_limit_budget_header_is_read(sim, connector):
    assert parse_rate_limit("user-hour-lim:3600;user-hour-rem:12;") == {
        "user-hour-lim": 3600,
        "user-hour-rem": 12,
    }
    assert "of 3600 calls left this hour" in connector.check()


def test_429_rate_limit_exceeded_is_rate_limited_with_the_hourly_limit(sim, connector):
    sim.rate_limit(times=1, reset_in=3)
    with pytest.raises(RateLimited, match="3600 calls per hour") as caught:
        connector.pull(None)
    assert 1 <= caught.value.retry_after <= 3


def test_429_without_retry_after_waits_the_fallback(sim, connector):
    original = sim.rate_limited

    def no_retry_after(reset_at):
        response = original(reset_at)
        del response.headers["Retry-After"]
        return response

    sim.rate_limited = no_retry_after
    sim.rate_limit(times=1, reset_in=3)
    with pytest.raises(RateLimited) as caught:
        connector.pull(None)
    assert caught.value.retry_after == 300


def test_server_errors_are_retried_then_transient(sim, connector, monkeypatch):
    monkeypatch.setattr(AppStoreConnector, "retry_wait_max", 0.01)
    attempts = []

    def unavailable():
        attempts.append(request.path)
        return {"errors": [{"status": "503", "code": "UNAVAILABLE", "title": "Try later"}]}, 503

    sim.app.before_request_funcs.setdefault(None, []).insert(0, unavailable)
    with pytest.raises(Transient):
        connector.pull(None)
    assert len(attempts) == AppStoreConnector.retry_attempts


def test_unknown_app_is_not_allowed(sim):
    connector = build("app_store", sim, app_id="42")
    with pytest.raises(NotAllowed, match="apps"):
        connector.check()


def test_config_requires_a_real_p8_key_and_the_ids(sim):
    schema = AppStoreConnector.config_schema()
    good = sim.channel_config()
    with pytest.raises(ValidationError) as missing:
        schema.load({k: v for k, v in good.items() if k != "private_key"})
    assert "private_key" in missing.value.messages
    with pytest.raises(ValidationError, match=r"whole \.p8 file"):
        schema.load(good | {"private_key": "not a key"})
    with pytest.raises(ValidationError) as bad_ids:
        schema.load(good | {"issuer_id": "me", "key_id": "abc", "app_id": "maison"})
    assert set(bad_ids.value.messages) == {"issuer_id", "key_id", "app_id"}
    with pytest.raises(ValidationError):
        schema.load(good | {"team": "x"})
    assert AppStoreConnector.secret_fields() == {"private_key"}
