"""What the Facebook and Instagram simulators share: one small Graph API server.

Graph is node-based: `/{version}/{node-id}` and `/{version}/{node-id}/{edge}`, whatever the node
is (Page, post, comment, media, conversation). The simulator keeps that shape: one dispatcher
looks the node up and hands it to the platform's handler. Shared here:

- the token (`access_token` query or form parameter, or `Authorization: Bearer`) and
  `appsecret_proof` check, with Graph's error body (`{"error": {message, type, code,
  error_subcode, fbtrace_id}}`, HTTP 400) for everything that goes wrong;
- the `fields=` syntax (`from{id,name}`, `messages.limit(5){id,message}`,
  `mentioned_comment.comment_id(1){text}`), strict like Graph: an unknown field is an error;
- cursor pages: `{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}`, `next`
  only when more follows; cursors encode the last item's (time, sequence) so items added at the
  head while a client pages do not shift what it sees;
- Messenger/Instagram conversations (`/{id}/conversations?platform=&user_id=`,
  `/{conversation-id}/messages`) and the Send API (`POST /{id}/messages`: `recipient.id` inside
  the 24-hour window or with the `HUMAN_AGENT` tag inside 7 days, `recipient.comment_id` for one
  private reply per comment within 7 days), with the errors Meta gives (10/2018278 outside the
  window, 10900 already replied, 100/2018001 unknown person);
- webhook bodies signed like Meta (`X-Hub-Signature-256` hex HMAC-SHA256 of the raw body with
  the app secret, plus the legacy SHA-1 header), JSON with non-ASCII escaped;
- fault switches beyond the base ones: `fail(times, code=…, status=…)` answers the next calls
  with any Graph error (5xx transient by default).

One deliberate difference: Meta reports `estimated_time_to_regain_access` in whole minutes; the
simulator's resets are seconds away, so it reports the fraction of a minute (e.g. 0.0333), which
a connector that reads the number as minutes handles unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

from flask import Flask, Response, request

from connectors.sandbox.base import Simulator
from connectors.sandbox.traffic import Person

VERSION = re.compile(r"^v\d{1,3}\.0$")
STANDARD_WINDOW = 24 * 3600
HUMAN_AGENT_WINDOW = 7 * 86400
PRIVATE_REPLY_WINDOW = 7 * 86400
VERIFY_TOKEN = "sandbox-verify-token"


def fmt(ts: int | float) -> str:
    """A Graph time string, e.g. 2021-07-23T08:35:18+0000."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


def encode_cursor(key: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}:{key[1]}".encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[int, int] | None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        created, seq = raw.split(":")
        return int(created), int(seq)
    except (ValueError, UnicodeDecodeError):
        return None


def key_of(obj: dict[str, Any]) -> tuple[int, int]:
    return obj["created"], obj["seq"]


def sign_body(secret: str, body: bytes) -> dict[str, str]:
    """The headers Meta sends with a webhook body."""
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256="
        + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
    }


class GraphError(Exception):
    """A Graph error answer."""

    def __init__(
        self,
        message: str,
        code: int,
        *,
        subcode: int | None = None,
        status: int = 400,
        type_: str = "OAuthException",
        headers: dict[str, str] | None = None,
        transient: bool | None = None,
    ):
        super().__init__(message)
        self.message, self.code, self.subcode, self.status = message, code, subcode, status
        self.type, self.headers, self.transient = type_, headers or {}, transient

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = secrets.token_urlsafe(8)
        return Response(
            json.dumps({"error": error}),
            status=self.status,
            headers={"Content-Type": "application/json", **self.headers},
        )


def not_found(node: str, method: str = "GET") -> GraphError:
    return GraphError(
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        100,
        subcode=33,
        type_="GraphMethodException",
    )


def unknown_path(edge: str) -> GraphError:
    return GraphError(f"Unknown path components: /{edge}", 2500)


# -- fields= ------------------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    args: dict[str, str] = field(default_factory=dict)
    sub: list[Field] | None = None


def parse_fields(spec: str | None, default: str) -> list[Field]:
    """Parse Graph's `fields=` syntax; a syntax error is Graph's error 2500."""
    text = (spec or default).replace(" ", "")
    found, end = _field_list(text, 0)
    if end != len(text):
        raise GraphError(f'Syntax error "Expected end of string" at character {end}', 2500)
    return found


def _field_list(text: str, at: int) -> tuple[list[Field], int]:
    out: list[Field] = []
    while at < len(text) and text[at] != "}":
        match = re.compile(r"[A-Za-z0-9_]+").match(text, at)
        if not match:
            raise GraphError(f'Syntax error "Expected field name" at character {at}', 2500)
        item, at = Field(match.group()), match.end()
        while at < len(text) and text[at] in ".{":
            if text[at] == ".":
                mod = re.compile(r"\.([A-Za-z_]+)\(([^()]*)\)").match(text, at)
                if not mod:
                    raise GraphError(f"Syntax error at character {at}", 2500)
                item.args[mod.group(1)], at = mod.group(2), mod.end()
            else:
                item.sub, at = _field_list(text, at + 1)
                if at >= len(text) or text[at] != "}":
                    raise GraphError("Syntax error \"Expected '}'\"", 2500)
                at += 1
        out.append(item)
        if at < len(text) and text[at] == ",":
            at += 1
    return out, at


def pick(full: dict[str, Any], wanted: list[Field], node_type: str) -> dict[str, Any]:
    """Keep the requested fields of a node; callables build edges; None fields are omitted."""
    out: dict[str, Any] = {}
    for f in wanted:
        if f.name not in full:
            raise GraphError(
                f"(#100) Tried accessing nonexisting field ({f.name}) on node type ({node_type})",
                100,
            )
        value = full[f.name]
        if callable(value):
            value = value(f)
        elif isinstance(value, dict) and f.sub:
            value = {s.name: value[s.name] for s in f.sub if value.get(s.name) is not None}
        if value is not None:
            out[f.name] = value
    return out


# -- the shared simulator ---------------------------------------------------------------------


class GraphSimulator(Simulator):
    """A Graph API node server; platforms add their nodes in `handle`."""

    pushes = True
    platform: ClassVar[str]  # conversations platform: "messenger" or "instagram"
    throttle_code: ClassVar[int]
    throttle_message: ClassVar[str]
    throttle_type: ClassVar[str]  # the BUC "type" in X-Business-Use-Case-Usage

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.seq = 0
        self.comments: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self._faults: list[GraphError] = []

    # -- what a platform defines ------------------------------------------------------------

    @property
    def account_id(self) -> str:
        """The id of the Page or Instagram account this simulator serves."""
        raise NotImplementedError

    @property
    def inbox_nodes(self) -> set[str]:
        """Nodes with `/conversations` and `/messages` (Send API)."""
        raise NotImplementedError

    def own_party(self) -> dict[str, Any]:
        """How the account appears as `from` / participant."""
        raise NotImplementedError

    def party(self, person: Person) -> dict[str, Any]:
        """How a person appears as `from` / participant."""
        raise NotImplementedError

    def message_id(self) -> str:
        raise NotImplementedError

    def conversation_id(self) -> str:
        raise NotImplementedError

    def handle(self, method: str, node: str, edge: str | None, params: dict[str, Any]) -> Any:
        """Answer one Graph call (the lock is held); raise GraphError for errors."""
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    @staticmethod
    def now() -> int:
        return int(time.time())

    def fail(
        self,
        times: int = 1,
        *,
        code: int = 2,
        status: int = 500,
        subcode: int | None = None,
        message: str = "An unexpected error has occurred. Please retry your request later.",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` calls with a Graph error (a transient 500 by default)."""
        error = GraphError(
            message,
            code,
            subcode=subcode,
            status=status,
            headers=headers,
            transient=True if status >= 500 else None,
        )
        with self.lock:
            self._faults.extend([error] * times)

    def channel_config(self) -> dict[str, Any]:
        return {
            "access_token": self.token,
            "app_secret": self.secret,
            "verify_token": VERIFY_TOKEN,
            "api_base": self.base_url,
        }

    # -- auth and throttling ---------------------------------------------------------------------

    def given_token(self) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ")
        return request.args.get("access_token") or request.form.get("access_token") or ""

    def authorized(self) -> bool:
        return self.given_token() == self.token

    def auth_error(self) -> Response:
        if self.token_expired and self.given_token() == self.token:
            return GraphError(
                "Error validating access token: Session has expired on Friday, 14-Mar-25 "
                "10:00:00 PDT. The current time is Friday, 14-Mar-25 10:05:00 PDT.",
                190,
                subcode=463,
            ).response()
        return GraphError("Invalid OAuth access token - Cannot parse access token", 190).response()

    def rate_limited(self, reset_at: float) -> Response:
        minutes = round(max(0.0, reset_at - time.time()) / 60, 4)
        usage = {
            self.account_id: [
                {
                    "type": self.throttle_type,
                    "call_count": 100,
                    "total_cputime": 34,
                    "total_time": 41,
                    "estimated_time_to_regain_access": minutes,
                }
            ]
        }
        return GraphError(
            self.throttle_message,
            self.throttle_code,
            headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        ).response()

    # -- routing -------------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.before_request(self._fault_gate)
        methods = ["GET", "POST", "DELETE"]
        app.add_url_rule("/<version>/<node>", "node", self._view, methods=methods)
        app.add_url_rule("/<version>/<node>/<edge>", "edge", self._view, methods=methods)

    def _fault_gate(self) -> Response | None:
        with self.lock:
            if self._faults:
                return self._faults.pop(0).response()
        return None

    def params(self) -> dict[str, Any]:
        merged: dict[str, Any] = dict(request.args.to_dict())
        merged |= request.form.to_dict()
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            merged |= body
        for key in ("recipient", "message"):
            if isinstance(merged.get(key), str) and merged[key].startswith("{"):
                with contextlib.suppress(ValueError):
                    merged[key] = json.loads(merged[key])
        return merged

    def _view(self, version: str, node: str, edge: str | None = None) -> Response:
        try:
            if not VERSION.match(version):
                raise GraphError(f"Unknown path components: /{version}", 2500)
            params = self.params()
            proof = params.get("appsecret_proof")
            expected = hmac.new(self.secret.encode(), self.token.encode(), hashlib.sha256)
            if proof is not None and not hmac.compare_digest(str(proof), expected.hexdigest()):
                raise GraphError(
                    "Invalid appsecret_proof provided in the API argument",
                    100,
                    type_="GraphMethodException",
                )
            with self.lock:
                self.version = version
                answer = self.handle(request.method, node, edge, params)
        except GraphError as exc:
            return exc.response()
        return Response(json.dumps(answer), status=200, mimetype="application/json")

    # -- pages ---------------------------------------------------------------------------------

    def link(self, path: str, query: dict[str, Any]) -> str:
        """A `paging.next` link as Graph writes it (absolute, token included)."""
        query = {"access_token": self.token, **query}
        return f"{self.base_url}/{self.version}/{path}?{urlencode(query)}"

    def limit_of(self, value: Any, default: int = 25) -> int:
        try:
            asked = int(value) if value not in (None, "") else default
        except (TypeError, ValueError) as exc:
            raise GraphError("(#100) Param limit must be a number", 100) from exc
        return max(1, min(asked, self.page_size))

    def paged(
        self,
        items: list[dict[str, Any]],
        *,
        render: Callable[[dict[str, Any]], dict[str, Any]],
        path: str,
        query: dict[str, Any],
        limit: int,
        after: str | None = None,
        newest_first: bool = True,
    ) -> dict[str, Any]:
        """One cursor page of `items` (already sorted), Graph style."""
        start = 0
        if after:
            cut = decode_cursor(after)
            if cut is None:
                raise GraphError("(#100) The after cursor is invalid", 100)
            start = len(items)
            for index, item in enumerate(items):
                if (key_of(item) < cut) if newest_first else (key_of(item) > cut):
                    start = index
                    break
        chunk = items[start : start + limit]
        body: dict[str, Any] = {"data": [render(i) for i in chunk]}
        if chunk:
            paging: dict[str, Any] = {
                "cursors": {
                    "before": encode_cursor(key_of(chunk[0])),
                    "after": encode_cursor(key_of(chunk[-1])),
                }
            }
            if start + limit < len(items):
                paging["next"] = self.link(
                    path, {**query, "limit": limit, "after": paging["cursors"]["after"]}
                )
            body["paging"] = paging
        return body

    def list_query(self, params: dict[str, Any], *keep: str) -> dict[str, Any]:
        return {k: params[k] for k in ("fields", *keep) if params.get(k) not in (None, "")}

    def edge_of(
        self, path: str, items: Callable[[], list[dict[str, Any]]], render_with, node_type: str
    ) -> Callable[[Field], dict[str, Any]]:
        """A nested edge (`replies{...}`, `messages.limit(5){...}`) as a field value."""

        def build(f: Field) -> dict[str, Any]:
            spec = f.sub or [Field("id")]
            text = ",".join(_spec_text(s) for s in spec)
            return self.paged(
                items(),
                render=lambda obj: pick(render_with(obj), spec, node_type),
                path=path,
                query={"fields": text},
                limit=self.limit_of(f.args.get("limit"), self.page_size),
            )

        return build

    # -- conversations and the Send API ------------------------------------------------------

    def conversation_with(self, person: Person, *, create: bool = True) -> dict[str, Any] | None:
        party = self.party(person)
        for conv in self.conversations.values():
            if conv["user"]["id"] == party["id"]:
                return conv
        if not create:
            return None
        conv = {
            "id": self.conversation_id(),
            "user": party,
            "person": person,
            "messages": [],
            "updated": 0,
            "seq": 0,
        }
        self.conversations[conv["id"]] = conv
        return conv

    def add_message(
        self, conv: dict[str, Any], text: str, *, outbound: bool, created: int | None = None
    ) -> dict[str, Any]:
        created = self.now() if created is None else created
        sender, receiver = (self.own_party(), conv["user"])
        if not outbound:
            sender, receiver = receiver, sender
        message = {
            "id": self.message_id(),
            "from": sender,
            "to": receiver,
            "message": text,
            "created": created,
            "seq": self.next_seq(),
            "outbound": outbound,
        }
        conv["messages"].append(message)
        conv["updated"], conv["seq"] = max(conv["updated"], created), message["seq"]
        return message

    def render_message(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": message["id"],
            "message": message["message"],
            "from": message["from"],
            "to": {"data": [message["to"]]},
            "created_time": fmt(message["created"]),
        }

    def messages_of(self, conv: dict[str, Any]) -> list[dict[str, Any]]:
        return sorted(conv["messages"], key=key_of, reverse=True)

    def render_conversation(self, conv: dict[str, Any]) -> dict[str, Any]:
        last = self.messages_of(conv)
        return {
            "id": conv["id"],
            "updated_time": fmt(conv["updated"]),
            "message_count": len(conv["messages"]),
            "unread_count": 0,
            "snippet": last[0]["message"][:100] if last else "",
            "participants": {"data": [conv["user"], self.own_party()]},
            "can_reply": True,
            "messages": self.edge_of(
                f"{conv['id']}/messages",
                lambda: self.messages_of(conv),
                self.render_message,
                "Message",
            ),
        }

    def handle_messaging(
        self, method: str, node: str, edge: str | None, params: dict[str, Any]
    ) -> Any:
        """Conversations and Send API calls on the account nodes; None when not one."""
        if node in self.inbox_nodes and edge == "conversations" and method == "GET":
            if params.get("platform", "messenger").lower() != self.platform:
                return {"data": []}
            convs = [c for c in self.conversations.values() if c["messages"]]
            if params.get("user_id"):
                convs = [c for c in convs if c["user"]["id"] == str(params["user_id"])]
            convs.sort(key=lambda c: (c["updated"], c["seq"]), reverse=True)
            wanted = parse_fields(params.get("fields"), "id,updated_time")
            ordered = [{"created": c["updated"], "seq": c["seq"], "conv": c} for c in convs]
            return self.paged(
                ordered,
                render=lambda row: pick(
                    self.render_conversation(row["conv"]), wanted, "Conversation"
                ),
                path=f"{node}/conversations",
                query=self.list_query(params, "platform", "user_id"),
                limit=self.limit_of(params.get("limit")),
                after=params.get("after"),
            )
        if node in self.inbox_nodes and edge == "messages" and method == "POST":
            return self.send(params)
        if node in self.conversations:
            conv = self.conversations[node]
            if edge is None and method == "GET":
                wanted = parse_fields(params.get("fields"), "id,updated_time")
                return pick(self.render_conversation(conv), wanted, "Conversation")
            if edge == "messages" and method == "GET":
                wanted = parse_fields(params.get("fields"), "id,created_time")
                return self.paged(
                    self.messages_of(conv),
                    render=lambda m: pick(self.render_message(m), wanted, "Message"),
                    path=f"{node}/messages",
                    query=self.list_query(params),
                    limit=self.limit_of(params.get("limit")),
                    after=params.get("after"),
                )
            raise unknown_path(edge or "")
        return None

    def send(self, params: dict[str, Any]) -> dict[str, Any]:
        """The Send API."""
        recipient, message = params.get("recipient"), params.get("message")
        if not isinstance(recipient, dict) or not recipient:
            raise GraphError("(#100) param recipient must be non-empty.", 100)
        if not isinstance(message, dict) or not str(message.get("text") or "").strip():
            raise GraphError("(#100) param message must be non-empty.", 100)
        text = str(message["text"])
        if recipient.get("comment_id"):
            comment = self.comments.get(str(recipient["comment_id"]))
            if comment is None or comment.get("deleted"):
                raise not_found(str(recipient["comment_id"]), "POST")
            if comment.get("private_replied"):
                raise GraphError("(#10900) Activity already replied to", 10900)
            too_old = self.now() - comment["created"] > PRIVATE_REPLY_WINDOW
            if comment.get("person") is None or too_old:
                raise GraphError("(#10903) This user cant reply to this activity", 10903)
            comment["private_replied"] = True
            conv = self.conversation_with(comment["person"])
        else:
            conv = next(
                (
                    c
                    for c in self.conversations.values()
                    if c["user"]["id"] == str(recipient.get("id"))
                ),
                None,
            )
            if conv is None:
                raise GraphError("(#100) No matching user found", 100, subcode=2018001)
            kind = params.get("messaging_type")
            if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
                raise GraphError(
                    "(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}",
                    100,
                )
            last_in = max((m["created"] for m in conv["messages"] if not m["outbound"]), default=0)
            age = self.now() - last_in
            tagged = kind == "MESSAGE_TAG" and params.get("tag") == "HUMAN_AGENT"
            if age > (HUMAN_AGENT_WINDOW if tagged else STANDARD_WINDOW):
                raise GraphError(
                    "(#10) This message is sent outside of allowed window. Learn more about the "
                    "new policy here: https://developers.facebook.com/docs/messenger-platform/"
                    "policy-overview",
                    10,
                    subcode=2018278,
                )
        sent = self.add_message(conv, text, outbound=True)
        return {"recipient_id": conv["user"]["id"], "message_id": sent["id"]}

    def new_dm(self, *, age: float = 0, person: Person | None = None) -> dict[str, Any]:
        """A person writes to the account (a follow-up in an existing chat half the time)."""
        traffic = self.traffic
        existing = [c for c in self.conversations.values() if not c["person"].bot]
        if person is None and existing and traffic.rng.random() < 0.5:
            conv = traffic.rng.choice(existing)
            text = traffic.message(tone="followup", author=conv["person"]).text
        else:
            msg = traffic.message(author=person)
            conv = self.conversation_with(msg.author)
            text = msg.text
        return self.add_message(conv, text, outbound=False, created=int(self.now() - age))

    def messaging_event(self, message: dict[str, Any]) -> dict[str, Any]:
        """A `messaging[]` webhook event for a message."""
        return {
            "sender": {"id": message["from"]["id"]},
            "recipient": {"id": message["to"]["id"]},
            "timestamp": message["created"] * 1000,
            "message": {"mid": message["id"], "text": message["message"]},
        }

    @staticmethod
    def body_of(payload: dict[str, Any]) -> bytes:
        """A webhook body as Meta writes it (ASCII, non-ASCII as \\u escapes)."""
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


def _spec_text(f: Field) -> str:
    text = f.name + "".join(f".{k}({v})" for k, v in f.args.items())
    if f.sub:
        text += "{" + ",".join(_spec_text(s) for s in f.sub) + "}"
    return text
