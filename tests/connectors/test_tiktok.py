"""TikTok for Business: the pull contract, comment threads, replies, hiding, error codes."""

from __future__ import annotations

import json

import pytest
import requests
from flask import request
from marshmallow import ValidationError

from connectors.base import (
    AuthExpired,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
    Transient,
    Unsupported,
)
from connectors.sandbox.tiktok import BUSINESS_ID, PREFIX, TikTokSimulator, envelope
from connectors.tiktok import TikTokConnector
from tests.connectors.contract import CommentsPullContract, build, sync


class TestTikTokPull(CommentsPullContract):
    type = "tiktok"


@pytest.fixture
def sim():
    simulator = TikTokSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("tiktok", sim)


def target_of(sim, comment_id: str) -> Target:
    comment = sim.comments[comment_id]
    return Target(
        external_id=comment_id,
        kind="comment",
        thread_id=comment["parent_comment_id"] or comment_id,
        post_id=comment["video_id"],
    )


def answer_every_call_with(sim, code: int, message: str):
    """Make the simulator answer every API call with one TikTok error code; count the calls."""
    seen = []

    def fault():
        seen.append(request.path)
        return envelope(code=code, message=message)

    sim.app.before_request_funcs.setdefault(None, []).insert(0, fault)
    return seen


# -- pulling --------------------------------------------------------------------------------


def test_comments_are_threaded_by_top_level_comment_and_video(sim, connector):
    sim.add_inbound(30)
    items, _, _ = sync(connector)
    by_id = {i.external_id: i for i in items}
    replies = [i for i in items if i.parent_id]
    assert replies, "the simulator writes replies under comments"
    for item in items:
        stored = sim.comments[item.external_id]
        assert item.kind == "comment" and item.post_id == stored["video_id"]
        assert item.author.handle == "@" + stored["username"]
        assert item.author.id == stored["unique_identifier"]
        assert item.body == stored["text"]
    for reply in replies:
        assert reply.thread_id == reply.parent_id
        assert by_id[reply.thread_id].thread_id == reply.thread_id
        assert by_id[reply.thread_id].post_id == reply.post_id


def test_pull_reads_videos_then_comments_with_access_token_header(sim, connector):
    sim.add_inbound(3)
    sync(connector)
    paths = [c.path for c in sim.reads()]
    assert paths[0] == f"{PREFIX}/video/list/"
    assert set(paths[1:]) == {f"{PREFIX}/comment/list/"}
    assert len(paths) == 1 + len(sim.videos), "one comment page per video"
    first = sim.reads()[1]
    assert first.headers["Access-Token"] == sim.token
    assert "Authorization" not in first.headers
    assert first.query | {"video_id": "-"} == {
        "business_id": BUSINESS_ID,
        "video_id": "-",
        "include_replies": "true",
        "status": "ALL",
        "sort_field": "create_time",
        "sort_order": "desc",
        "max_count": "30",
    }


def test_comments_carry_the_caption_and_share_link_of_their_video(sim, connector):
    sim.add_inbound(20)
    items, cursor, _ = sync(connector)
    videos = {v["item_id"]: v for v in sim.videos}
    for item in items:
        video = videos[item.post_id]
        assert (item.post_text, item.post_url) == (video["caption"], sim.share_url(video))
    (listing,) = [c for c in sim.reads() if c.path == f"{PREFIX}/video/list/"]
    assert json.loads(listing.query["fields"]) == ["item_id", "create_time", "caption", "share_url"]
    assert cursor["sync"] is None, "the captions are kept for one sync only"


def test_video_listing_holds_only_the_fields_asked(sim):
    url = f"{sim.base_url}{PREFIX}/video/list/"
    headers = {"Access-Token": sim.token}
    bare = requests.get(url, params={"business_id": BUSINESS_ID}, headers=headers, timeout=5)
    assert all(set(v) == {"item_id"} for v in bare.json()["data"]["videos"])
    fields = json.dumps(["item_id", "caption"])
    asked = requests.get(
        url, params={"business_id": BUSINESS_ID, "fields": fields}, headers=headers, timeout=5
    )
    assert all(set(v) == {"item_id", "caption"} for v in asked.json()["data"]["videos"])


def test_comment_written_meanwhile_on_a_video_already_read_is_not_lost(sim, connector):
    sim.add_inbound(4)
    listing = connector.pull(None)
    first_video = connector.pull(json.loads(json.dumps(listing.cursor)))
    assert first_video.more
    late = sim._store(
        sim.videos[0]["item_id"], "Et en 38 ?", user=("u", "lea.moreau", "Léa"), parent_id=None
    )
    later = sim._store(
        sim.videos[1]["item_id"], "Sublime", user=("v", "hugo_petit", "Hugo"), parent_id=None
    )
    later["create_time"] = late["create_time"] + 5  # read first, although written after
    cursor = json.loads(json.dumps(first_video.cursor))
    _, cursor, _ = sync(connector, cursor)
    items, _, _ = sync(connector, cursor)
    assert [i.external_id for i in items] == [late["comment_id"]]


def test_only_the_newest_videos_are_watched(sim):
    connector = build("tiktok", sim, max_videos=2)
    sync(connector)
    watched = {c.query["video_id"] for c in sim.reads() if c.path.endswith("/comment/list/")}
    assert watched == {v["item_id"] for v in sim.videos[:2]}


def test_our_replies_come_back_as_outbound_echoes(sim, connector):
    (comment_id,) = sim.add_inbound(1)
    reply_id = connector.reply(target_of(sim, comment_id), "Merci Camille !")
    items, _, _ = sync(connector)
    echo = next(i for i in items if i.external_id == reply_id)
    assert echo.outbound and echo.thread_id == comment_id and echo.parent_id == comment_id


def test_hidden_comments_are_still_read(sim, connector):
    (comment_id,) = sim.add_inbound(1)
    sim.comments[comment_id]["status"] = "HIDDEN"
    items, _, _ = sync(connector)
    assert [i.external_id for i in items] == [comment_id]


# -- writing --------------------------------------------------------------------------------


def test_reply_posts_to_reply_create_and_returns_the_comment_id(sim, connector):
    (comment_id,) = sim.add_inbound(1)
    target = target_of(sim, comment_id)
    reply_id = connector.reply(target, "Bonjour, on regarde ça tout de suite !")
    (call,) = sim.writes()
    assert call.path == f"{PREFIX}/comment/reply/create/"
    assert call.json() == {
        "business_id": BUSINESS_ID,
        "video_id": target.post_id,
        "comment_id": comment_id,
        "text": "Bonjour, on regarde ça tout de suite !",
    }
    assert sim.comments[reply_id]["owner"] and sim.comments[reply_id]["parent_comment_id"]


def test_reply_longer_than_150_characters_is_refused_before_any_call(sim, connector):
    (comment_id,) = sim.add_inbound(1)
    with pytest.raises(NotAllowed, match="150 characters"):
        connector.reply(target_of(sim, comment_id), "x" * 151)
    assert sim.writes() == []


@pytest.mark.parametrize(("action", "status"), [("hide", "HIDDEN"), ("unhide", "PUBLIC")])
def test_hide_and_unhide_post_the_action(sim, connector, action, status):
    (comment_id,) = sim.add_inbound(1)
    target = target_of(sim, comment_id)
    connector.moderate(target, action)
    (call,) = sim.writes()
    assert call.path == f"{PREFIX}/comment/hide/"
    assert call.json() == {
        "business_id": BUSINESS_ID,
        "video_id": target.post_id,
        "comment_id": comment_id,
        "action": action.upper(),
    }
    assert sim.comments[comment_id]["status"] == status


def test_like_posts_the_like_action(sim, connector):
    (comment_id,) = sim.add_inbound(1)
    connector.moderate(target_of(sim, comment_id), "like")
    (call,) = sim.writes()
    assert call.path == f"{PREFIX}/comment/like/"
    assert call.json() == {"business_id": BUSINESS_ID, "comment_id": comment_id, "action": "LIKE"}
    assert sim.comments[comment_id]["liked"]


def test_delete_is_unsupported_because_only_our_own_comments_can_be_deleted(sim, connector):
    with pytest.raises(Unsupported, match="delete"):
        connector.moderate(Target(external_id="1", kind="comment", post_id="2"), "delete")
    assert sim.calls == []


def test_hide_without_a_video_is_not_allowed(sim, connector):
    with pytest.raises(NotAllowed, match="video"):
        connector.moderate(Target(external_id="1", kind="comment"), "hide")
    assert sim.calls == []


def test_unknown_comment_is_not_allowed_with_tiktoks_message(sim, connector):
    target = Target(external_id="1", kind="comment", post_id=sim.videos[0]["item_id"])
    with pytest.raises(NotAllowed, match=r"Invalid parameter: comment_id.*40002"):
        connector.moderate(target, "hide")


# -- error codes ----------------------------------------------------------------------------


def test_code_40100_is_rate_limited_with_the_retry_after(sim, connector):
    sim.rate_limit(times=1, reset_in=3)
    with pytest.raises(RateLimited, match="40100") as caught:
        connector.check()
    assert 1 <= caught.value.retry_after <= 3


def test_code_40100_without_retry_after_waits_a_minute(sim, connector):
    answer_every_call_with(sim, 40100, "Too many requests.")
    with pytest.raises(RateLimited) as caught:
        connector.pull(None)
    assert caught.value.retry_after == 60


@pytest.mark.parametrize("code", [40102, 40104, 40105])
def test_token_codes_are_auth_expired(sim, connector, code):
    answer_every_call_with(sim, code, "Access token is invalid.")
    with pytest.raises(AuthExpired, match="reconnect"):
        connector.check()


def test_code_40001_is_permission_denied(sim):
    connector = build("tiktok", sim, business_id="someone-else")
    with pytest.raises(PermissionDenied, match="40001"):
        connector.check()


def test_internal_error_codes_are_retried_then_transient(sim, connector, monkeypatch):
    monkeypatch.setattr(TikTokConnector, "retry_wait_max", 0.01)
    seen = answer_every_call_with(sim, 50002, "Internal error, please retry.")
    with pytest.raises(Transient, match="50002"):
        connector.pull(None)
    assert len(seen) == TikTokConnector.retry_attempts


def test_http_5xx_is_retried_then_transient(sim, connector, monkeypatch):
    monkeypatch.setattr(TikTokConnector, "retry_wait_max", 0.01)
    seen = []

    def down():
        seen.append(1)
        return "upstream unavailable", 502

    sim.app.before_request_funcs.setdefault(None, []).insert(0, down)
    with pytest.raises(Transient):
        connector.check()
    assert len(seen) == TikTokConnector.retry_attempts


def test_config_needs_the_token_and_business_id(sim):
    schema = TikTokConnector.config_schema()
    with pytest.raises(ValidationError) as caught:
        schema.load({"api_base": sim.base_url})
    assert set(caught.value.messages) == {"access_token", "business_id"}
    with pytest.raises(ValidationError):
        schema.load(sim.channel_config() | {"max_videos": 0})
    assert schema.load(sim.channel_config())["max_videos"] == 20
    assert TikTokConnector.secret_fields() == {"access_token"}


def test_check_names_the_account(connector):
    assert connector.check() == "Connected to TikTok @maisonlumiere (Maison Lumière)"
