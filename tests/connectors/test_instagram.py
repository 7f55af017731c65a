"""Instagram connector against its Graph simulator: contracts plus the Instagram specifics."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError

from connectors import connector_class
from connectors.base import (
    AuthExpired,
    BadPayload,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    RawRequest,
    Target,
    Unsupported,
    WebhookRejected,
)
from connectors.instagram import InstagramConnector
from connectors.meta import sign
from connectors.sandbox.instagram import IG_USER_ID, PAGE_ID, InstagramSimulator
from connectors.sandbox.meta import VERIFY_TOKEN
from tests.connectors.contract import (
    CommentsPullContract,
    WebhookContract,
    build,
    inbound_ids,
    sync,
)


class TestInstagramPull(CommentsPullContract):
    type = "instagram"


class TestInstagramWebhook(WebhookContract):
    type = "instagram"


@pytest.fixture
def sim():
    simulator = InstagramSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim) -> InstagramConnector:
    conn = build("instagram", sim)
    conn.retry_wait_max = 0.05
    return conn


def newest_media(sim) -> dict:
    return max(sim.media.values(), key=lambda m: m["created"])


def person_comment(sim, *, parent=None, media=None, age: int = 0) -> dict:
    with sim.lock:
        media = media or (sim.media[parent["media_id"]] if parent else newest_media(sim))
        return sim.add_comment(
            media, "Dispo en 38 ?", sim.now() - age, person=sim.traffic.person(), parent=parent
        )


def target_of(comment: dict, *, kind: str = "comment", created_at=None) -> Target:
    return Target(
        external_id=comment["id"],
        kind=kind,
        thread_id=comment["parent_id"] or comment["id"],
        post_id=comment["media_id"],
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


def test_registered_without_like():
    assert connector_class("instagram") is InstagramConnector
    assert InstagramConnector.capabilities == {"reply", "hide", "unhide", "delete"}
    assert InstagramConnector.secret_fields() == {"access_token", "app_secret", "verify_token"}


def test_config_validation(sim):
    schema = InstagramConnector.config_schema()
    loaded = schema.load({k: v for k, v in sim.channel_config().items() if k != "page_id"})
    assert loaded["page_id"] is None and loaded["api_version"] == "v25.0"
    for missing in ("ig_user_id", "verify_token", "access_token"):
        with pytest.raises(ValidationError) as caught:
            schema.load({k: v for k, v in sim.channel_config().items() if k != missing})
        assert missing in caught.value.messages
    with pytest.raises(ValidationError) as caught:
        schema.load(sim.channel_config() | {"media_count": 0})
    assert "media_count" in caught.value.messages


def test_check_names_the_account(sim, connector):
    assert connector.check() == "Connected to @maisonlumiere on Instagram"
    call = sim.reads()[-1]
    assert call.path == f"/v25.0/{IG_USER_ID}" and call.query["fields"] == "id,username"
    assert call.query["access_token"] == sim.token


def test_pulled_items_thread_like_the_design(sim, connector):
    top = person_comment(sim)
    replies = [person_comment(sim, parent=top) for _ in range(7)]  # more than one page inline
    with sim.lock:
        tag = sim.add_tag(sim.now())
    items, cursor, _ = sync(connector)
    by_id = {i.external_id: i for i in items}
    assert by_id[top["id"]].thread_id == top["id"] and by_id[top["id"]].parent_id is None
    for reply in replies:
        item = by_id[reply["id"]]
        assert (item.thread_id, item.parent_id, item.post_id) == (
            top["id"],
            top["id"],
            top["media_id"],
        )
        assert item.author.handle == f"@{reply['from']['username']}"
        assert item.url == sim.media[top["media_id"]]["permalink"]
    assert any(c.path == f"/v25.0/{top['id']}/replies" for c in sim.reads())
    mention = by_id[tag["id"]]
    assert (mention.kind, mention.thread_id, mention.post_id) == ("mention", tag["id"], tag["id"])
    assert mention.author.handle == f"@{tag['username']}" and "@maisonlumiere" in mention.body
    assert json.loads(json.dumps(cursor)) == cursor and sim.token not in json.dumps(cursor)


def test_comments_carry_the_caption_and_permalink_of_their_media(sim, connector):
    top = person_comment(sim)
    replies = [person_comment(sim, parent=top) for _ in range(7)]  # more than one page inline
    items, _, _ = sync(connector)
    media = sim.media[top["media_id"]]
    by_id = {i.external_id: i for i in items}
    for comment in (top, *replies):
        item = by_id[comment["id"]]
        assert (item.post_text, item.post_url) == (media["caption"], media["permalink"])
    listing = next(c for c in sim.reads() if c.path == f"/v25.0/{IG_USER_ID}/media")
    assert listing.query["fields"] == "id,caption,permalink,timestamp,comments_count"
    assert not [c for c in sim.reads() if c.path == f"/v25.0/{media['id']}"], "no call per media"


def test_pushed_comments_name_no_post_they_do_not_carry(connector):
    (item,) = connector.parse_webhook(
        changes(
            (
                "comments",
                {
                    "id": "17919697626119712",
                    "text": "Love this!",
                    "from": {"id": "17841474524784050", "username": "jiangwenwen1213"},
                    "media": {"id": "18172143295349192", "media_product_type": "FEED"},
                },
            )
        )
    )
    assert (item.post_id, item.post_text, item.post_url) == ("18172143295349192", None, None)


def test_only_recent_media_are_polled(sim):
    conn = build("instagram", sim, media_count=2)
    oldest = min(sim.media.values(), key=lambda m: m["created"])
    person_comment(sim, media=oldest)
    fresh = person_comment(sim)
    items, _, _ = sync(conn)
    assert inbound_ids(items) == [fresh["id"]]
    assert not any(c.path == f"/v25.0/{oldest['id']}/comments" for c in sim.reads())


# -- write ----------------------------------------------------------------------------------


def test_reply_to_a_comment_goes_to_the_top_level_replies_edge(sim, connector):
    top = person_comment(sim)
    reply = person_comment(sim, parent=top)
    _, cursor, _ = sync(connector)
    new_id = connector.reply(target_of(reply), "Oui, en 38 et 40 !")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", f"/v25.0/{top['id']}/replies")
    assert call.form()["message"] == "Oui, en 38 et 40 !"
    items, _, _ = sync(connector, cursor)
    echo = next(i for i in items if i.external_id == new_id)
    assert echo.outbound and echo.thread_id == top["id"] and inbound_ids(items) == []


def test_reply_to_mentions_uses_the_mentions_edge(sim, connector):
    with sim.lock:
        tag = sim.add_tag(sim.now())
        mention = sim.add_mention(sim.now())
    connector.reply(Target(tag["id"], "mention", thread_id=tag["id"], post_id=tag["id"]), "Merci !")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", f"/v25.0/{IG_USER_ID}/mentions")
    assert call.form() == {"media_id": tag["id"], "message": "Merci !"}
    target = Target(
        mention["id"], "mention", thread_id=mention["media_id"], post_id=mention["media_id"]
    )
    new_id = connector.reply(target, "Avec plaisir")
    assert sim.writes()[-1].form() == {
        "media_id": mention["media_id"],
        "comment_id": mention["id"],
        "message": "Avec plaisir",
    }
    assert sim.mentioned[new_id]["reply_to"] == mention["id"]


@pytest.mark.parametrize(
    ("action", "method", "form"),
    [("hide", "POST", {"hide": "true"}), ("unhide", "POST", {"hide": "false"}),
     ("delete", "DELETE", {})],
)  # fmt: skip
def test_moderation_hits_the_graph_endpoint(sim, connector, action, method, form):
    comment = person_comment(sim)
    connector.moderate(target_of(comment), action)
    call = sim.writes()[-1]
    assert (call.method, call.path, call.form()) == (method, f"/v25.0/{comment['id']}", form)
    state = sim.comments[comment["id"]]
    assert {"hide": state["hidden"], "unhide": not state["hidden"], "delete": state["deleted"]}[
        action
    ]


def test_like_mentions_and_dms_are_refused_before_any_call(sim, connector):
    comment = person_comment(sim)
    message = sim.add_dm()
    before = len(sim.calls)
    with pytest.raises(Unsupported, match="like"):
        connector.moderate(target_of(comment), "like")
    with pytest.raises(NotAllowed, match="another account"):
        connector.moderate(Target("18172143295300001", "mention"), "hide")
    with pytest.raises(NotAllowed, match="messages"):
        connector.moderate(dm_target(sim, message), "delete")
    assert len(sim.calls) == before


def test_dm_reply_goes_through_the_linked_page(sim, connector):
    message = sim.add_dm()
    _, cursor, _ = sync(connector)
    target = dm_target(sim, message, created_at=datetime.now(UTC) - timedelta(minutes=5))
    sent = connector.reply(target, "Bonjour ! Votre colis part demain.")
    call = sim.writes()[-1]
    assert (call.method, call.path) == ("POST", f"/v25.0/{PAGE_ID}/messages")
    assert call.json() == {
        "recipient": {"id": message["from"]["id"]},
        "messaging_type": "RESPONSE",
        "message": {"text": "Bonjour ! Votre colis part demain."},
    }
    items, _, _ = sync(connector, cursor)
    echo = next(i for i in items if i.external_id == sent)
    assert echo.outbound and echo.kind == "dm" and echo.thread_id == target.thread_id


def test_instagram_login_tokens_use_the_account_node(sim):
    conn = build("instagram", sim, page_id=None)
    message = sim.add_dm()
    items, _, _ = sync(conn)
    assert message["id"] in inbound_ids(items)
    assert any(c.path == f"/v25.0/{IG_USER_ID}/conversations" for c in sim.reads())
    conn.reply(dm_target(sim, message), "Merci pour votre message")
    assert sim.writes()[-1].path == f"/v25.0/{IG_USER_ID}/messages"


def test_dm_window_is_not_allowed(sim, connector):
    message = sim.add_dm(age=26 * 3600)
    before = len(sim.calls)
    late = dm_target(sim, message, created_at=datetime.now(UTC) - timedelta(hours=26))
    with pytest.raises(NotAllowed, match="24 hours"):
        connector.reply(late, "Désolé du retard")
    assert len(sim.calls) == before
    with pytest.raises(NotAllowed, match="24 hours"):
        connector.reply(dm_target(sim, message), "Désolé du retard")


def test_private_reply_to_a_comment(sim, connector):
    comment = person_comment(sim)
    sent = connector.reply(target_of(comment, kind="dm"), "On vous écrit en privé")
    assert sim.writes()[-1].json() == {
        "recipient": {"comment_id": comment["id"]},
        "message": {"text": "On vous écrit en privé"},
    }
    assert sent.startswith("aWdf")


# -- errors -----------------------------------------------------------------------------------


def test_graph_errors_map_to_our_errors(sim, connector):
    comment = person_comment(sim)
    sim.fail(code=190, status=400, message="Error validating access token")
    with pytest.raises(AuthExpired):
        connector.pull(None)
    usage = {IG_USER_ID: [{"type": "instagram", "estimated_time_to_regain_access": 3}]}
    sim.fail(code=80002, headers={"X-Business-Use-Case-Usage": json.dumps(usage)}, status=400)
    with pytest.raises(RateLimited) as caught:
        connector.reply(target_of(comment), "Merci")
    assert caught.value.retry_after == pytest.approx(180)
    sim.fail(code=10, status=403, message="(#10) Application does not have permission")
    with pytest.raises(PermissionDenied, match="instagram_manage_comments"):
        connector.moderate(target_of(comment), "hide")
    connector.moderate(target_of(comment), "delete")
    with pytest.raises(NotAllowed, match="no longer exists"):
        connector.moderate(target_of(comment), "hide")


# -- webhooks ---------------------------------------------------------------------------------


def test_hub_challenge_handshake(connector):
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    assert connector.handshake(RawRequest("GET", {}, b"", query)) == (200, "42")
    bad = query | {"hub.verify_token": "guess"}
    assert connector.handshake(RawRequest("GET", {}, b"", bad)) == (
        403,
        "verify token does not match",
    )


def changes(*items: tuple[str, dict], when: int | None = None) -> bytes:
    entry = {
        "id": IG_USER_ID,
        "time": when or int(time.time()),
        "changes": [{"field": f, "value": v} for f, v in items],
    }
    return json.dumps({"object": "instagram", "entry": [entry]}).encode()


def test_comment_changes_thread_like_pulled_items(connector):
    media = {"id": "18172143295349192", "media_product_type": "FEED"}
    person = {"id": "17841474524784050", "username": "jiangwenwen1213"}
    items = connector.parse_webhook(
        changes(
            ("comments", {"id": "1", "text": "Love this!", "from": person, "media": media}),
            ("comments", {"id": "2", "text": "Same", "from": person, "media": media,
                          "parent_id": "1"}),
            ("comments", {"id": "3", "text": "Merci", "media": media,
                          "from": {"id": IG_USER_ID, "username": "maisonlumiere"},
                          "parent_id": "1"}),
            ("live_comments", {"id": "4"}),
        )
    )  # fmt: skip
    assert [(i.external_id, i.thread_id, i.parent_id, i.post_id, i.outbound) for i in items] == [
        ("1", "1", None, media["id"], False),
        ("2", "1", "1", media["id"], False),
        ("3", "1", "1", media["id"], True),
    ]
    assert items[0].author.handle == "@jiangwenwen1213"


def test_mentions_are_fetched_from_their_ids(sim, connector):
    with sim.lock:
        comment_mention = sim.add_mention(sim.now())
        caption = sim.add_tag(sim.now())
    items = connector.parse_webhook(
        changes(
            ("mentions", {"media_id": comment_mention["media_id"],
                          "comment_id": comment_mention["id"]}),
            ("mentions", {"media_id": caption["id"]}),
            ("mentions", {"media_id": "1790000000", "comment_id": "1790000001"}),  # gone
        )
    )  # fmt: skip
    assert [(i.kind, i.external_id, i.thread_id) for i in items] == [
        ("mention", comment_mention["id"], comment_mention["media_id"]),
        ("mention", caption["id"], caption["id"]),
    ]
    assert items[0].body == comment_mention["text"]
    assert items[0].author.handle == f"@{comment_mention['username']}"
    lookup = next(c for c in sim.reads() if "mentioned_comment" in c.query.get("fields", ""))
    assert lookup.path == f"/v25.0/{IG_USER_ID}"
    assert lookup.query["fields"] == (
        f"mentioned_comment.comment_id({comment_mention['id']})"
        "{id,text,timestamp,username,media{id,caption,permalink}}"
    )
    under = sim.others[comment_mention["media_id"]]
    assert (items[0].post_text, items[0].post_url) == (under["caption"], under["permalink"])
    assert (items[1].post_text, items[1].post_url) == (None, None), "a caption is the post"


def test_stale_or_unsigned_deliveries_are_refused(sim, connector):
    body = changes(("mentions", {"media_id": "1"}), when=int(time.time()) - 900)
    with pytest.raises(WebhookRejected, match="old"):
        connector.verify_webhook(
            RawRequest("POST", {"X-Hub-Signature-256": sign(sim.secret, body)}, body)
        )
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(RawRequest("POST", {"X-Hub-Signature": "sha1=00"}, body))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (json.dumps({"object": "page", "entry": [{"id": IG_USER_ID}]}).encode(), "object"),
        (changes(("comments", {"id": "1", "from": {"id": "2"}})), "entry.0.changes.0.value.media"),
        (changes(("mentions", {"comment_id": "1"})), "entry.0.changes.0.value.media_id"),
        (json.dumps({"object": "instagram", "entry": [{"id": IG_USER_ID, "time": 1,
                     "messaging": [{"message": {"text": "hi"}}]}]}).encode(),
         "entry.0.messaging.0"),
    ],
)  # fmt: skip
def test_malformed_deliveries_are_bad_payloads(connector, payload, field):
    with pytest.raises(BadPayload) as caught:
        connector.parse_webhook(payload)
    assert field in caught.value.errors
