"""WhatsApp Cloud API connector against its simulator: pushes in, replies out, the 24-hour rule."""

from __future__ import annotations

import json
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
    Transient,
    Unsupported,
)
from connectors.sandbox.base import SANDBOX_SECRET, SANDBOX_TOKEN
from connectors.sandbox.whatsapp import PHONE_NUMBER_ID, VERIFIED_NAME, WhatsAppSimulator
from connectors.whatsapp import WhatsAppConnector, sign
from tests.connectors.contract import WebhookContract, build

MESSAGES_PATH = f"/v25.0/{PHONE_NUMBER_ID}/messages"


class TestWhatsAppWebhook(WebhookContract):
    type = "whatsapp"


@pytest.fixture
def sim():
    simulator = WhatsAppSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim) -> WhatsAppConnector:
    conn = build("whatsapp", sim)
    conn.retry_wait_max = 0.01  # keep the transient-retry test fast
    return conn


@pytest.fixture
def offline() -> WhatsAppConnector:
    """A connector for parsing tests: no simulator to start (nor to wait for when it stops)."""
    return WhatsAppConnector(
        {
            "api_base": "http://127.0.0.1:9",
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": SANDBOX_TOKEN,
            "app_secret": SANDBOX_SECRET,
            "verify_token": "sandbox-verify-token",
        }
    )


def pushed(sim, connector, count=1, **kwargs):
    """Have the simulator push `count` messages; return the items the connector reads."""
    headers, body, ids = sim.webhook_delivery(count, **kwargs)
    connector.verify_webhook(RawRequest(method="POST", headers=headers, body=body))
    items = connector.parse_webhook(body)
    assert [i.external_id for i in items] == ids
    return items


def target_of(item, created_at=None) -> Target:
    return Target(
        external_id=item.external_id,
        kind=item.kind,
        thread_id=item.thread_id,
        author_id=item.author.id,
        author_handle=item.author.handle,
        created_at=created_at or item.created_at,
    )


def delivery(*messages, contacts=None, number=PHONE_NUMBER_ID) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "33186954210", "phone_number_id": number},
        "messages": list(messages),
    }
    if contacts is not None:
        value["contacts"] = contacts
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def message(type_="text", sender="33612345678", **content):
    base = {"from": sender, "id": f"wamid.T{type_}", "timestamp": "1749416383", "type": type_}
    return base | (content or {"text": {"body": "Bonjour"}})


# -- registration and configuration ------------------------------------------------------------


def test_registered_as_a_push_only_reply_channel():
    cls = connector_class("whatsapp")
    assert cls is WhatsAppConnector
    assert cls.receives_webhooks and not cls.polls
    assert cls.capabilities == frozenset({"reply"})
    assert cls.secret_fields() == {"access_token", "app_secret", "verify_token"}


def test_config_is_validated_with_clear_errors(sim):
    good = sim.channel_config()
    loaded = WhatsAppConnector.config_schema().load(good)
    assert loaded["tolerance"] == 300 and loaded["api_version"] == "v25.0"
    schema = WhatsAppConnector.config_schema()
    without_secret = {k: v for k, v in good.items() if k != "app_secret"}
    with pytest.raises(ValidationError) as caught:
        schema.load(without_secret)
    assert "app_secret" in caught.value.messages
    with pytest.raises(ValidationError) as caught:
        schema.load(good | {"phone_number_id": "+33 1 86 95 42 10"})
    assert "not the phone number itself" in str(caught.value.messages["phone_number_id"])
    with pytest.raises(ValidationError) as caught:
        schema.load(good | {"api_version": "25"})
    assert "api_version" in caught.value.messages
    with pytest.raises(ValidationError):
        schema.load(good | {"page_id": "1"})
    assert (
        WhatsAppConnector.config_schema()
        .load({k: v for k, v in good.items() if k != "api_base"})["api_base"]
        .startswith("https://graph.facebook.com")
    )


# -- webhooks ------------------------------------------------------------------------------------


def test_handshake_echoes_the_challenge_only_with_the_verify_token(connector, sim):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": sim.verify_token,
        "hub.challenge": "1158201444",
    }
    get = RawRequest(method="GET", headers={}, body=b"", query=query)
    assert connector.handshake(get) == (200, "1158201444")
    wrong = RawRequest(
        method="GET", headers={}, body=b"", query=query | {"hub.verify_token": "guessed-token"}
    )
    status, _ = connector.handshake(wrong)
    assert status == 403
    plain_post = RawRequest(method="POST", headers={}, body=b"{}")
    assert connector.handshake(plain_post) is None


def test_pushed_messages_become_one_dm_conversation_per_customer(sim, connector):
    items = pushed(sim, connector, 4)
    for item in items:
        customer = sim.customers[item.author.id]
        assert item.kind == "dm" and not item.outbound
        assert item.thread_id == item.author.id and item.author.id.isdigit()
        assert item.author.handle == f"+{item.author.id}"
        assert item.author.name == customer["name"]
        assert item.external_id.startswith("wamid.")
        assert item.body
        assert abs((datetime.now(UTC) - item.created_at).total_seconds()) < 60


def test_non_text_messages_get_a_readable_placeholder(sim, connector):
    for kind in ("image", "audio", "document", "location", "reaction"):
        sim.add_inbound(1, type_=kind)
    bodies = [item.body for item in pushed(sim, connector, 5)]
    assert bodies[0].startswith("[image] ") and len(bodies[0]) > len("[image] ")
    assert bodies[1] == "[voice message]"
    assert bodies[2].startswith("[document: ") and "]" in bodies[2]
    assert bodies[3].startswith("[location: ")
    assert bodies[4] == "[reaction 👍]"


def test_status_only_delivery_is_accepted_and_yields_no_item(sim, connector):
    item = pushed(sim, connector, 1)[0]
    connector.reply(target_of(item), "Merci, nous regardons.")
    for _ in range(2):  # sent, then delivered
        headers, body = sim.status_delivery()
        connector.verify_webhook(RawRequest(method="POST", headers=headers, body=body))
        assert b'"statuses"' in body
        assert connector.parse_webhook(body) == []


def test_other_webhook_fields_and_other_numbers_yield_nothing(offline):
    other_field = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {"x": 1}}]}],
    }
    assert offline.parse_webhook(json.dumps(other_field).encode()) == []
    assert offline.parse_webhook(delivery(message(), number="999999999")) == []


def test_sender_without_contacts_and_with_a_business_scoped_id(offline):
    plain = offline.parse_webhook(delivery(message()))[0]
    assert plain.author.id == plain.thread_id == "33612345678" and plain.author.name is None
    bsuid = {"from_user_id": "FR.1502576394655843", "id": "wamid.B", "timestamp": "1749416383"}
    bsuid |= {"type": "text", "text": {"body": "Salut"}}
    contacts = [{"profile": {"name": "Inès", "username": "ines"}, "user_id": bsuid["from_user_id"]}]
    item = offline.parse_webhook(delivery(bsuid, contacts=contacts))[0]
    assert item.thread_id == item.author.id == "FR.1502576394655843"
    assert (item.author.handle, item.author.name) == ("ines", "Inès")
    assert item.created_at == datetime.fromtimestamp(1749416383, UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (json.dumps({"object": "page", "entry": []}).encode(), "object"),
        (json.dumps({"object": "whatsapp_business_account"}).encode(), "entry"),
        (delivery({"from": "33612345678", "timestamp": "1", "type": "text"}), ".id"),
        (delivery(message() | {"timestamp": "yesterday"}), ".timestamp"),
        (delivery(message(text={"no": "body"})), ".text.body"),
        (delivery(message() | {"from": ""}), ".from"),
    ],
)
def test_malformed_delivery_is_a_bad_payload(offline, body, field):
    with pytest.raises(BadPayload) as caught:
        offline.parse_webhook(body)
    assert any(key.endswith(field) for key in caught.value.errors), caught.value.errors


def test_signature_is_checked_on_the_raw_bytes(offline):
    body = delivery(message() | {"timestamp": str(int(datetime.now(UTC).timestamp()))})
    headers = {"x-hub-signature-256": sign(SANDBOX_SECRET, body)}  # header names are case-blind
    offline.verify_webhook(RawRequest(method="POST", headers=headers, body=body))
    reserialized = json.dumps(json.loads(body), separators=(",", ":")).encode()
    with pytest.raises(Exception, match="signature"):
        offline.verify_webhook(RawRequest(method="POST", headers=headers, body=reserialized))
    with pytest.raises(Exception, match="missing"):
        offline.verify_webhook(RawRequest(method="POST", headers={}, body=body))


# -- replies -------------------------------------------------------------------------------------


def test_reply_posts_a_text_message_to_the_customer_and_returns_its_wamid(sim, connector):
    item = pushed(sim, connector, 1)[0]
    before = len(sim.writes())
    wamid = connector.reply(target_of(item), "Bonjour, votre colis part demain.")
    writes = sim.writes()[before:]
    assert len(writes) == 1
    call = writes[0]
    assert (call.method, call.path) == ("POST", MESSAGES_PATH)
    assert call.headers["Authorization"] == f"Bearer {sim.token}"
    assert call.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": item.author.id,
        "type": "text",
        "text": {"body": "Bonjour, votre colis part demain."},
    }
    assert wamid.startswith("wamid.") and wamid in sim.sent
    assert sim.sent[wamid]["to"] == item.author.id


def test_reply_to_a_business_scoped_id_uses_recipient(sim, connector):
    sim.set_last_inbound("FR.1502576394655843", 60)
    target = Target(
        external_id="wamid.B",
        kind="dm",
        thread_id="FR.1502576394655843",
        author_id="FR.1502576394655843",
        created_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    connector.reply(target, "Merci !")
    sent = sim.writes()[-1].json()
    assert sent["recipient"] == "FR.1502576394655843" and "to" not in sent


def test_reply_outside_the_24_hour_window_is_refused_before_any_call(sim, connector):
    item = pushed(sim, connector, 1)[0]
    old = datetime.now(UTC) - timedelta(hours=25)
    calls = len(sim.calls)
    with pytest.raises(NotAllowed) as caught:
        connector.reply(target_of(item, created_at=old), "Toujours là ?")
    assert "24 hours" in str(caught.value) and "template" in str(caught.value)
    naive_old = (datetime.now(UTC) - timedelta(days=3)).replace(tzinfo=None)
    with pytest.raises(NotAllowed, match="3 days"):
        connector.reply(target_of(item, created_at=naive_old), "Toujours là ?")
    assert len(sim.calls) == calls


def test_platform_re_engagement_error_131047_is_not_allowed(sim, connector):
    item = pushed(sim, connector, 1)[0]
    sim.set_last_inbound(item.author.id, 25 * 3600)  # the platform knows better than our copy
    with pytest.raises(NotAllowed) as caught:
        connector.reply(target_of(item), "Bonjour")
    assert "template" in str(caught.value)
    assert sim.writes()[-1].path == MESSAGES_PATH and not sim.sent


def test_too_long_or_empty_replies_are_refused_before_any_call(sim, connector):
    item = pushed(sim, connector, 1)[0]
    calls = len(sim.calls)
    with pytest.raises(NotAllowed, match="4096"):
        connector.reply(target_of(item), "x" * 4097)
    with pytest.raises(NotAllowed):
        connector.reply(target_of(item), "   ")
    assert len(sim.calls) == calls


def test_moderation_is_unsupported_before_any_call(sim, connector):
    item = pushed(sim, connector, 1)[0]
    calls = len(sim.calls)
    for action in ("hide", "unhide", "delete", "like"):
        with pytest.raises(Unsupported, match=action):
            connector.moderate(target_of(item), action)
    assert len(sim.calls) == calls


# -- account check and errors -------------------------------------------------------------------


def test_check_names_the_business_and_an_expired_token_is_auth_expired(sim, connector):
    said = connector.check()
    assert VERIFIED_NAME in said and "+33" in said
    read = sim.reads()[-1]
    assert read.path == f"/v25.0/{PHONE_NUMBER_ID}"
    assert set(read.query["fields"].split(",")) == {"display_phone_number", "verified_name"}
    sim.expire_token()
    with pytest.raises(AuthExpired, match="reconnect"):
        connector.check()
    item_target = Target(external_id="wamid.X", kind="dm", thread_id="33612345678")
    with pytest.raises(AuthExpired):
        connector.reply(item_target, "Bonjour")


def test_unknown_phone_number_id_is_explained(sim):
    conn = build("whatsapp", sim, phone_number_id="123456789")
    with pytest.raises(NotAllowed, match="123456789"):
        conn.check()


def test_throttled_send_is_rate_limited(sim, connector):
    item = pushed(sim, connector, 1)[0]
    sim.rate_limit(times=1, reset_in=2)
    with pytest.raises(RateLimited) as caught:
        connector.reply(target_of(item), "Bonjour")
    assert 1 <= caught.value.retry_after <= 10
    assert not sim.sent


def test_throttled_management_call_follows_the_regain_time(sim, connector):
    sim.rate_limit(times=1, reset_in=90)
    with pytest.raises(RateLimited) as caught:
        connector.check()
    assert caught.value.retry_after == 120  # Meta reports whole minutes: 2


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (131056, RateLimited),
        (131048, RateLimited),
        (10, PermissionDenied),
        (200, PermissionDenied),
        (131026, NotAllowed),
        (368, NotAllowed),
        (190, AuthExpired),
    ],
)
def test_graph_error_codes_are_mapped(sim, connector, code, error):
    sim.fail_next(code, f"(#{code}) refused", details="because")
    target = Target(external_id="wamid.X", kind="dm", thread_id="33612345678")
    with pytest.raises(error):
        connector.reply(target, "Bonjour")


def test_a_failed_send_is_not_retried_blindly_but_reads_are(sim, connector):
    # WhatsApp has no idempotency key: a 5xx after the POST left may hide a sent message, so the
    # client does not post again; the outbox decides what to do with the Transient error
    sim.fail_next(131000, "(#131000) Something went wrong", status=500, times=1)
    target = Target(external_id="wamid.X", kind="dm", thread_id="33612345678")
    writes = len(sim.writes())
    with pytest.raises(Transient):
        connector.reply(target, "Bonjour")
    assert len(sim.writes()) - writes == 1
    sim.fail_next(2, "(#2) Service temporarily unavailable", status=503)
    assert "Maison" in connector.check()  # one failure, then the retry succeeds
