"""YouTube connector against its simulator: pull contract, replies, moderation, Google errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from marshmallow import ValidationError

from connectors.base import (
    AuthExpired,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
    Transient,
)
from connectors.google import BadRequest, seconds_until_pacific_midnight
from connectors.sandbox.youtube import CHANNEL_ID, VIDEOS
from connectors.youtube import YouTubeConfig, YouTubeConnector
from tests.connectors.contract import CommentsPullContract, build, inbound_ids, sync


class TestYouTubePull(CommentsPullContract):
    type = "youtube"


@pytest.fixture
def sim():
    from connectors.sandbox.youtube import YouTubeSimulator

    simulator = YouTubeSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("youtube", sim)


def comment_target(item) -> Target:
    return Target(
        external_id=item.external_id, kind="comment", thread_id=item.thread_id, post_id=item.post_id
    )


def test_items_thread_under_their_top_level_comment(sim, connector):
    sim.add_inbound(15)
    items, _, _ = sync(connector)
    videos = {video for video, _ in VIDEOS}
    assert any(i.parent_id for i in items), "the traffic has replies under comments"
    for item in items:
        assert item.kind == "comment" and item.post_id in videos
        if item.parent_id:
            assert item.thread_id == item.parent_id
            assert item.external_id.startswith(item.parent_id + ".")
        else:
            assert item.thread_id == item.external_id
        assert item.url == f"https://www.youtube.com/watch?v={item.post_id}&lc={item.external_id}"
    comment_reads = [c for c in sim.reads() if c.path != "/youtube/v3/videos"]
    assert all(c.query.get("textFormat") == "plainText" for c in comment_reads)


def test_a_page_of_threads_on_several_videos_costs_one_videos_call(sim, connector):
    with sim.lock:
        for round_ in range(2):  # ten threads on the five videos: two pages of five
            for video, _ in VIDEOS:
                sim._add(video, sim.traffic.person(), f"Question {round_} sur {video}", None)
    items, cursor, _ = sync(connector)
    titles = dict(VIDEOS)
    assert len(items) == 10
    for item in items:
        assert item.post_text == titles[item.post_id]
        assert item.post_url == f"https://www.youtube.com/watch?v={item.post_id}"
    pages = [c for c in sim.reads() if c.path == "/youtube/v3/commentThreads"]
    lookups = [c for c in sim.reads() if c.path == "/youtube/v3/videos"]
    assert len(pages) == 2 and len(lookups) == 1, "titles are asked once, for the whole page"
    assert lookups[0].query == {"part": "snippet", "id": lookups[0].query["id"]}
    assert sorted(lookups[0].query["id"].split(",")) == sorted(titles)
    assert "titles" not in cursor, "titles are kept for one sync only"


def test_replies_in_a_later_sync_ask_only_for_their_video_title(sim, connector):
    first = sim.add_inbound(6)
    _, cursor, _ = sync(connector)
    thread = next(i for i in first if "." not in i)
    sim.advance(60)
    sim.add_replies(thread, 7)  # past the five embedded: read with comments.list
    before = len(sim.reads())
    items, _, _ = sync(connector, cursor)
    video = sim.threads[thread]["video"]
    assert {(i.post_text, i.post_url) for i in items} == {
        (dict(VIDEOS)[video], f"https://www.youtube.com/watch?v={video}")
    }
    lookups = [c for c in sim.reads()[before:] if c.path == "/youtube/v3/videos"]
    assert [c.query["id"] for c in lookups] == [video]


@pytest.mark.parametrize("count", [2, 7])  # within the embedded five, and past them
def test_new_replies_on_older_threads_are_found(sim, connector, count):
    with sim.lock:  # threads of their own: random traffic could reply to the one watched here
        old_thread = sim._add(VIDEOS[0][0], sim.traffic.person(), "Dispo en 38 ?", None)["id"]
        for video, _ in VIDEOS * 2:
            sim._add(video, sim.traffic.person(), "Superbe !", None)
    sim.advance(60)
    sim.add_inbound(1)
    _, cursor, _ = sync(connector)
    sim.advance(60)
    replies = sim.add_replies(old_thread, count)
    reads_before = len(sim.reads())
    items, cursor, _ = sync(connector, cursor)
    assert sorted(inbound_ids(items)) == sorted(replies)
    assert {i.thread_id for i in items} == {old_thread}
    rereads = [c.query for c in sim.reads()[reads_before:]]
    assert any(old_thread in q.get("id", "").split(",") for q in rereads)
    assert any(q.get("parentId") == old_thread for q in rereads) == (count > 5)
    assert inbound_ids(sync(connector, cursor)[0]) == []


def test_reply_posts_under_the_top_level_comment_and_comes_back_as_an_echo(sim, connector):
    sim.add_inbound(6)
    items, cursor, _ = sync(connector)
    target = next(i for i in items if i.parent_id) if any(i.parent_id for i in items) else items[0]
    new_id = connector.reply(comment_target(target), "Merci pour votre message !")
    call = sim.writes()[-1]
    assert (call.method, call.path, call.query) == (
        "POST",
        "/youtube/v3/comments",
        {"part": "snippet"},
    )
    assert call.json() == {
        "snippet": {"parentId": target.thread_id, "textOriginal": "Merci pour votre message !"}
    }
    assert new_id.startswith(target.thread_id + ".")
    echoes = [i for i in sync(connector, cursor)[0] if i.external_id == new_id]
    assert len(echoes) == 1 and echoes[0].outbound and echoes[0].author.id == CHANNEL_ID


def test_hide_and_unhide_set_the_moderation_status(sim, connector):
    ids = sim.add_inbound(4)
    items, _, _ = sync(connector)
    target = comment_target(next(i for i in items if i.external_id == ids[0]))
    connector.moderate(target, "hide")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", "/youtube/v3/comments/setModerationStatus")
    assert call.query == {"id": ids[0], "moderationStatus": "rejected"}
    assert ids[0] not in inbound_ids(sync(connector)[0])
    connector.moderate(target, "unhide")
    assert sim.writes()[-1].query == {"id": ids[0], "moderationStatus": "published"}
    assert ids[0] in inbound_ids(sync(connector)[0])


def test_reply_on_a_video_with_comments_off_is_not_allowed(sim, connector):
    sim.add_inbound(3)
    item = sync(connector)[0][0]
    sim.disable_comments(item.post_id)
    with pytest.raises(NotAllowed, match="turned off"):
        connector.reply(comment_target(item), "Bonjour")


def test_hiding_an_unknown_comment_is_not_allowed(sim, connector):
    with pytest.raises(NotAllowed, match="could not find"):
        connector.moderate(Target(external_id="Ugwnope", kind="comment"), "hide")


def test_spent_daily_quota_waits_until_midnight_pacific(sim, connector):
    sim.spend_quota()
    with pytest.raises(RateLimited, match="quota") as caught:
        connector.pull(None)
    now = datetime.now(ZoneInfo("America/Los_Angeles"))
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    expected = (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds()
    assert expected <= caught.value.retry_after <= expected + 120


@pytest.mark.parametrize(
    ("now", "hours"),
    [
        ("2025-03-09T09:00:00+00:00", 22),  # 01:00 PST on the spring-forward day
        ("2025-11-02T07:30:00+00:00", 24.5),  # 00:30 PDT on the fall-back day
        ("2025-07-01T12:00:00+00:00", 19),  # 05:00 PDT
    ],
)
def test_pacific_midnight_counts_daylight_saving_changes(now, hours):
    assert seconds_until_pacific_midnight(datetime.fromisoformat(now)) == hours * 3600


def test_server_errors_are_retried_then_transient(sim, connector):
    sim.add_inbound(2)
    connector.retry_wait_max = 0.01
    sim.fail(2)
    assert len(inbound_ids(connector.pull(None).items)) == 2
    sim.fail(5)
    before = len(sim.calls)
    with pytest.raises(Transient):
        connector.pull(None)
    assert len(sim.calls) - before == connector.retry_attempts


def google_answer(status: int, body: dict, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    return response


def envelope(code: int, reason: str, status: str = "") -> dict:
    return {
        "error": {"code": code, "message": "m", "status": status, "errors": [{"reason": reason}]}
    }


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (401, envelope(401, "authError", "UNAUTHENTICATED"), {}, AuthExpired),
        (403, envelope(403, "forbidden"), {}, PermissionDenied),
        (403, envelope(403, "insufficientPermissions"), {}, PermissionDenied),
        (403, envelope(403, "commentsDisabled"), {}, NotAllowed),
        (403, envelope(403, "dailyLimitExceeded"), {}, RateLimited),
        (403, envelope(403, "rateLimitExceeded"), {"Retry-After": "7"}, RateLimited),
        (429, envelope(429, "", "RESOURCE_EXHAUSTED"), {"Retry-After": "7"}, RateLimited),
        (400, envelope(400, "required"), {}, BadRequest),  # "Required parameter", not a sign-in
        (404, envelope(404, "commentNotFound", "NOT_FOUND"), {}, NotAllowed),
    ],
)
def test_google_error_bodies_map_to_our_errors(connector, status, body, headers, expected):
    with pytest.raises(expected) as caught:
        connector.raise_error(google_answer(status, body, headers))
    if headers:
        assert caught.value.retry_after == 7


def test_check_names_the_channel_and_refuses_another_one(sim, connector):
    assert connector.check() == "Connected to the YouTube channel Maison Lumière (@maisonlumiere)"
    other = build("youtube", sim, channel_id="UC" + "x" * 22)
    with pytest.raises(PermissionDenied, match="Maison Lumière"):
        other.check()


def test_config_needs_a_token_and_a_channel_id():
    with pytest.raises(ValidationError) as caught:
        YouTubeConfig().load({"channel_id": "not-a-channel"})
    assert set(caught.value.messages) == {"access_token", "channel_id"}
    assert YouTubeConnector.secret_fields() == {"access_token"}
