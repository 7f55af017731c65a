"""LinkedIn pages: the pull contract, nested comment threads, replies, deletes, Rest.li errors."""

from __future__ import annotations

import json

import pytest
from flask import request
from marshmallow import ValidationError

from connectors.base import (
    AuthExpired,
    ConnectorError,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
    Transient,
    Unsupported,
)
from connectors.linkedin import LinkedInConnector, comment_id_of, encode, plain_text
from connectors.sandbox.linkedin import ORG_URN, LinkedInSimulator, problem
from tests.connectors.contract import CommentsPullContract, build, sync


class TestLinkedInPull(CommentsPullContract):
    type = "linkedin"


@pytest.fixture
def sim():
    simulator = LinkedInSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("linkedin", sim)


def target_of(sim, urn: str) -> Target:
    comment = sim.comments[urn]
    return Target(
        external_id=urn,
        kind="comment",
        thread_id=comment["parent"] or urn,
        post_id=comment["post"],
        author_id=comment["actor"],
    )


def first_level(sim) -> str:
    return next(u for u, c in sim.comments.items() if c["parent"] is None)


def fail_every_call_with(sim, status: int, code: str, message: str):
    seen = []

    def fault():
        seen.append(request.path)
        return problem(status, code, message)

    sim.app.before_request_funcs.setdefault(None, []).insert(0, fault)
    return seen


# -- pulling --------------------------------------------------------------------------------


def test_comments_and_replies_are_threaded_under_the_first_level_comment(sim, connector):
    sim.add_inbound(30)
    items, _, _ = sync(connector)
    replies = [i for i in items if i.parent_id]
    assert replies, "the simulator writes replies under comments"
    for item in items:
        stored = sim.comments[item.external_id]
        assert item.kind == "comment" and item.post_id == stored["post"]
        assert item.author.id == stored["actor"] and item.body == stored["text"]
        assert item.created_at.timestamp() * 1000 == pytest.approx(stored["created"])
        assert item.thread_id == (stored["parent"] or item.external_id)


def test_comments_and_replies_carry_the_text_and_link_of_their_post(sim, connector):
    newest = sim.posts[0]
    top = sim._store(newest["id"], None, "urn:li:person:ana", "Le poste est-il en CDI ?")
    reply = sim._store(newest["id"], top["urn"], "urn:li:person:tom", "Je me pose la même")
    items, cursor, _ = sync(connector)
    by_id = {i.external_id: i for i in items}
    for comment in (top, reply):
        item = by_id[comment["urn"]]
        assert item.post_text == (
            "Nous recrutons (CDI) ! Rejoignez l'atelier Maison Lumière à Lyon. #recrutement #mode"
        ), "the little text format reads as the post does"
        assert item.post_url == f"https://www.linkedin.com/feed/update/{newest['id']}/"
    reads = [c.path for c in sim.reads()]
    assert reads.count("/rest/posts") == 1, "the text comes with the post listing"
    assert cursor["sync"] is None, "post texts are kept for one sync only"


def test_mentions_and_escapes_of_the_little_format_become_plain_text():
    little = (
        r"Merci \(vraiment\) à @[Léa Moreau](urn:li:person:abc) et "
        r"@[Maison\_Lumière](urn:li:organization:1) ! {hashtag|\#|merci} 100 \% \*"
    )
    assert plain_text(little) == "Merci (vraiment) à Léa Moreau et Maison_Lumière ! #merci 100 % *"


def test_requests_carry_the_version_headers_and_encoded_urns(sim, connector):
    sim.add_inbound(1)
    sync(connector)
    posts, *comments = sim.reads()
    assert posts.path == "/rest/posts"
    assert posts.query == {
        "q": "author",
        "author": ORG_URN,
        "sortBy": "CREATED",
        "start": "0",
        "count": "20",
    }
    for call in sim.reads():
        assert call.headers["Linkedin-Version"] == "202609"
        assert call.headers["X-Restli-Protocol-Version"] == "2.0.0"
        assert call.headers["Authorization"] == f"Bearer {sim.token}"
    assert {c.path for c in comments} == {
        f"/rest/socialActions/{p['id']}/comments" for p in sim.posts
    }


def test_missing_version_header_is_refused_by_the_simulator(sim):
    import requests

    answer = requests.get(
        f"{sim.base_url}/rest/organizations/1", headers={"Authorization": f"Bearer {sim.token}"}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "VERSION_MISSING"


def test_an_outdated_version_is_a_readable_error(sim):
    sim.app.before_request_funcs[None].insert(
        0, lambda: problem(426, "NONEXISTENT_VERSION", "Requested version 202301 is not active")
    )
    connector = build("linkedin", sim, api_version="202301")
    with pytest.raises(ConnectorError, match="no longer serves API version 202301"):
        connector.check()


def test_comment_written_meanwhile_on_a_post_already_read_is_not_lost(sim, connector):
    sim.add_inbound(4)
    listing = connector.pull(None)
    first_post = connector.pull(json.loads(json.dumps(listing.cursor)))
    assert first_post.more
    late = sim._store(sim.posts[0]["id"], None, "urn:li:person:late", "Bravo l'équipe !")
    later = sim._store(sim.posts[1]["id"], None, "urn:li:person:later", "Superbe")
    later["created"] = late["created"] + 5000  # read first, although written after
    cursor = json.loads(json.dumps(first_post.cursor))
    _, cursor, _ = sync(connector, cursor)
    items, _, _ = sync(connector, cursor)
    assert [i.external_id for i in items] == [late["urn"]]


def test_only_the_newest_posts_are_watched(sim):
    connector = build("linkedin", sim, max_posts=2)
    sync(connector)
    read = {c.path for c in sim.reads() if c.path.endswith("/comments")}
    assert read == {f"/rest/socialActions/{p['id']}/comments" for p in sim.posts[:2]}


def test_our_replies_come_back_as_outbound_echoes(sim, connector):
    (urn,) = sim.add_inbound(1)
    reply_urn = connector.reply(target_of(sim, urn), "Merci pour votre message !")
    items, _, _ = sync(connector)
    echo = next(i for i in items if i.external_id == reply_urn)
    assert echo.outbound and echo.thread_id == urn and echo.parent_id == urn
    assert echo.author.id == ORG_URN


# -- writing --------------------------------------------------------------------------------


def test_reply_nests_under_the_comment_as_the_organization(sim, connector):
    (urn,) = sim.add_inbound(1)
    post = sim.comments[urn]["post"]
    reply_urn = connector.reply(target_of(sim, urn), "Bonjour, nous revenons vers vous.")
    (call,) = sim.writes()
    assert call.method == "POST" and call.path == f"/rest/socialActions/{urn}/comments"
    assert call.json() == {
        "actor": ORG_URN,
        "object": post,
        "message": {"text": "Bonjour, nous revenons vers vous."},
        "parentComment": urn,
    }
    assert sim.comments[reply_urn]["parent"] == urn
    assert sim.comments[reply_urn]["actor"] == ORG_URN


def test_reply_to_a_reply_goes_to_its_thread(sim, connector):
    (urn,) = sim.add_inbound(1)
    reply_urn = connector.reply(target_of(sim, urn), "Merci !")
    answer = connector.reply(target_of(sim, reply_urn), "Bonne journée")
    assert sim.comments[answer]["parent"] == urn


def test_delete_a_first_level_comment_names_the_post_and_the_actor(sim, connector):
    sim.add_inbound(3)
    urn = first_level(sim)
    post = sim.comments[urn]["post"]
    connector.moderate(target_of(sim, urn), "delete")
    (call,) = sim.writes()
    assert call.method == "DELETE"
    assert call.path == f"/rest/socialActions/{post}/comments/{comment_id_of(urn)}"
    assert call.query == {"actor": ORG_URN}
    assert urn not in sim.comments


def test_delete_a_reply_names_its_thread(sim, connector):
    (urn,) = sim.add_inbound(1)
    reply_urn = connector.reply(target_of(sim, urn), "Merci !")
    connector.moderate(target_of(sim, reply_urn), "delete")
    assert sim.writes()[-1].path == f"/rest/socialActions/{urn}/comments/{comment_id_of(reply_urn)}"
    assert reply_urn not in sim.comments and urn in sim.comments


def test_delete_of_an_unknown_comment_is_not_allowed(sim, connector):
    post = sim.posts[0]["id"]
    target = Target(external_id=f"urn:li:comment:({post},1)", kind="comment", post_id=post)
    with pytest.raises(NotAllowed, match="not found"):
        connector.moderate(target, "delete")


@pytest.mark.parametrize("action", ["hide", "unhide", "like"])
def test_hide_and_like_are_unsupported(sim, connector, action):
    with pytest.raises(Unsupported, match=action):
        connector.moderate(Target(external_id="urn:li:comment:(a,1)", kind="comment"), action)
    assert sim.calls == []


def test_urn_helpers():
    urn = "urn:li:comment:(urn:li:ugcPost:7,42)"
    assert comment_id_of(urn) == "42"
    assert encode(urn) == "urn%3Ali%3Acomment%3A%28urn%3Ali%3AugcPost%3A7%2C42%29"
    assert LinkedInConnector._post_of(Target(external_id=urn, kind="comment")) == (
        "urn:li:ugcPost:7"
    )


# -- errors ---------------------------------------------------------------------------------


def test_invalid_token_is_auth_expired(sim, connector):
    sim.expire_token()
    with pytest.raises(AuthExpired, match="Invalid access token"):
        connector.check()


def test_forbidden_is_permission_denied(sim, connector):
    fail_every_call_with(sim, 403, "ACCESS_DENIED", "Not enough permissions to access: posts")
    with pytest.raises(PermissionDenied, match="admin role"):
        connector.pull(None)


def test_throttled_is_rate_limited_with_the_retry_after(sim, connector):
    sim.rate_limit(times=1, reset_in=3)
    with pytest.raises(RateLimited, match="throttle") as caught:
        connector.pull(None)
    assert 1 <= caught.value.retry_after <= 3


def test_throttled_without_retry_after_waits_the_fallback(sim, connector):
    fail_every_call_with(sim, 429, "TOO_MANY_REQUESTS", "Resource level throttle")
    with pytest.raises(RateLimited) as caught:
        connector.pull(None)
    assert caught.value.retry_after == 300


def test_server_errors_are_retried_then_transient(sim, connector, monkeypatch):
    monkeypatch.setattr(LinkedInConnector, "retry_wait_max", 0.01)
    seen = fail_every_call_with(sim, 504, "GATEWAY_TIMEOUT", "Upstream timed out")
    with pytest.raises(Transient):
        connector.pull(None)
    assert len(seen) == LinkedInConnector.retry_attempts


def test_config_needs_token_and_numeric_organization(sim):
    schema = LinkedInConnector.config_schema()
    with pytest.raises(ValidationError) as caught:
        schema.load({"api_base": sim.base_url})
    assert set(caught.value.messages) == {"access_token", "organization_id"}
    with pytest.raises(ValidationError) as bad:
        schema.load(sim.channel_config() | {"organization_id": "maison", "api_version": "2026"})
    assert set(bad.value.messages) == {"organization_id", "api_version"}
    assert LinkedInConnector.secret_fields() == {"access_token"}


def test_check_names_the_page(connector):
    assert connector.check() == (
        "Connected to the LinkedIn page “Maison Lumière” (linkedin.com/company/maison-lumiere)"
    )
