"""The webhook route: only signed, fresh, well-formed pushes get in; the rest leaves no trace."""

from __future__ import annotations

import json
import time

import pytest

from connectors.webhook import sign
from inbox.models import Contact, Event, Item, Ticket
from tests.support import WEBHOOK_SECRET, count


def item(external_id="w1", **fields):
    return {
        "external_id": external_id,
        "kind": "dm",
        "thread_id": "conv-1",
        "author": {"id": "u1", "handle": "@lou", "name": "Lou"},
        "body": "Bonjour, ma commande n'est pas arrivée",
        "created_at": "2026-11-20T10:00:00+00:00",
    } | fields


def post(app, channel_id, payload, secret=WEBHOOK_SECRET, timestamp=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "X-Inbox-Timestamp": str(timestamp),
        "X-Inbox-Signature": sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }
    return app.test_client().post(f"/hooks/{channel_id}", data=body, headers=headers)


def nothing_stored():
    return count(Item) == count(Ticket) == count(Event) == count(Contact) == 0


def test_signed_push_is_accepted_and_ingested(app, world):
    channel = world.channel()
    response = post(app, channel.id, {"items": [item("w1"), item("w2", body="Toujours rien")]})
    assert response.status_code == 202 and response.json == {"accepted": 2}
    assert count(Item) == 2 and count(Ticket) == 1


def test_forged_signature_is_refused(app, world):
    channel = world.channel()
    response = post(app, channel.id, {"items": [item()]}, secret="not-the-channel-secret")
    assert response.status_code == 401 and response.json["error"]["field"] == "signature"
    assert nothing_stored()


def test_replayed_old_push_is_refused(app, world):
    channel = world.channel()
    response = post(app, channel.id, {"items": [item()]}, timestamp=int(time.time()) - 3600)
    assert response.status_code == 401 and "window" in response.json["error"]["message"]
    assert nothing_stored()


def test_unsigned_push_is_refused(app, world):
    channel = world.channel()
    response = app.test_client().post(f"/hooks/{channel.id}", json={"items": [item()]})
    assert response.status_code == 401
    assert nothing_stored()


@pytest.mark.parametrize(
    ("payload", "raw", "field"),
    [
        (None, b"{not json", "body"),
        (None, b"\xff\xfe", "body"),
        ({"items": "nope"}, None, "items"),
        ({"items": []}, None, "items"),
        ({"items": [item(created_at="yesterday")]}, None, "items.0"),
        ({"items": [item(kind="tweetstorm")]}, None, "items.0"),
        ({"items": [item(), item("w2", rating=9)]}, None, "items.1"),
        ({"items": [item(colour="red")]}, None, "items.0"),
        ({"items": [item(created_at="2026-11-20T10:00:00")]}, None, "items.0"),
        ({"items": [item(author={"name": "no id"})]}, None, "items.0"),
    ],
)
def test_malformed_push_is_a_400_naming_the_problem(app, world, payload, raw, field):
    channel = world.channel()
    response = post(app, channel.id, payload, raw=raw)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field
    assert nothing_stored()


def test_oversized_body_is_a_413(app, world):
    channel = world.channel()
    huge = {"items": [item(body="x" * 20_000, external_id=f"w{i}") for i in range(60)]}
    response = post(app, channel.id, huge)
    assert response.status_code == 413 and response.json["error"]["code"]
    assert nothing_stored()


def test_unknown_or_paused_channel_is_a_404(app, world):
    assert post(app, 999, {"items": [item()]}).status_code == 404
    demo = world.channel(type_="demo", config={})
    assert post(app, demo.id, {"items": [item()]}).status_code == 404


def test_the_same_signed_push_twice_is_taken_once(app, world):
    channel = world.channel()
    body = json.dumps({"items": [item("r1")]}).encode()
    timestamp = int(time.time())
    first = post(app, channel.id, None, timestamp=timestamp, raw=body)
    again = post(app, channel.id, None, timestamp=timestamp, raw=body)
    assert first.status_code == 202 and first.json == {"accepted": 1}
    assert again.status_code == 200 and again.json == {"accepted": 0, "duplicate": True}
    assert count(Item) == 1 and count(Ticket) == 1
