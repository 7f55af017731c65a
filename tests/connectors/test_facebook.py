"""Facebook Pages connector against its Graph simulator: contracts plus the Page specifics."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError

from connectors import connector_class
from connectors.base import (
    POST_TEXT_CHARS,
    AuthExpired,
    BadPayload,
    ConnectorError,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    RawRequest,
    Target,
    Transient,
    WebhookRejected,
)
from connectors.facebook import FacebookConnector
from connectors.meta import sign
from connectors.sandbox.facebook import PAGE_ID, FacebookSimulator
from connectors.sandbox.meta import VERIFY_TOKEN
from tests.connectors.contract import (
    CommentsPullContract,
    WebhookContract,
    build,
    inbound_ids,
    sync,
)


class TestFacebookPull(CommentsPullContract):
    type = "facebook"


class TestFacebookWebhook(WebhookContract):
    type = "facebook"


@pytest.fixture
def sim():
    simulator = FacebookSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim) -> FacebookConnector:
    conn = build("facebook", sim)
    conn.retry_wait_max = 0.05  # keep the transient-retry tests fast
    return conn


def page_post(sim, index: int = -1) -> dict:
    return [p for p in sim.posts.values() if p["person"] is None][index]


def person_comment(sim, *, parent=None, age: int = 0) -> dict:
    with sim.lock:
        post = sim.posts[parent["post_id"]] if parent else page_post(sim)
        person = sim.traffic.person()
        return sim.add_comment(
            post,
            "Bonjour, vous livrez en Belgique ?",
            sim.now() - age,
            person=person,
            parent=parent,
        )


def target_of(comment: dict, *, kind: str = "comment", created_at=None) -> Target:
    return Target(
        external_id=comment["id"],
        kind=kind,
        thread_id=comment["parent_id"] or comment["id"],
        post_id=comment["post_id"],
        author_id=comment["from"]["id"],
        created_at=created_at,
    )


def dm_target(sim, message: dict, *, created_at=None) -> Target:
    conv = next(c for c in sim.conversations.values() if message in c["messages"])
    return Target(
        external_id=message["id"],
        kind="dm",
        thread_id=conv["id"],
        author_id=message["from"]["id"],
        created_at=created_at,
    )


# -- config and calls -------------------------------------------------------------------------


def test_registered_with_capabilities_and_secret_fields():
    assert connector_class("facebook") is FacebookConnector
    assert FacebookConnector.capabilities == {"reply", "hide", "unhide", "delete", "like"}
    assert FacebookConnector.polls and FacebookConnector.receives_webhooks
    assert FacebookConnector.secret_fields() == {"access_token", "app_secret", "verify_token"}


def test_config_defaults_and_validation(sim):
    schema = FacebookConnector.config_schema()
    loaded = schema.load({k: v for k, v in sim.channel_config().items() if k != "api_base"})
    assert loaded["api_version"] == "v25.0"
    assert loaded["api_base"] == "https://graph.facebook.com"
    with pytest.raises(ValidationError) as caught:
        schema.load({k: v for k, v in sim.channel_config().items() if k != "app_secret"})
    assert "app_secret" in caught.value.messages
    for bad in ({"page_id": "my-page"}, {"api_version": "25"}, {"surprise": 1}):
        with pytest.raises(ValidationError) as caught:
            schema.load(sim.channel_config() | bad)
        assert set(bad) <= set(caught.value.messages)


def test_calls_are_versioned_and_carry_the_page_token_and_proof(sim):
    conn = build("facebook", sim, api_version="v24.0")
    assert "Maison Lumière" in conn.check()
    call = sim.reads()[-1]
    assert call.path == f"/v24.0/{PAGE_ID}"
    assert call.query["fields"] == "id,name"
    assert call.query["access_token"] == sim.token
    proof = hmac.new(sim.secret.encode(), sim.token.encode(), hashlib.sha256).hexdigest()
    assert call.query["appsecret_proof"] == proof


def test_cursor_is_json_and_never_holds_the_token(sim, connector):
    sim.add_inbound(12)
    cursor, seen = None, []
    for _ in range(40):
        batch = connector.pull(cursor)
        cursor = json.loads(json.dumps(batch.cursor))
        seen.append(json.dumps(cursor))
        if not batch.more:
            break
    assert not batch.more
    assert all(sim.token not in text for text in seen)
    assert any("__paging_token" in text for text in seen), "the feed's next links are followed"


def test_pulled_items_thread_like_the_design(sim, connector):
    top = person_comment(sim)
    reply = person_comment(sim, parent=top)
    with sim.lock:
        visitor = sim.add_post("Ma commande n'est jamais arrivée", sim.now(), sim.traffic.person())
    message = sim.add_dm()
    items, _, _ = sync(connector)
    by_id = {i.external_id: i for i in items}
    assert by_id[top["id"]].thread_id == top["id"] and by_id[top["id"]].parent_id is None
    assert by_id[top["id"]].post_id == top["post_id"]
    assert by_id[reply["id"]].thread_id == top["id"]
    assert by_id[reply["id"]].parent_id == top["id"]
    assert by_id[reply["id"]].url.startswith("https://www.facebook.com/")
    assert (by_id[visitor["id"]].kind, by_id[visitor["id"]].thread_id) == ("comment", visitor["id"])
    assert by_id[visitor["id"]].post_id == visitor["id"]
    dm = by_id[message["id"]]
    assert dm.kind == "dm" and dm.thread_id.startswith("t_") and not dm.outbound
    assert dm.author.id == message["from"]["id"] and dm.author.name


def test_comments_carry_the_text_and_link_of_their_post(sim, connector):
    top = person_comment(sim)
    reply = person_comment(sim, parent=top)
    with sim.lock:
        visitor = sim.add_post("Vous livrez le dimanche ?", sim.now(), sim.traffic.person())
        under_visitor = sim.add_comment(visitor, "Moi aussi je me pose la question", sim.now())
    items, _, _ = sync(connector)
    by_id = {i.external_id: i for i in items}
    post = sim.posts[top["post_id"]]
    for comment in (top, reply):
        item = by_id[comment["id"]]
        assert (item.post_text, item.post_url) == (post["message"], sim.permalink(post))
    item = by_id[under_visitor["id"]]
    assert (item.post_text, item.post_url) == (visitor["message"], sim.permalink(visitor))
    assert (by_id[visitor["id"]].post_text, by_id[visitor["id"]].post_url) == (None, None)
    feed = next(c for c in sim.reads() if c.path == f"/v25.0/{PAGE_ID}/feed")
    assert (
        feed.query["fields"] == "id,message,created_time,updated_time,from{id,name},permalink_url"
    )
    listing = next(c for c in sim.reads() if c.path == f"/v25.0/{post['id']}/comments")
    assert (
        listing.query["fields"] == "id,message,created_time,from{id,name},parent{id},permalink_url"
    )
    post_reads = [c for c in sim.reads() if c.path == f"/v25.0/{post['id']}"]
    assert post_reads == [], "the post comes with the feed, not with a call of its own"


def test_a_long_post_is_cut_to_what_items_carry(sim, connector):
    with sim.lock:
        post = sim.add_post("Longue histoire. " * 300, sim.now())
        comment = sim.add_comment(post, "Trop long !", sim.now(), person=sim.traffic.person())
    items, _, _ = sync(connector)
    item = next(i for i in items if i.external_id == comment["id"])
    assert item.post_text == post["message"].strip()[:POST_TEXT_CHARS].strip()
    assert len(item.post_text) <= POST_TEXT_CHARS


def test_a_same_second_latecomer_is_not_lost(sim, connector):
    first = person_comment(sim)
    _, cursor, _ = sync(connector)
    assert cursor["wm"]["ts"] == first["created"]
    late = person_comment(sim, parent=first, age=sim.now() - first["created"])
    assert late["created"] == first["created"]
    items, _, _ = sync(connector, cursor)
    assert inbound_ids(items) == [late["id"]]


# -- write ----------------------------------------------------------------------------------


def test_reply_to_a_comment_lands_in_its_thread_and_comes_back_as_an_echo(sim, connector):
    top = person_comment(sim)
    reply = person_comment(sim, parent=top)
    _, cursor, _ = sync(connector)
    new_id = connector.reply(target_of(reply), "Bonjour, oui, en 3 à 5 jours !")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", f"/v25.0/{top['id']}/comments")
    assert call.form()["message"] == "Bonjour, oui, en 3 à 5 jours !"
    assert sim.comments[new_id]["parent_id"] == top["id"]
    items, _, _ = sync(connector, cursor)
    echo = next(i for i in items if i.external_id == new_id)
    assert echo.outbound and echo.thread_id == top["id"] and inbound_ids(items) == []


def test_reply_to_a_visitor_post_comments_on_the_post(sim, connector):
    with sim.lock:
        visitor = sim.add_post("Vous recrutez ?", sim.now(), sim.traffic.person())
    target = Target(visitor["id"], "comment", thread_id=visitor["id"], post_id=visitor["id"])
    new_id = connector.reply(target, "Oui, écrivez-nous !")
    assert sim.writes()[-1].path == f"/v25.0/{visitor['id']}/comments"
    assert sim.comments[new_id]["post_id"] == visitor["id"]


def test_messenger_reply_uses_the_send_api_inside_the_window(sim, connector):
    message = sim.add_dm()
    _, cursor, _ = sync(connector)
    target = dm_target(sim, message, created_at=datetime.now(UTC) - timedelta(hours=2))
    sent = connector.reply(target, "Bonjour, on regarde ça tout de suite.")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", f"/v25.0/{PAGE_ID}/messages")
    assert call.json() == {
        "recipient": {"id": message["from"]["id"]},
        "messaging_type": "RESPONSE",
        "message": {"text": "Bonjour, on regarde ça tout de suite."},
    }
    assert sent.startswith("m_")
    items, _, _ = sync(connector, cursor)
    echo = next(i for i in items if i.external_id == sent)
    assert echo.outbound and echo.thread_id == target.thread_id and echo.author.id == PAGE_ID


def test_messenger_window_is_refused_before_any_call(sim, connector):
    message = sim.add_dm(age=25 * 3600)
    before = len(sim.calls)
    target = dm_target(sim, message, created_at=datetime.now(UTC) - timedelta(hours=25))
    with pytest.raises(NotAllowed, match="24 hours"):
        connector.reply(target, "Désolé pour l'attente")
    assert len(sim.calls) == before


def test_messenger_window_error_from_the_platform_is_not_allowed(sim, connector):
    message = sim.add_dm(age=30 * 3600)
    with pytest.raises(NotAllowed, match="24 hours") as caught:
        connector.reply(dm_target(sim, message), "Désolé pour l'attente")
    assert "2018278" in str(caught.value)
    assert sim.writes()[-1].path.endswith("/messages")


def test_human_agent_tag_extends_the_window_when_enabled(sim):
    conn = build("facebook", sim, human_agent=True)
    message = sim.add_dm(age=3 * 86400)
    target = dm_target(sim, message, created_at=datetime.now(UTC) - timedelta(days=3))
    conn.reply(target, "Toujours là pour vous aider")
    body = sim.writes()[-1].json()
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    old = sim.add_dm(age=8 * 86400)
    with pytest.raises(NotAllowed):
        conn.reply(dm_target(sim, old, created_at=datetime.now(UTC) - timedelta(days=8)), "…")


def test_private_reply_is_the_dm_path_for_a_comment(sim, connector):
    comment = person_comment(sim)
    target = target_of(comment, kind="dm", created_at=datetime.now(UTC))
    sent = connector.reply(target, "Je vous écris en privé pour votre commande.")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", f"/v25.0/{PAGE_ID}/messages")
    assert call.json() == {
        "recipient": {"comment_id": comment["id"]},
        "message": {"text": "Je vous écris en privé pour votre commande."},
    }
    assert sent.startswith("m_")
    with pytest.raises(NotAllowed, match="only one"):
        connector.reply(target, "Encore un message")
    old = person_comment(sim, age=8 * 86400)
    before = len(sim.calls)
    with pytest.raises(NotAllowed, match="7 days"):
        connector.reply(target_of(old, kind="dm", created_at=datetime.now(UTC) - timedelta(8)), "…")
    assert len(sim.calls) == before


@pytest.mark.parametrize(
    ("action", "method", "suffix", "form"),
    [
        ("hide", "POST", "", {"is_hidden": "true"}),
        ("unhide", "POST", "", {"is_hidden": "false"}),
        ("like", "POST", "/likes", {}),
        ("delete", "DELETE", "", {}),
    ],
)
def test_moderation_hits_the_graph_endpoint(sim, connector, action, method, suffix, form):
    comment = person_comment(sim)
    connector.moderate(target_of(comment), action)
    call = sim.writes()[-1]
    assert (call.method, call.path) == (method, f"/v25.0/{comment['id']}{suffix}")
    assert call.form() == form
    state = sim.comments[comment["id"]]
    expected = {
        "hide": state["hidden"],
        "unhide": not state["hidden"],
        "like": PAGE_ID in state["likes"],
        "delete": state["deleted"],
    }
    assert expected[action]


def test_messenger_messages_cannot_be_moderated(sim, connector):
    message = sim.add_dm()
    before = len(sim.calls)
    for action in ("hide", "delete", "like"):
        with pytest.raises(NotAllowed, match="Messenger"):
            connector.moderate(dm_target(sim, message), action)
    assert len(sim.calls) == before


def test_unknown_comment_is_not_allowed(sim, connector):
    gone = person_comment(sim)
    connector.moderate(target_of(gone), "delete")
    with pytest.raises(NotAllowed, match="no longer exists") as caught:
        connector.reply(target_of(gone), "Merci !")
    assert "100/33" in str(caught.value)


# -- errors -----------------------------------------------------------------------------------


def test_code_190_is_auth_expired(sim, connector):
    sim.fail(code=190, subcode=460, status=400, message="Error validating access token")
    with pytest.raises(AuthExpired, match="reconnect"):
        connector.check()


@pytest.mark.parametrize(
    ("code", "header", "usage", "wait"),
    [
        (4, "X-App-Usage", {"call_count": 100, "total_cputime": 20, "total_time": 35}, 300),
        (4, "X-App-Usage", {"call_count": 100, "estimated_time_to_regain_access": 2}, 120),
        (
            613,
            "X-Business-Use-Case-Usage",
            {PAGE_ID: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]},
            420,
        ),
        (
            80001,
            "X-Business-Use-Case-Usage",
            {PAGE_ID: [{"type": "pages", "call_count": 98, "estimated_time_to_regain_access": 1}]},
            60,
        ),
    ],
)
def test_throttle_codes_are_rate_limited_with_the_regain_time(
    sim, connector, code, header, usage, wait
):
    sim.fail(
        code=code,
        status=403,
        message="(#4) Application request limit reached",
        headers={header: json.dumps(usage)},
    )
    with pytest.raises(RateLimited) as caught:
        connector.pull(None)
    assert caught.value.retry_after == pytest.approx(wait)


@pytest.mark.parametrize("code", [10, 200, 299])
def test_permission_codes_are_permission_denied(sim, connector, code):
    sim.fail(code=code, status=403, message=f"(#{code}) Requires pages_manage_engagement")
    with pytest.raises(PermissionDenied, match="pages_manage_engagement"):
        connector.moderate(target_of(person_comment(sim)), "hide")


def test_transient_errors_are_retried_then_raised(sim, connector):
    sim.fail(times=1)
    assert connector.check()  # one 500, then the retry succeeds
    sim.fail(times=3)
    before = len(sim.calls)
    with pytest.raises(Transient):
        connector.check()
    assert len(sim.calls) - before == 3


def test_unknown_codes_keep_meta_words(sim, connector):
    sim.fail(code=1609005, status=400, message="Error posting link")
    with pytest.raises(ConnectorError, match="Error posting link") as caught:
        connector.check()
    assert type(caught.value) is ConnectorError


# -- webhooks ---------------------------------------------------------------------------------


def raw(body: bytes, secret: str, **headers) -> RawRequest:
    return RawRequest("POST", {"X-Hub-Signature-256": sign(secret, body), **headers}, body)


def test_hub_challenge_handshake(connector):
    ok = RawRequest(
        "GET",
        {},
        b"",
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert connector.handshake(ok) == (200, "1158201444")
    wrong = RawRequest("GET", {}, b"", dict(ok.query) | {"hub.verify_token": "meatyhamhock"})
    assert connector.handshake(wrong)[0] == 403
    assert connector.handshake(RawRequest("GET", {}, b"", {})) is None
    assert connector.handshake(RawRequest("POST", {}, b"{}", dict(ok.query))) is None


def test_unsigned_and_stale_messenger_deliveries_are_refused(sim, connector):
    _, body, _ = sim.webhook_delivery(1)
    with pytest.raises(WebhookRejected, match="X-Hub-Signature-256"):
        connector.verify_webhook(RawRequest("POST", {}, body))
    stale_ms = int((time.time() - 3600) * 1000)
    payload = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": stale_ms,
                "messaging": [
                    {
                        "sender": {"id": "1"},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": stale_ms,
                        "message": {"mid": "m_1", "text": "hello"},
                    }
                ],
            }
        ],
    }
    stale = json.dumps(payload).encode()
    with pytest.raises(WebhookRejected, match="old"):
        connector.verify_webhook(raw(stale, sim.secret))


def feed_change(value: dict, page: str = PAGE_ID) -> bytes:
    entry = {"id": page, "time": int(time.time()), "changes": [{"field": "feed", "value": value}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def test_feed_changes_are_threaded_like_pulled_items(connector):
    now = int(time.time())
    base = {"from": {"id": "2711", "name": "Kun Liu"}, "created_time": now, "verb": "add"}
    post = f"{PAGE_ID}_1"
    top = connector.parse_webhook(
        feed_change(
            base
            | {
                "item": "comment",
                "post_id": post,
                "comment_id": "1_2",
                "parent_id": post,
                "message": "Top",
            }
        )
    )
    assert [(i.thread_id, i.parent_id, i.post_id) for i in top] == [("1_2", None, post)]
    assert (top[0].post_text, top[0].post_url) == (None, None), "the value named no post"
    reply = connector.parse_webhook(
        feed_change(
            base
            | {
                "item": "comment",
                "post_id": post,
                "comment_id": "1_3",
                "parent_id": "1_2",
                "message": "Reply",
            }
        )
    )
    assert [(i.thread_id, i.parent_id) for i in reply] == [("1_2", "1_2")]
    visitor = connector.parse_webhook(
        feed_change(base | {"item": "status", "post_id": f"{PAGE_ID}_9", "message": "Hello"})
    )
    assert [(i.kind, i.thread_id, i.post_id) for i in visitor] == [
        ("comment", f"{PAGE_ID}_9", f"{PAGE_ID}_9")
    ]
    ours = connector.parse_webhook(
        feed_change(
            base
            | {
                "item": "comment",
                "post_id": post,
                "comment_id": "1_4",
                "parent_id": "1_2",
                "from": {"id": PAGE_ID, "name": "ML"},
            }
        )
    )
    assert ours[0].outbound
    own_post = base | {"item": "status", "post_id": f"{PAGE_ID}_8", "from": {"id": PAGE_ID}}
    assert connector.parse_webhook(feed_change(own_post)) == []
    removed = base | {"item": "comment", "post_id": post, "comment_id": "1_2", "verb": "remove"}
    assert connector.parse_webhook(feed_change(removed)) == []
    assert connector.parse_webhook(feed_change(base | {"item": "reaction", "post_id": post})) == []
    other_page = base | {"item": "comment", "post_id": post, "comment_id": "1_5"}
    assert connector.parse_webhook(feed_change(other_page, page="999999999")) == []


def test_pushed_comments_keep_the_post_link_the_delivery_carries(sim, connector):
    before = len(sim.calls)
    _, body, _ = sim.webhook_delivery(12)
    items = connector.parse_webhook(body)
    values = [
        change["value"]
        for entry in json.loads(body)["entry"]
        for change in entry.get("changes", [])
    ]
    comments = {v["comment_id"]: v for v in values if v["item"] == "comment"}
    assert comments, "the traffic has comments"
    for item in items:
        if item.external_id in comments:
            assert item.post_url == comments[item.external_id]["post"]["permalink_url"]
            assert item.post_text is None, "the change value has no post text"
        else:
            assert (item.post_text, item.post_url) == (None, None)
    posts = {v["post_id"] for v in values}
    assert not [c for c in sim.calls[before:] if c.path.rsplit("/", 1)[-1] in posts]


def test_messenger_events_thread_on_the_conversation(sim, connector):
    headers, body, _ = sim.webhook_delivery(8)
    connector.verify_webhook(RawRequest("POST", headers, body))
    items = connector.parse_webhook(body)
    dms = [i for i in items if i.kind == "dm"]
    assert dms, "the seeded delivery holds Messenger messages"
    pulled = {i.external_id: i for i in sync(connector)[0]}
    for dm in dms:
        assert dm.thread_id == pulled[dm.external_id].thread_id
    lookups = [c for c in sim.reads() if c.query.get("user_id")]
    assert lookups and all(c.path == f"/v25.0/{PAGE_ID}/conversations" for c in lookups)


def test_echoes_and_receipts_in_messaging(sim, connector):
    message = sim.add_dm()
    psid, now_ms = message["from"]["id"], int(time.time() * 1000)
    events = [
        {
            "sender": {"id": PAGE_ID},
            "recipient": {"id": psid},
            "timestamp": now_ms,
            "message": {"mid": "m_echo", "text": "Bonjour", "is_echo": True},
        },
        {
            "sender": {"id": psid},
            "recipient": {"id": PAGE_ID},
            "timestamp": now_ms,
            "delivery": {"mids": ["m_echo"], "watermark": now_ms},
        },
        {
            "sender": {"id": psid},
            "recipient": {"id": PAGE_ID},
            "timestamp": now_ms,
            "read": {"watermark": now_ms},
        },
    ]
    body = json.dumps(
        {"object": "page", "entry": [{"id": PAGE_ID, "time": now_ms, "messaging": events}]}
    ).encode()
    items = connector.parse_webhook(body)
    assert [(i.external_id, i.outbound, i.author.id) for i in items] == [("m_echo", True, PAGE_ID)]
    assert items[0].thread_id == next(iter(sim.conversations))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", "body"),
        (json.dumps({"object": "instagram", "entry": []}).encode(), "object"),
        (json.dumps({"object": "page", "entry": []}).encode(), "entry"),
        (
            feed_change({"item": "comment", "verb": "add", "post_id": "1_1", "from": {"id": "1"}}),
            "entry.0.changes.0.value.comment_id",
        ),
        (feed_change({"verb": "add"}), "entry.0.changes.0.value.item"),
    ],
)
def test_malformed_deliveries_are_bad_payloads(connector, payload, field):
    with pytest.raises(BadPayload) as caught:
        connector.parse_webhook(payload)
    assert field in caught.value.errors
