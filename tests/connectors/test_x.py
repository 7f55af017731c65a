"""X connector against its simulator: the shared contract, then X's own rules and shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time

import pytest
import requests
from flask import Flask
from flask import request as flask_request
from marshmallow import ValidationError
from werkzeug.serving import make_server

from connectors.base import (
    AuthExpired,
    BadPayload,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    RawRequest,
    Target,
    Transient,
    Unsupported,
    WebhookRejected,
)
from connectors.sandbox.x import ME_ID, XSimulator, one_to_one
from connectors.x import XConfig, XConnector
from tests.connectors.contract import PullContract, WebhookContract, build, inbound_ids, sync


class TestXPull(PullContract):
    type = "x"


class TestXWebhook(WebhookContract):
    type = "x"


@pytest.fixture
def sim():
    simulator = XSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim) -> XConnector:
    return build("x", sim)


def target_of(sim: XSimulator, tweet_id: str, kind: str = "mention") -> Target:
    tweet = sim.tweets[tweet_id]
    return Target(
        external_id=tweet_id,
        kind=kind,
        thread_id=tweet["conversation_id"],
        author_id=tweet["author_id"],
    )


def expected_token(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def by_id(items) -> dict:
    return {item.external_id: item for item in items}


# -- pull: kinds and threading --------------------------------------------------------------


def test_each_kind_is_normalized_with_x_threading(sim, connector):
    reply = sim.add_inbound(kind="reply")[0]
    thread = sim.add_inbound(kind="thread")[0]
    quote = sim.add_inbound(kind="quote")[0]
    bare = sim.add_inbound(kind="bare_quote")[0]
    repost = sim.add_inbound(kind="repost")[0]
    dm = sim.add_inbound(kind="dm")[0]
    watch = sim.add_inbound(kind="watch")[0]
    items = by_id(sync(connector)[0])

    root = sim.tweets[reply]["conversation_id"]
    assert root in sim.our_posts
    assert (items[reply].kind, items[reply].thread_id, items[reply].post_id) == (
        "mention",
        root,
        root,
    )
    assert items[reply].parent_id == sim.tweets[reply]["referenced_tweets"][0]["id"]
    assert items[reply].url.startswith("https://x.com/") and items[reply].url.endswith(reply)
    assert items[thread].thread_id in sim.other_roots

    quoted = sim.tweets[quote]["referenced_tweets"][0]["id"]
    assert (items[quote].kind, items[quote].post_id, items[quote].thread_id) == (
        "quote",
        quoted,
        quote,
    )
    # a quote that adds only the link to our post is a repost of that post
    assert items[bare].kind == "repost"
    assert items[bare].post_id == sim.tweets[bare]["referenced_tweets"][0]["id"]
    assert items[repost].kind == "repost"
    assert items[repost].post_id == sim.tweets[repost]["referenced_tweets"][0]["id"]

    assert items[dm].kind == "dm"
    author = sim.dm_events[dm]["sender_id"]
    assert (
        items[dm].thread_id
        == one_to_one(ME_ID, author)
        == f"{min(author, ME_ID, key=int)}-" + (max(author, ME_ID, key=int))
    )
    assert items[dm].author.id == author and items[dm].author.handle.startswith("@")

    assert items[watch].kind == "mention" and "@maisonlumiere" not in items[watch].body
    # the author's audience comes with the user object (moderation rules can test it)
    mention_author = sim.tweets[reply]["author_id"]
    assert items[reply].author.followers == sim._followers(mention_author) > 0
    assert not any(items[i].outbound for i in (reply, thread, quote, bare, repost, dm, watch))
    ours = [i for i in items.values() if i.outbound]
    assert ours and all(i.author.id == ME_ID for i in ours)


def post_of(sim: XSimulator, tweet_id: str) -> tuple[str, str]:
    """The text and link of a post, as the simulator holds it."""
    tweet = sim.tweets[tweet_id]
    return tweet[
        "text"
    ], f"https://x.com/{sim.users[tweet['author_id']]['username']}/status/{tweet_id}"


def test_replies_quotes_and_reposts_carry_the_post_they_answer(sim, connector):
    reply = sim.add_inbound(kind="reply")[0]
    deep = deep_reply(sim)
    thread = sim.add_inbound(kind="thread")[0]
    quote = sim.add_inbound(kind="quote")[0]
    bare = sim.add_inbound(kind="bare_quote")[0]
    repost = sim.add_inbound(kind="repost")[0]
    mention = sim.add_inbound(kind="mention")[0]
    dm = sim.add_inbound(kind="dm")[0]
    items = by_id(sync(connector)[0])

    def ref(tweet_id: str, kind: str) -> str:
        return next(r["id"] for r in sim.tweets[tweet_id]["referenced_tweets"] if r["type"] == kind)

    for tweet_id in (reply, deep, thread):
        parent = ref(tweet_id, "replied_to")
        assert (items[tweet_id].post_text, items[tweet_id].post_url) == post_of(sim, parent)
    assert ref(deep, "replied_to") != sim.tweets[deep]["conversation_id"], "the parent, not root"
    for tweet_id in (quote, bare):
        assert (items[tweet_id].post_text, items[tweet_id].post_url) == post_of(
            sim, ref(tweet_id, "quoted")
        )
    original = ref(repost, "retweeted")
    assert (items[repost].post_text, items[repost].post_url) == post_of(sim, original)
    for alone in (mention, dm):
        assert (items[alone].post_text, items[alone].post_url) == (None, None)
    feeds = [
        c
        for c in sim.reads()
        if c.path.endswith(("/mentions", "/retweets", "/quote_tweets", "/search/recent"))
    ]
    assert feeds
    for call in feeds:
        assert call.query["expansions"] == (
            "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
        ), call.path
    lookups = [c for c in sim.reads() if re.fullmatch(r"/2/tweets(/\d+)?", c.path)]
    assert lookups == [], "the posts come with the feeds, not with calls of their own"


def test_watch_feed_does_not_repeat_what_other_feeds_report(sim, connector):
    sim.add_inbound(kind="mention")
    sim.add_inbound(kind="watch", count=3)
    sim.add_inbound(kind="quote")
    items, _, _ = sync(connector)
    ids = [i.external_id for i in items]
    assert len(ids) == len(set(ids))
    searches = [c for c in sim.reads() if c.path == "/2/tweets/search/recent"]
    assert searches and searches[0].query["query"] == '"Maison Lumière" -is:retweet'


def test_watch_survives_a_since_id_older_than_the_search_window(sim, connector):
    sim.add_inbound(kind="watch", count=2)
    _, cursor, _ = sync(connector)
    later = sim.add_inbound(kind="watch", count=3)
    sim.fail_next(
        400,
        "Invalid 'since_id': it must be a post id created within the last 7 days.",
        title="Invalid Request",
        type_="https://api.twitter.com/2/problems/invalid-request",
        path="/2/tweets/search/recent",
    )
    items, cursor, _ = sync(connector, cursor)
    assert sorted(inbound_ids(items)) == sorted(later)
    searches = [c for c in sim.reads() if c.path == "/2/tweets/search/recent"]
    assert "since_id" in searches[-2].query and "since_id" not in searches[-1].query
    assert inbound_ids(sync(connector, cursor)[0]) == []


def test_many_engaged_posts_are_listed_over_several_pages(sim, connector):
    for post in sim.our_posts:
        with sim.lock:
            person = next(u for u in sim.users if u != ME_ID)
            sim._post(person, f"RT @maisonlumiere: {sim.tweets[post]['text']}", retweeted=post)
    items, _, _ = sync(connector)
    assert len([i for i in items if i.kind == "repost"]) == len(sim.our_posts)
    assert len([c for c in sim.reads() if c.path == "/2/users/reposts_of_me"]) == 2


def test_without_watch_query_search_is_not_called(sim):
    connector = build("x", sim, watch_query=None)
    sim.add_inbound(6)
    sync(connector)
    assert not [c for c in sim.reads() if c.path == "/2/tweets/search/recent"]


def test_mentions_use_since_id_and_pagination_token(sim, connector):
    sim.add_inbound(12, kind="mention")
    _, cursor, _ = sync(connector)
    mentions = [c for c in sim.reads() if c.path.endswith("/mentions")]
    assert mentions[0].path == f"/2/users/{ME_ID}/mentions"
    assert "since_id" not in mentions[0].query and "pagination_token" not in mentions[0].query
    assert all("pagination_token" in c.query for c in mentions[1:])
    assert "author_id" in mentions[0].query["expansions"]
    assert "conversation_id" in mentions[0].query["tweet.fields"]
    newest = max((t["id"] for t in sim.tweets.values()), key=int)
    assert cursor["marks"]["mentions"] == newest
    before = len(sim.reads())
    sync(connector, cursor)
    later = [c for c in sim.reads()[before:] if c.path.endswith("/mentions")]
    assert later[0].query["since_id"] == newest


def test_engagement_skips_posts_whose_counts_did_not_move(sim, connector):
    sim.add_inbound(3, kind="repost")
    _, cursor, _ = sync(connector)
    before = len(sim.reads())
    items, cursor, _ = sync(connector, cursor)
    assert inbound_ids(items) == []
    paths = [c.path for c in sim.reads()[before:]]
    assert "/2/users/reposts_of_me" in paths
    assert not [p for p in paths if p.endswith(("/retweets", "/quote_tweets"))]


def test_a_sync_cut_short_by_a_rate_limit_resumes_without_loss_or_repeat(sim, connector):
    expected = sim.add_inbound(18)
    first = connector.pull(None)
    cursor = json.loads(json.dumps(first.cursor))
    assert first.more and cursor["marks"] == {}, "no watermark moves before a feed is read"
    sim.rate_limit(times=1, reset_in=30)
    with pytest.raises(RateLimited):
        connector.pull(cursor)
    sim.rate_limit(times=0)
    rest, _, _ = sync(connector, cursor)
    got = inbound_ids(first.items) + inbound_ids(rest)
    assert sorted(got) == sorted(expected)


def test_an_edited_post_updates_the_item_it_was(sim, connector):
    original = sim.add_inbound(kind="mention")[0]
    _, cursor, _ = sync(connector)
    sim.edit(original, "@maisonlumiere Finalement reçu, merci !")
    items, _, _ = sync(connector, cursor)
    edited = by_id(items)[original]
    assert edited.body == "@maisonlumiere Finalement reçu, merci !"
    assert edited.edited_at is not None and edited.edited_at >= edited.created_at


def test_html_entities_in_post_text_are_decoded(sim, connector):
    tweet_id = sim.add_inbound(kind="mention")[0]
    sim.tweets[tweet_id]["text"] = "@maisonlumiere Pull &amp; écharpe &lt;3"
    items = by_id(sync(connector)[0])
    assert items[tweet_id].body == "@maisonlumiere Pull & écharpe <3"


# -- webhooks -------------------------------------------------------------------------------


def test_crc_answer_is_exact(connector):
    answer = connector.handshake(
        RawRequest(method="GET", headers={}, body=b"", query={"crc_token": "c2NyYXRjaA-1"})
    )
    assert answer is not None
    status, text = answer
    assert status == 200
    assert json.loads(text) == {
        "response_token": expected_token("sandbox-app-secret-0123456789", b"c2NyYXRjaA-1")
    }
    assert connector.handshake(RawRequest(method="POST", headers={}, body=b"{}")) is None
    assert connector.handshake(RawRequest(method="GET", headers={}, body=b"", query={})) is None


def test_simulator_crc_accepts_the_connector_answer(sim, connector):
    app = Flask("crc")

    @app.get("/hook")
    def hook():
        raw = RawRequest("GET", dict(flask_request.headers), b"", flask_request.args.to_dict())
        status, text = connector.handshake(raw)
        return text, status, {"Content-Type": "application/json"}

    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert sim.validate_crc(f"http://127.0.0.1:{server.server_port}/hook")
        other = build("x", sim, consumer_secret="another-consumer-secret-000")
        app.view_functions["hook"] = lambda: (
            other.handshake(RawRequest("GET", {}, b"", flask_request.args.to_dict()))[1],
            200,
        )
        assert not sim.validate_crc(f"http://127.0.0.1:{server.server_port}/hook")
    finally:
        server.shutdown()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_crc_through_the_inbox_webhook_route(app, world, sim):
    channel = world.channel(type_="x", config=sim.channel_config())
    response = app.test_client().get(f"/hooks/{channel.id}?crc_token=Y3JjLXRva2Vu")
    assert response.status_code == 200
    assert json.loads(response.data) == {
        "response_token": expected_token(sim.secret, b"Y3JjLXRva2Vu")
    }


def test_webhook_signature_is_base64_hmac_of_the_raw_body(sim, connector):
    headers, body, _ = sim.webhook_delivery(1)
    assert headers["x-twitter-webhooks-signature"] == expected_token(sim.secret, body)
    connector.verify_webhook(RawRequest("POST", headers, body))
    with pytest.raises(WebhookRejected, match="missing"):
        connector.verify_webhook(RawRequest("POST", {}, body))
    future = sim.webhook_delivery(1, age=-3600)
    with pytest.raises(WebhookRejected, match="future"):
        connector.verify_webhook(RawRequest("POST", future[0], future[1]))


def test_webhook_without_consumer_secret_is_refused(sim):
    connector = build("x", sim, consumer_secret=None)
    headers, body, _ = sim.webhook_delivery(1)
    with pytest.raises(WebhookRejected, match="consumer secret"):
        connector.verify_webhook(RawRequest("POST", headers, body))


def test_webhook_items_thread_like_pulled_items(sim, connector):
    _, body, ids = sim.webhook_delivery(8)
    pushed = by_id(connector.parse_webhook(body))
    pulled = by_id(sync(connector)[0])
    for tweet_id in ids:
        a, b = pushed[tweet_id], pulled[tweet_id]
        assert (a.kind, a.thread_id, a.post_id, a.parent_id, a.author) == (
            b.kind,
            b.thread_id,
            b.post_id,
            b.parent_id,
            b.author,
        ), tweet_id
        assert a.body == b.body
        assert (a.post_text, a.post_url) == (b.post_text, b.post_url), tweet_id
    envelope = json.loads(body)
    assert envelope["for_user_id"] == ME_ID and "id_str" in envelope["tweet_create_events"][0]


def deep_reply(sim: XSimulator) -> str:
    """A customer answering our reply under our post: its parent is not the root."""
    first = sim.add_inbound(kind="reply")[0]
    with sim.lock:
        ours = sim._post(ME_ID, "Merci pour votre message !", parent=first)
        person = sim.tweets[first]["author_id"]
        handle = sim.users[person]["username"]
        return sim._post(person, f"@maisonlumiere @{handle} Toujours rien…", parent=ours["id"])[
            "id"
        ]


def test_webhook_reply_deep_in_a_thread_gets_the_root_conversation(sim, connector):
    tweet_id = deep_reply(sim)
    root = sim.tweets[tweet_id]["conversation_id"]
    legacy = sim._legacy_tweet(sim.tweets[tweet_id], int(time.time() * 1000))
    assert "conversation_id" not in legacy
    _, body = sim.signed({"for_user_id": ME_ID, "tweet_create_events": [legacy]})
    (item,) = connector.parse_webhook(body)
    assert item.thread_id == root != item.parent_id
    lookup = [c for c in sim.reads() if c.path == "/2/tweets"]
    assert lookup and lookup[-1].query == {
        "ids": tweet_id,
        "tweet.fields": "conversation_id",
        "expansions": "referenced_tweets.id",
    }
    assert (item.post_text, item.post_url) == post_of(sim, item.parent_id)


def test_pushed_quotes_and_reposts_carry_their_post_without_a_lookup(sim, connector):
    quote = sim.add_inbound(kind="quote")[0]
    repost = sim.add_inbound(kind="repost")[0]
    at = int(time.time() * 1000)
    events = [sim._legacy_tweet(sim.tweets[i], at) for i in (quote, repost)]
    _, body = sim.signed({"for_user_id": ME_ID, "tweet_create_events": events})
    before = len(sim.calls)
    items = by_id(connector.parse_webhook(body))
    assert len(sim.calls) == before, "the delivery carries the posts"
    quoted = events[0]["quoted_status"]["id_str"]
    reposted = events[1]["retweeted_status"]["id_str"]
    assert (items[quote].post_text, items[quote].post_url) == post_of(sim, quoted)
    assert (items[repost].post_text, items[repost].post_url) == post_of(sim, reposted)


def test_webhook_lookup_failure_falls_back_to_the_parent_without_retrying(sim, connector):
    tweet_id = deep_reply(sim)
    legacy = sim._legacy_tweet(sim.tweets[tweet_id], int(time.time() * 1000))
    _, body = sim.signed({"for_user_id": ME_ID, "tweet_create_events": [legacy]})
    sim.fail_next(503, "Service Unavailable", times=3)
    before = len(sim.calls)
    (item,) = connector.parse_webhook(body)
    assert item.thread_id == item.parent_id == legacy["in_reply_to_status_id_str"]
    assert len(sim.calls) - before == 1
    _, link = post_of(sim, item.parent_id)
    assert (item.post_text, item.post_url) == (None, link), "the link needs no lookup"


def test_webhook_direct_messages_match_pulled_dms(sim, connector):
    _, body, ids = sim.webhook_delivery(2, dms=True)
    pushed = by_id(connector.parse_webhook(body))
    pulled = by_id(sync(connector)[0])
    for event_id in ids:
        assert pushed[event_id].kind == "dm"
        assert pushed[event_id].thread_id == pulled[event_id].thread_id
        assert pushed[event_id].author.handle == pulled[event_id].author.handle
        assert not pushed[event_id].outbound


def test_webhook_echo_of_our_own_post_is_outbound(sim, connector):
    reply_id = connector.reply(target_of(sim, sim.add_inbound(kind="reply")[0]), "Merci !")
    tweet = sim._legacy_tweet(sim.tweets[reply_id], int(time.time() * 1000))
    _, body = sim.signed({"for_user_id": ME_ID, "tweet_create_events": [tweet]})
    (item,) = connector.parse_webhook(body)
    assert item.external_id == reply_id and item.outbound


def test_webhook_for_another_account_is_ignored(sim, connector):
    _, body, _ = sim.webhook_delivery(2)
    envelope = json.loads(body) | {"for_user_id": "2244994945"}
    assert connector.parse_webhook(json.dumps(envelope).encode()) == []


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        ({"for_user_id": ME_ID, "tweet_create_events": {"id": 1}}, "tweet_create_events"),
        ({"tweet_create_events": [{"id_str": "1"}]}, "for_user_id"),
        (
            {"for_user_id": ME_ID, "tweet_create_events": [{"id_str": "12", "text": "hi"}]},
            "tweet_create_events.0.user.id_str",
        ),
        (
            {
                "for_user_id": ME_ID,
                "direct_message_events": [
                    {"type": "message_create", "id": "5", "created_timestamp": "1516403560557"}
                ],
            },
            "direct_message_events.0.message_create",
        ),
    ],
)
def test_malformed_webhook_bodies_are_refused(connector, envelope, field):
    with pytest.raises(BadPayload) as caught:
        connector.parse_webhook(json.dumps(envelope).encode())
    assert field in caught.value.errors
    with pytest.raises(BadPayload):
        connector.parse_webhook(b"not json")


# -- write ----------------------------------------------------------------------------------


def test_reply_posts_to_2_tweets_with_in_reply_to(sim, connector):
    mention = sim.add_inbound(kind="reply")[0]
    new_id = connector.reply(target_of(sim, mention), "Bonjour, on regarde ça tout de suite.")
    (write,) = sim.writes()
    assert (write.method, write.path) == ("POST", "/2/tweets")
    assert write.json() == {
        "text": "Bonjour, on regarde ça tout de suite.",
        "reply": {"in_reply_to_tweet_id": mention},
    }
    assert new_id in sim.tweets and sim.tweets[new_id]["author_id"] == ME_ID
    assert sim.tweets[new_id]["conversation_id"] == sim.tweets[mention]["conversation_id"]


def test_dm_reply_goes_to_the_conversation_and_echoes_back(sim, connector):
    dm = sim.add_inbound(kind="dm")[0]
    _, cursor, _ = sync(connector)
    conversation = sim.dm_events[dm]["dm_conversation_id"]
    target = Target(external_id=dm, kind="dm", thread_id=conversation)
    event_id = connector.reply(
        target, "Bonjour, pouvez-vous nous donner votre numéro de commande ?"
    )
    (write,) = sim.writes()
    assert write.path == f"/2/dm_conversations/{conversation}/messages"
    assert write.json() == {"text": "Bonjour, pouvez-vous nous donner votre numéro de commande ?"}
    items, _, _ = sync(connector, cursor)
    echo = by_id(items)[event_id]
    assert echo.outbound and echo.kind == "dm" and echo.thread_id == conversation


def test_dm_without_conversation_uses_the_participant_path(sim, connector):
    dm = sim.add_inbound(kind="dm")[0]
    sender = sim.dm_events[dm]["sender_id"]
    connector.reply(Target(external_id=dm, kind="dm", author_id=sender), "Bonjour !")
    assert sim.writes()[0].path == f"/2/dm_conversations/with/{sender}/messages"


def test_like_posts_the_tweet_id_for_our_user(sim, connector):
    mention = sim.add_inbound(kind="mention")[0]
    connector.moderate(target_of(sim, mention), "like")
    (write,) = sim.writes()
    assert (write.method, write.path, write.json()) == (
        "POST",
        f"/2/users/{ME_ID}/likes",
        {"tweet_id": mention},
    )
    assert mention in sim.likes


def test_hide_and_unhide_a_reply_in_our_thread(sim, connector):
    reply = sim.add_inbound(kind="reply")[0]
    target = target_of(sim, reply)
    connector.moderate(target, "hide")
    assert reply in sim.hidden
    connector.moderate(target, "unhide")
    assert reply not in sim.hidden
    puts = [c for c in sim.writes() if c.method == "PUT"]
    assert [c.path for c in puts] == [f"/2/tweets/{reply}/hidden"] * 2
    assert [c.json() for c in puts] == [{"hidden": True}, {"hidden": False}]


def test_hide_outside_our_threads_is_not_allowed_and_nothing_is_written(sim, connector):
    thread = sim.add_inbound(kind="thread")[0]
    with pytest.raises(NotAllowed, match="conversation started by someone else"):
        connector.moderate(target_of(sim, thread), "hide")
    root_mention = sim.add_inbound(kind="mention")[0]
    with pytest.raises(NotAllowed, match="only hides replies"):
        connector.moderate(target_of(sim, root_mention), "hide")
    with pytest.raises(NotAllowed, match="own posts"):
        connector.moderate(target_of(sim, sim.our_posts[0]), "hide")
    assert sim.writes() == []


def test_simulator_refuses_hiding_outside_our_threads_like_x(sim, connector):
    thread = sim.add_inbound(kind="thread")[0]
    answer = requests.put(
        f"{sim.base_url}/2/tweets/{thread}/hidden",
        json={"hidden": True},
        headers={"Authorization": f"Bearer {sim.token}"},
        timeout=5,
    )
    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["status"] == 403 and "conversation" in answer.json()["detail"]
    with pytest.raises(NotAllowed):  # X's own refusal maps to NotAllowed too
        connector.call("PUT", f"2/tweets/{thread}/hidden", json={"hidden": True})
    assert thread not in sim.hidden


def test_delete_is_unsupported_before_any_call(sim, connector):
    before = len(sim.calls)
    with pytest.raises(Unsupported, match="delete"):
        connector.moderate(Target(external_id="1", kind="mention"), "delete")
    assert len(sim.calls) == before


def test_replying_to_a_repost_or_with_nothing_is_not_allowed(sim, connector):
    repost = sim.add_inbound(kind="repost")[0]
    with pytest.raises(NotAllowed, match="repost"):
        connector.reply(target_of(sim, repost, "repost"), "Merci !")
    with pytest.raises(NotAllowed, match="empty"):
        connector.reply(target_of(sim, sim.add_inbound(kind="mention")[0]), "   ")
    assert sim.writes() == []


def test_duplicate_text_deleted_target_and_long_text_are_not_allowed(sim, connector):
    mention = sim.add_inbound(kind="mention")[0]
    connector.reply(target_of(sim, mention), "Merci beaucoup !")
    with pytest.raises(NotAllowed, match="duplicate"):
        connector.reply(target_of(sim, mention), "Merci beaucoup !")
    with pytest.raises(NotAllowed, match="deleted or not visible"):
        connector.reply(Target(external_id="1234567890123", kind="mention"), "Bonjour")
    with pytest.raises(NotAllowed, match="280"):
        connector.reply(target_of(sim, mention), "é" * 281)


# -- errors ---------------------------------------------------------------------------------


def test_429_waits_for_x_rate_limit_reset(sim, connector):
    sim.rate_limit(times=1, reset_in=40)
    with pytest.raises(RateLimited) as caught:
        connector.check()
    assert 38 <= caught.value.retry_after <= 41
    limited = sim.calls[-1]
    assert limited.path == "/2/users/me"


def test_429_usage_cap_and_missing_reset_header(sim, connector):
    sim.fail_next(
        429,
        "Usage cap exceeded: Monthly product cap",
        type_=("https://api.twitter.com/2/problems/usage-capped"),
    )
    with pytest.raises(RateLimited, match="usage cap") as caught:
        connector.check()
    assert caught.value.retry_after == 900


def test_rate_limit_headers_come_with_every_answer(sim, connector):
    connector.check()
    response = requests.get(
        f"{sim.base_url}/2/users/me", headers={"Authorization": f"Bearer {sim.token}"}, timeout=5
    )
    assert int(response.headers["x-rate-limit-reset"]) > time.time()
    assert int(response.headers["x-rate-limit-remaining"]) < int(
        response.headers["x-rate-limit-limit"]
    )


def test_401_is_auth_expired_for_writes_too(sim, connector):
    mention = sim.add_inbound(kind="mention")[0]
    sim.expire_token()
    with pytest.raises(AuthExpired, match="reconnect"):
        connector.reply(target_of(sim, mention), "Bonjour")
    assert sim.calls[-1].method == "POST"


def test_403_is_permission_denied(sim, connector):
    mention = sim.add_inbound(kind="mention")[0]
    sim.fail_next(403, "You are not permitted to perform this action.", title="Forbidden")
    with pytest.raises(PermissionDenied):
        connector.moderate(target_of(sim, mention), "like")
    sim.fail_next(
        403,
        "When authenticating requests to the X API v2 endpoints, you must use keys and tokens "
        "from an App attached to a Project.",
        type_="https://api.twitter.com/2/problems/client-forbidden",
    )
    with pytest.raises(PermissionDenied):
        connector.pull(None)


def test_5xx_is_retried_then_transient(sim, connector):
    connector.retry_wait_max = 0.05
    sim.fail_next(503, "Service Unavailable", times=3)
    with pytest.raises(Transient):
        connector.check()
    assert len([c for c in sim.calls if c.path == "/2/users/me"]) == 3
    sim.fail_next(500, "Internal error", times=1)
    assert connector.check().startswith("Connected to @maisonlumiere")


def test_unknown_post_lookups_are_x_not_found_errors(sim, connector):
    with pytest.raises(NotAllowed, match="cannot find"):
        connector.moderate(Target(external_id="1234567890123", kind="mention"), "hide")
    answer = requests.get(
        f"{sim.base_url}/2/tweets/1234567890123",
        headers={"Authorization": f"Bearer {sim.token}"},
        timeout=5,
    ).json()
    assert answer["errors"][0]["type"].endswith("/resource-not-found")
    with pytest.raises(NotAllowed):
        connector.moderate(Target(external_id="1234567890123", kind="mention"), "like")


def test_check_names_the_account_and_refuses_another_one(sim):
    assert build("x", sim).check() == "Connected to @maisonlumiere (Maison Lumière)"
    with pytest.raises(PermissionDenied, match="@maisonlumiere"):
        build("x", sim, user_id="2244994945").check()


# -- config ---------------------------------------------------------------------------------


def test_config_defaults_and_secrets():
    config = XConfig().load({"access_token": "token-123456789", "user_id": "2244994945"})
    assert config["api_base"] == "https://api.x.com"
    assert config["tolerance"] == 300 and config["consumer_secret"] is None
    assert XConnector.secret_fields() == {"access_token", "consumer_secret"}
    assert XConnector.capabilities == {"reply", "hide", "unhide", "like"}


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"user_id": "2244994945"}, "access_token", "access token"),
        ({"access_token": "token-123456789"}, "user_id", "numeric id"),
        ({"access_token": "token-123456789", "user_id": "@brand"}, "user_id", "numeric id"),
        (
            {"access_token": "token-123456789", "user_id": "1", "watch_query": "   "},
            "watch_query",
            "words to watch",
        ),
        (
            {"access_token": "token-123456789", "user_id": "1", "consumer_key": "x"},
            "consumer_key",
            "",
        ),
    ],
)
def test_config_errors_are_clear(data, field, words):
    with pytest.raises(ValidationError) as caught:
        XConfig().load(data)
    assert field in caught.value.messages
    assert words in " ".join(map(str, caught.value.messages[field]))
