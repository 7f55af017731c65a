"""WhatsApp Cloud API simulator: customers write in, Meta pushes signed webhooks, we reply.

WhatsApp has no endpoint that lists conversations, so `add_inbound` only queues new customer
messages; `webhook_delivery` takes them off the queue as one signed `messages` delivery, the way
Meta pushes them (`deliver(url)` POSTs it). The API side answers what the connector calls:

- `GET /{version}/{phone-number-id}?fields=…`: the business phone number;
- `POST /{version}/{phone-number-id}/messages`: a text message to a customer, refused with
  code 131047 when the customer's last message is more than 24 hours old (or they never wrote);

with Graph error bodies: 190 for a bad or expired token (HTTP 401), 100/33 for an unknown phone
number id, 80007 with `X-Business-Use-Case-Usage` for throttled management calls and 130429 for
throttled sends. Sent replies are recorded (`writes()`, `sent`) and later reported by
`status_delivery` as delivery receipts, which is all Meta tells a business about its own messages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import random
import re
import threading
import time
from typing import Any

import requests
from flask import Flask, Response, jsonify, request

from connectors.sandbox.base import Simulator
from connectors.sandbox.traffic import Person

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
DISPLAY_NUMBER = "+33 1 86 95 42 10"
METADATA_NUMBER = "33186954210"
VERIFIED_NAME = "Maison Lumière"
VERSION = "v25.0"
VERIFY_TOKEN = "sandbox-verify-token"
WINDOW_SECONDS = 24 * 3600
MAX_TEXT = 4096
TONES = {"question": 45, "complaint": 35, "praise": 15, "spam": 5}
CAPTIONS = {
    "fr": ["Voilà la photo du colis reçu", "C'est bien ce modèle ?", "La tache sur la manche"],
    "en": ["Here's the parcel I got", "Is this the right model?", "The stain on the sleeve"],
}


def wa_id_of(person: Person) -> str:
    """A stable, plausible mobile number for a traffic person (FR +33 7…, UK +44 7…)."""
    digits = f"{int(person.id):08d}"
    return f"337{digits}" if person.lang == "fr" else f"4477{digits}"


class WhatsAppSimulator(Simulator):
    type = "whatsapp"
    pushes = True

    def __init__(self, **kwargs: Any):
        self.queue: list[tuple[dict, dict]] = []  # (contact, message) not yet pushed
        self.customers: dict[str, dict[str, Any]] = {}  # wa_id -> name, last inbound time
        self.sent: dict[str, dict[str, Any]] = {}  # wamid -> our reply
        self.receipts: dict[str, str] = {}  # wamid -> last status pushed
        self.verify_token = VERIFY_TOKEN
        self.push_url: str | None = None  # the demo sets it so traffic is pushed as it comes
        self._forced: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self._seq = 0
        super().__init__(**kwargs)

    # -- platform answers -----------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.add_url_rule("/<version>/<number_id>", "number", self._number, methods=["GET"])
        app.add_url_rule(
            "/<version>/<number_id>/messages", "messages", self._messages, methods=["POST"]
        )

    def authorized(self) -> bool:
        given = request.headers.get("Authorization", "")
        if given:
            return given == f"Bearer {self.token}"
        return request.args.get("access_token") == self.token

    def auth_error(self) -> Response:
        if self.token_expired:
            message = (
                "Error validating access token: Session has expired on Friday, 14-Mar-25 "
                "09:00:00 PDT."
            )
            return self.graph_error(401, 190, message, subcode=463)
        return self.graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")

    def rate_limited(self, reset_at: float) -> Response:
        if request.method == "POST":
            return self.graph_error(
                400,
                130429,
                "(#130429) Rate limit hit",
                details="Cloud API message throughput has been reached.",
            )
        minutes = max(1, math.ceil((reset_at - time.time()) / 60))
        usage = {
            WABA_ID: [
                {
                    "type": "whatsapp_business_management",
                    "call_count": 100,
                    "total_cputime": 12,
                    "total_time": 15,
                    "estimated_time_to_regain_access": minutes,
                }
            ]
        }
        return self.graph_error(
            400,
            80007,
            "(#80007) There have been too many calls to this WhatsApp Business account. "
            "Wait a bit and try again.",
            headers={"X-Business-Use-Case-Usage": json.dumps(usage, separators=(",", ":"))},
        )

    def graph_error(
        self,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        details: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A Graph API error body, as Meta shapes it for the Cloud API."""
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        if details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details}
        error["fbtrace_id"] = self._trace()
        response = jsonify({"error": error})
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = (
                'OAuth "Facebook Platform" "invalid_token" "Error validating access token"'
            )
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _version_error(self, version: str, number_id: str) -> Response | None:
        with self.lock:
            if self._forced:
                status, error, headers = self._forced.pop(0)
                return self.graph_error(status, headers=headers, **error)
        if not re.fullmatch(r"v\d{1,3}\.\d", version):
            return self.graph_error(400, 2500, "Unknown path components: /" + version)
        if number_id != PHONE_NUMBER_ID:
            return self.graph_error(
                400,
                100,
                f"Unsupported get request. Object with ID '{number_id}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
            )
        return None

    def _number(self, version: str, number_id: str) -> Response:
        failed = self._version_error(version, number_id)
        if failed is not None:
            return failed
        known = {
            "id": PHONE_NUMBER_ID,
            "verified_name": VERIFIED_NAME,
            "display_phone_number": DISPLAY_NUMBER,
            "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API",
        }
        wanted = [f for f in request.args.get("fields", "").split(",") if f]
        wanted = wanted or ["verified_name", "code_verification_status", "display_phone_number"]
        return jsonify({"id": PHONE_NUMBER_ID} | {f: known[f] for f in wanted if f in known})

    def _messages(self, version: str, number_id: str) -> Response:
        failed = self._version_error(version, number_id)
        if failed is not None:
            return failed
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or data.get("messaging_product") != "whatsapp":
            return self.graph_error(
                400,
                100,
                "(#100) The parameter messaging_product is required.",
                details="messaging_product must be 'whatsapp'",
            )
        to = data.get("to") or data.get("recipient")
        text = data.get("text") if isinstance(data.get("text"), dict) else {}
        body = text.get("body")
        if data.get("type") != "text" or not isinstance(body, str) or not body.strip():
            return self.graph_error(
                400, 131009, "(#131009) Parameter value is not valid", details="text.body"
            )
        if len(body) > MAX_TEXT:
            return self.graph_error(
                400,
                100,
                "(#100) Invalid parameter",
                details=f"text.body is longer than {MAX_TEXT} characters",
            )
        if not isinstance(to, str) or not to:
            return self.graph_error(
                400, 131008, "(#131008) Required parameter is missing", details="to"
            )
        with self.lock:
            customer = self.customers.get(to)
            if customer is None or time.time() - customer["last_at"] > WINDOW_SECONDS:
                return self.graph_error(
                    400,
                    131047,
                    "(#131047) Re-engagement message",
                    details="Message failed to send because more than 24 hours have passed "
                    "since the customer last replied to this number.",
                )
            wamid = self._wamid(to, outbound=True)
            self.sent[wamid] = {"to": to, "text": body, "at": time.time()}
        return jsonify(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        )

    # -- traffic --------------------------------------------------------------------------------

    def add_inbound(self, count: int = 1, *, type_: str | None = None) -> list[str]:
        """Queue `count` customer messages (mostly text; `type_` forces one kind)."""
        ids = []
        with self.lock:
            for _ in range(count):
                contact, message = self._new_message(type_)
                self.queue.append((contact, message))
                ids.append(message["id"])
        return ids

    def _new_message(self, type_: str | None) -> tuple[dict, dict]:
        rng = self.traffic.rng
        tone = rng.choices(list(TONES), list(TONES.values()))[0]
        said = self.traffic.message(tone=tone)
        person = said.author
        wa_id = wa_id_of(person)
        now = int(time.time())
        self.customers[wa_id] = {"name": person.name, "last_at": now}
        kind = type_ or rng.choices(["text", "image", "audio", "location"], [85, 8, 5, 2])[0]
        message: dict[str, Any] = {
            "from": wa_id,
            "id": self._wamid(wa_id),
            "timestamp": str(now),
            "type": kind,
        }
        if kind == "text":
            message["text"] = {"body": said.text}
        elif kind in ("image", "video", "document", "sticker", "audio"):
            media = {
                "mime_type": {
                    "image": "image/jpeg",
                    "video": "video/mp4",
                    "audio": "audio/ogg",
                }.get(kind, "application/pdf" if kind == "document" else "image/webp"),
                "sha256": base64.b64encode(
                    hashlib.sha256(message["id"].encode()).digest()
                ).decode(),
                "id": str(1_000_000_000_000_000 + self._seq),
            }
            if kind in ("image", "video"):
                media["caption"] = rng.choice(CAPTIONS[person.lang])
            if kind == "document":
                media["filename"] = "facture.pdf" if person.lang == "fr" else "invoice.pdf"
                media["caption"] = "Ma facture" if person.lang == "fr" else "My invoice"
            if kind == "audio":
                media["voice"] = True
            message[kind] = media
        elif kind == "location":
            message["location"] = {
                "latitude": 48.8566,
                "longitude": 2.3522,
                "name": f"{VERIFIED_NAME} Marais",
                "address": "12 rue des Francs-Bourgeois, 75003 Paris",
            }
        elif kind == "reaction":
            target = next(iter(reversed(self.sent)), self._wamid(wa_id, outbound=True))
            message["reaction"] = {"message_id": target, "emoji": "👍"}
        else:
            message[kind] = {}
        if kind == "text" and self.sent and rng.random() < 0.2:
            last = next((w for w, r in reversed(self.sent.items()) if r["to"] == wa_id), None)
            if last is not None:
                message["context"] = {"from": METADATA_NUMBER, "id": last}
        contact = {"profile": {"name": person.name}, "wa_id": wa_id}
        return contact, message

    def set_last_inbound(self, wa_id: str, seconds_ago: float) -> None:
        """Move a customer's last message back in time (the 24-hour window follows it)."""
        with self.lock:
            customer = self.customers.setdefault(wa_id, {"name": None, "last_at": 0})
            customer["last_at"] = int(time.time() - seconds_ago)

    def fail_next(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        details: str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` API calls with this Graph error (tests of error mapping)."""
        error = {"code": code, "message": message, "subcode": subcode, "details": details}
        with self.lock:
            self._forced.extend((status, error, headers or {}) for _ in range(times))

    # -- pushes ---------------------------------------------------------------------------------

    def webhook_delivery(
        self, count: int = 1, *, age: float = 0, secret: str | None = None
    ) -> tuple[dict[str, str], bytes, list[str]]:
        """Push `count` queued messages (new ones are made if the queue is short) as Meta does."""
        return self._delivery(self._take(count), age=age, secret=secret)

    def deliver(self, url: str, count: int = 1) -> list[str]:
        """POST `count` queued messages to an inbox webhook URL; kept queued if it fails."""
        batch = self._take(count)
        headers, body, ids = self._delivery(batch)
        try:
            requests.post(url, data=body, headers=headers, timeout=10).raise_for_status()
        except requests.RequestException:
            with self.lock:
                self.queue[:0] = batch  # Meta retries a failed delivery later
            raise
        return ids

    def _take(self, count: int) -> list[tuple[dict, dict]]:
        with self.lock:
            missing = count - len(self.queue)
            if missing > 0:
                self.add_inbound(missing)
            batch, self.queue = self.queue[:count], self.queue[count:]
        return batch

    def _delivery(
        self, batch: list[tuple[dict, dict]], *, age: float = 0, secret: str | None = None
    ) -> tuple[dict[str, str], bytes, list[str]]:
        messages = []
        contacts: dict[str, dict] = {}
        for contact, message in batch:
            if age:
                message = message | {"timestamp": str(int(time.time() - age))}
            messages.append(message)
            contacts[contact["wa_id"]] = contact
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": METADATA_NUMBER,
                "phone_number_id": PHONE_NUMBER_ID,
            },
            "contacts": list(contacts.values()),
            "messages": messages,
        }
        headers, body = self.signed(value, secret)
        return headers, body, [m["id"] for m in messages]

    def status_delivery(
        self, *, age: float = 0, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Push delivery receipts for our replies (sent → delivered → read), as Meta does."""
        stamp = str(int(time.time() - age))
        statuses = []
        with self.lock:
            for wamid, sent in self.sent.items():
                step = {None: "sent", "sent": "delivered"}.get(self.receipts.get(wamid), "read")
                self.receipts[wamid] = step
                status: dict[str, Any] = {
                    "id": wamid,
                    "status": step,
                    "timestamp": stamp,
                    "recipient_id": sent["to"],
                }
                if step == "sent":
                    status["conversation"] = {
                        "id": hashlib.md5(sent["to"].encode()).hexdigest(),
                        "expiration_timestamp": str(int(sent["at"]) + WINDOW_SECONDS),
                        "origin": {"type": "service"},
                    }
                    status["pricing"] = {
                        "billable": False,
                        "pricing_model": "PMP",
                        "category": "service",
                        "type": "free_customer_service",
                    }
                statuses.append(status)
        if not statuses:
            statuses.append(
                {
                    "id": self._wamid("33700000000", outbound=True),
                    "status": "delivered",
                    "timestamp": stamp,
                    "recipient_id": "33700000000",
                }
            )
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": METADATA_NUMBER,
                "phone_number_id": PHONE_NUMBER_ID,
            },
            "statuses": statuses,
        }
        return self.signed(value, secret)

    def signed(self, value: dict, secret: str | None = None) -> tuple[dict[str, str], bytes]:
        """Wrap a `messages` change value in Meta's envelope and sign the raw bytes."""
        envelope = {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
        }
        # Meta sends compact JSON with non-ASCII escaped; the signature covers exactly these bytes
        body = json.dumps(envelope, separators=(",", ":")).encode()
        key = (secret or self.secret).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "facebookexternalua",
            "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
            "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
        }
        return headers, body

    def verify_subscription(self, url: str) -> bool:
        """Do Meta's subscription check against an inbox webhook URL; True if it echoed."""
        challenge = str(1_158_201_444 + self._seq)
        answer = requests.get(
            url,
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": self.verify_token,
                "hub.challenge": challenge,
            },
            timeout=10,
        )
        return answer.status_code == 200 and answer.text == challenge

    def start_traffic(self, every: float = 20.0, burst: int = 2) -> None:
        """For the demo: new customer messages every few seconds, pushed to `push_url` if set."""
        rng = random.Random(self.type)

        def loop() -> None:
            while not self._traffic_stop.wait(rng.uniform(every * 0.5, every * 1.5)):
                self.add_inbound(rng.randint(1, burst))
                if self.push_url:
                    with contextlib.suppress(requests.RequestException):
                        self.deliver(self.push_url, len(self.queue))  # else: next burst

        threading.Thread(target=loop, name=f"sandbox-{self.type}-traffic", daemon=True).start()

    def channel_config(self) -> dict[str, Any]:
        return {
            "api_base": self.base_url,
            "api_version": VERSION,
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": self.token,
            "app_secret": self.secret,
            "verify_token": self.verify_token,
        }

    # -- ids ------------------------------------------------------------------------------------

    def _wamid(self, wa_id: str, *, outbound: bool = False) -> str:
        """A `wamid.` id shaped like Meta's (base64 of the number and a random-looking key)."""
        self._seq += 1
        seed = f"{self.type}:{wa_id}:{self._seq}:{outbound}".encode()
        key = hashlib.sha1(seed).hexdigest()[: 20 if outbound else 32].upper()
        raw = b"\x18\x0b" + wa_id.encode() + b"\x15\x02\x00" + (b"\x11" if outbound else b"\x12")
        raw += b"\x18" + bytes([len(key)]) + key.encode() + b"\x00"
        return "wamid." + base64.b64encode(raw).decode()

    def _trace(self) -> str:
        self._seq += 1
        return base64.b64encode(hashlib.sha1(f"trace{self._seq}".encode()).digest())[:23].decode()
