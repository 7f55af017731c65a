"""E-mail channel: pull a mailbox over IMAP, answer over SMTP.

Contract (platform-apis.md §7), checked against a real Dovecot 2.3 and an aiosmtpd listener in
tests/connectors/test_email.py:

- Incremental sync by (UIDVALIDITY, UID) (RFC 3501 §2.3.1.1): the mailbox is opened read-only
  (`EXAMINE`), new UIDs found with `UID SEARCH UID n:*` (which always answers the highest UID,
  even below n, so the answer is filtered), fetched with `BODY.PEEK[]` so nothing is marked
  \\Seen. A changed UIDVALIDITY restarts from the first message; the items keep their
  Message-ID as external id, so ingest's (channel, external_id) dedupe drops what it already has.
- Threading (RFC 5322 §3.6.4): thread id = the first id of `References`, else `In-Reply-To`,
  else the message's own Message-ID; parent id = `In-Reply-To`.
- Replies go out over SMTP (implicit TLS, STARTTLS or plain) with `In-Reply-To`, `References`
  and a new Message-ID, which is the id we return; a copy can be appended to a Sent mailbox.
- Errors: IMAP `NO [AUTHENTICATIONFAILED]` and SMTP 535 → AuthExpired; refused connections and
  timeouts → Transient; SMTP 4xx → Transient; other SMTP 5xx → NotAllowed with the server's text.

Assumed, not verified against a vendor: XOAUTH2 (Gmail, Microsoft) is not offered, only a
password (an app password works with both); "hide", "delete" and "like" (flags and moves) are
not offered yet, so a CM cannot lose a customer's mail from this inbox.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import imaplib
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, make_msgid, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from connectors import register
from connectors.base import (
    MAX_BODY_CHARS,
    AuthExpired,
    Author,
    Batch,
    Connector,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    Target,
    Transient,
)

log = logging.getLogger(__name__)

TIMEOUT = 30  # seconds, for every IMAP and SMTP socket operation
MAX_MESSAGE_BYTES = 5_000_000  # larger mails are read by their headers only
MAX_REFERENCES = 20
MAX_ID = 255
MAX_SUBJECT = 300
MAX_IMAP_LINE = 16_000_000  # imaplib stops at 1 MB; a big mailbox's UID SEARCH answer is longer
AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply"}
SECURITY_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}

_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|réf|ref)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"^\s*(on\s.+\swrote|le\s.+\sa\s+écrit|el\s.+\sescribió|am\s.+\sschrieb)\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|message d'origine|message original)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\s*\*?(from|de)\s*:\*?\s.+", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(sent|envoyé|date|to|à)\s*:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_FETCH_DATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class EmailConfig(Schema):
    class Meta:
        unknown = RAISE

    imap_host = fields.String(required=True, validate=validate.Length(1, 255))
    imap_port = fields.Integer(load_default=None, validate=validate.Range(1, 65535))
    imap_ssl = fields.Boolean(load_default=True)
    username = fields.String(required=True, validate=validate.Length(1, 255))
    password = fields.String(
        required=True, validate=validate.Length(1, 1000), metadata={"secret": True}
    )
    mailbox = fields.String(load_default="INBOX", validate=validate.Length(1, 255))
    smtp_host = fields.String(required=True, validate=validate.Length(1, 255))
    smtp_port = fields.Integer(load_default=None, validate=validate.Range(1, 65535))
    smtp_security = fields.String(
        load_default="starttls", validate=validate.OneOf(tuple(SECURITY_PORTS))
    )
    smtp_username = fields.String(load_default=None, validate=validate.Length(1, 255))
    smtp_password = fields.String(
        load_default=None, validate=validate.Length(1, 1000), metadata={"secret": True}
    )
    from_address = fields.Email(load_default=None)
    from_name = fields.String(load_default=None, validate=validate.Length(max=200))
    sent_mailbox = fields.String(load_default=None, validate=validate.Length(1, 255))
    batch_size = fields.Integer(load_default=50, validate=validate.Range(1, 500))

    @validates_schema
    def _one_line_and_sender(self, data: dict, **kwargs: Any) -> None:
        for name in ("from_name", "username", "smtp_username", "mailbox", "sent_mailbox"):
            value = data.get(name) or ""
            if any(char in value for char in "\r\n\0"):
                raise ValidationError("must be one line of text", name)
        if not data.get("from_address"):
            try:
                fields.Email().deserialize(data.get("username") or "")
            except ValidationError:
                raise ValidationError(
                    "required when the username is not an e-mail address", "from_address"
                ) from None


@dataclass(frozen=True)
class _Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None
    complete: bool  # False when only the header was read (message too large)


@register
class EmailConnector(Connector):
    type = "email"
    label = "E-mail"
    capabilities = frozenset({"reply"})
    config_schema = EmailConfig
    polls = True

    # -- settings with their defaults ---------------------------------------------------------

    @property
    def mailbox(self) -> str:
        return self.config.get("mailbox") or "INBOX"

    @property
    def from_address(self) -> str:
        return (self.config.get("from_address") or self.config["username"]).strip()

    def _own_addresses(self) -> set[str]:
        """The addresses our own mail comes from (outbound echoes)."""
        own = {self.from_address.lower()}
        if "@" in self.config["username"]:
            own.add(self.config["username"].strip().lower())
        return own

    @property
    def batch_size(self) -> int:
        return int(self.config.get("batch_size") or 50)

    # -- check -----------------------------------------------------------------------------------

    def check(self) -> str:
        """Log in to IMAP and open the mailbox, then log in to SMTP (nothing is sent)."""
        with self._imap() as conn:
            _, exists = self._examine(conn)
        with self._smtp():
            pass
        return f"Connected to {self.config['username']} ({exists} messages in {self.mailbox})"

    # -- pull ------------------------------------------------------------------------------------

    def pull(self, cursor: Any) -> Batch:
        """One step of the sync: at most `batch_size` new messages, oldest first.

        The cursor is {mailbox, uidvalidity, last_uid, sync}: `last_uid` is where the last
        finished sync stopped; `sync` = {after, until} is the sync in progress (UIDs up to
        `until`, the highest one when it began, and `after`, the last one delivered).
        """
        state = _read_cursor(cursor, self.mailbox)
        with self._imap() as conn:
            uidvalidity, exists = self._examine(conn)
            if state["uidvalidity"] != uidvalidity:
                if state["uidvalidity"] is not None:
                    log.info("%s: UIDVALIDITY changed, reading it again", self.mailbox)
                state = {"uidvalidity": uidvalidity, "last_uid": 0, "sync": None}
            sync = state["sync"]
            if sync is None:
                after = state["last_uid"]
                uids = self._search(conn, after, None) if exists else []
                until = uids[-1] if uids else after
            else:
                after, until = sync["after"], sync["until"]
                uids = self._search(conn, after, until)
            chunk, rest = uids[: self.batch_size], uids[self.batch_size :]
            fetched = self._fetch(conn, chunk)
        items, seen = [], set()
        for message in fetched:
            item = self._parse(message)
            if item is not None and item.external_id not in seen:
                seen.add(item.external_id)
                items.append(item)
        base = {"mailbox": self.mailbox, "uidvalidity": uidvalidity}
        if rest:
            progress = {"after": chunk[-1], "until": until}
            return Batch(items, base | {"last_uid": state["last_uid"], "sync": progress}, True)
        return Batch(items, base | {"last_uid": until, "sync": None}, False)

    def _search(self, conn: imaplib.IMAP4, after: int, until: int | None) -> list[int]:
        upper = "*" if until is None else str(until)
        typ, data = conn.uid("SEARCH", "UID", f"{after + 1}:{upper}")
        _expect_ok(typ, data, "search the mailbox")
        found = sorted({int(n) for line in data if line for n in line.split()})
        # `n:*` always names the highest UID, and `a:b` with a > b means b:a: keep the new ones
        return [uid for uid in found if uid > after and (until is None or uid <= until)]

    def _fetch(self, conn: imaplib.IMAP4, uids: list[int]) -> list[_Fetched]:
        if not uids:
            return []
        wanted = set(uids)
        typ, data = conn.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE)")
        _expect_ok(typ, data, "read the message sizes")
        sizes = {uid: size for uid, size, _date, _raw in _fetch_records(data) if uid in wanted}
        small = [uid for uid in uids if sizes.get(uid, 0) <= MAX_MESSAGE_BYTES]
        large = [uid for uid in uids if sizes.get(uid, 0) > MAX_MESSAGE_BYTES]
        out: dict[int, _Fetched] = {}
        for group, section, complete in (
            (small, "BODY.PEEK[]", True),
            (large, "BODY.PEEK[HEADER]", False),
        ):
            if not group:
                continue
            typ, data = conn.uid("FETCH", _uid_set(group), f"(UID INTERNALDATE {section})")
            _expect_ok(typ, data, "fetch the messages")
            for uid, _size, date, raw in _fetch_records(data):
                if uid in wanted and raw is not None:
                    out[uid] = _Fetched(uid, raw, date, complete)
        return [out[uid] for uid in uids if uid in out]

    # -- parse -----------------------------------------------------------------------------------

    def _parse(self, fetched: _Fetched) -> NormalizedItem | None:
        """One fetched message as our item; None for auto-replies (RFC 3834) and bulk mail."""
        try:
            return self._read(fetched)
        except Exception:  # one unreadable mail must not stop the mailbox
            log.exception("%s: message UID %s could not be read", self.mailbox, fetched.uid)
        digest = hashlib.sha256(fetched.raw).hexdigest()[:40]
        return NormalizedItem(
            external_id=f"sha256-{digest}@unreadable.invalid",
            kind="email",
            author=Author(id="unknown@no-sender.invalid"),
            created_at=fetched.internal_date or datetime.now(UTC).replace(microsecond=0),
            body="(This message could not be read: open it in your mail client.)",
        )

    def _read(self, fetched: _Fetched) -> NormalizedItem | None:
        msg = BytesParser(policy=policy.default).parsebytes(fetched.raw)
        auto = _header(msg, "Auto-Submitted").split(";")[0].strip().lower()
        precedence = _header(msg, "Precedence").strip().lower()
        if (auto and auto != "no") or precedence in AUTO_PRECEDENCE:
            return None
        name, address = _sender(msg)
        own_id = normalize_msgid(_header(msg, "Message-ID"))
        references = [normalize_msgid(r) for r in _ANGLE_ID.findall(_header(msg, "References"))]
        references = [r for r in references if r]
        in_reply_to = normalize_msgid(_header(msg, "In-Reply-To"))
        parent = in_reply_to or (references[-1] if references else None)
        if fetched.complete:
            body = message_text(msg)
        else:
            body = "(This message is too large to show here: open it in your mail client.)"
        external_id = own_id or _synthetic_id(msg, body)
        return NormalizedItem(
            external_id=external_id,
            kind="email",
            author=Author(id=address[:MAX_ID], handle=address[:MAX_ID], name=name),
            created_at=_created_at(msg, fetched.internal_date),
            body=body,
            thread_id=(references[0] if references else None) or in_reply_to or external_id,
            parent_id=parent if parent != external_id else None,
            subject=_one_line(_header(msg, "Subject"))[:MAX_SUBJECT] or None,
            outbound=address in self._own_addresses(),
        )

    # -- reply -----------------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        """Send the answer by SMTP, threaded under the target mail; return its Message-ID."""
        self.require("reply")
        original = self._lookup(target.external_id)
        recipient = (original or {}).get("reply_to") or (original or {}).get("from")
        if recipient is None:
            address = (target.author_id or "").strip()
            if "@" not in address or any(c in address for c in "\r\n<>,; "):
                raise NotAllowed("This e-mail has no sender address to answer to.")
            recipient = Address(addr_spec=address)
        subject = (original or {}).get("subject") or target.subject or ""
        references = _reply_references(target, original)
        domain = self.from_address.rpartition("@")[2] or "localhost"
        message_id = make_msgid(domain=domain)
        msg = EmailMessage()
        msg["From"] = Address(self.config.get("from_name") or "", addr_spec=self.from_address)
        msg["To"] = recipient
        msg["Subject"] = reply_subject(subject)
        msg["Date"] = format_datetime(datetime.now(UTC).replace(microsecond=0))
        msg["Message-ID"] = message_id
        if _is_real_id(target.external_id):
            msg["In-Reply-To"] = f"<{target.external_id}>"
        if references:
            msg["References"] = " ".join(f"<{ref}>" for ref in references)
        msg.set_content(text)
        with self._smtp() as smtp:
            try:
                smtp.send_message(msg, from_addr=self.from_address, to_addrs=[recipient.addr_spec])
            except smtplib.SMTPRecipientsRefused as exc:
                code, answer = next(iter(exc.recipients.values()))
                raise _smtp_error(code, answer, "refused the recipient") from exc
            except smtplib.SMTPResponseException as exc:
                raise _smtp_error(exc.smtp_code, exc.smtp_error, "refused the reply") from exc
            except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address, no SMTPUTF8
                raise NotAllowed(f"The mail server cannot send this reply: {exc}") from exc
            except (smtplib.SMTPException, OSError) as exc:
                raise Transient(f"The mail server dropped the connection: {exc}") from exc
        self._keep_sent_copy(msg)
        return normalize_msgid(message_id) or message_id

    def _lookup(self, message_id: str) -> dict[str, Any] | None:
        """The target mail's own headers (best effort: None when it cannot be found)."""
        if not _is_real_id(message_id) or '"' in message_id or "\\" in message_id:
            return None
        try:
            with self._imap() as conn:
                self._examine(conn)
                typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", f'"<{message_id}>"')
                uids = [int(n) for line in data if line for n in line.split()]
                if typ != "OK" or not uids:
                    return None
                fields_ = "(MESSAGE-ID SUBJECT FROM REPLY-TO REFERENCES IN-REPLY-TO)"
                typ, data = conn.uid(
                    "FETCH", str(uids[-1]), f"(UID BODY.PEEK[HEADER.FIELDS {fields_}])"
                )
        except (AuthExpired, Transient, PermissionDenied, NotAllowed) as exc:
            log.info("could not look the replied mail up, threading from the ticket: %s", exc)
            return None
        records = [raw for _uid, _size, _date, raw in _fetch_records(data) if raw]
        if typ != "OK" or not records:
            return None
        msg = BytesParser(policy=policy.default).parsebytes(records[0])
        references = [normalize_msgid(r) for r in _ANGLE_ID.findall(_header(msg, "References"))]
        return {
            "subject": _one_line(_header(msg, "Subject")),
            "from": _first_address(msg, "From"),
            "reply_to": _first_address(msg, "Reply-To"),
            "references": [r for r in references if r],
            "in_reply_to": normalize_msgid(_header(msg, "In-Reply-To")),
        }

    def _keep_sent_copy(self, msg: EmailMessage) -> None:
        """APPEND the sent mail to the Sent mailbox; never fails the (already sent) reply."""
        sent = self.config.get("sent_mailbox")
        if not sent:
            return
        try:
            with self._imap() as conn:
                typ, data = conn.append(
                    _mailbox_arg(sent), r"(\Seen)", None, msg.as_bytes(policy=policy.SMTP)
                )
            if typ != "OK":
                log.warning("could not keep a copy in %s: %s", sent, _text(data))
        except Exception as exc:  # the mail is gone: a failed copy must not resend it
            log.warning("could not keep a copy in %s: %s", sent, exc)

    # -- connections -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _imap(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in IMAP connection; every failure becomes one of our errors."""
        host = self.config["imap_host"]
        use_ssl = self.config.get("imap_ssl", True)
        port = self.config.get("imap_port") or (993 if use_ssl else 143)
        conn, broken = None, False
        try:
            if use_ssl:
                conn = _IMAP4_SSL(host, port, ssl_context=_tls(), timeout=TIMEOUT)
            else:
                conn = _IMAP4(host, port, timeout=TIMEOUT)
                if "STARTTLS" in conn.capabilities:
                    conn.starttls(ssl_context=_tls())
            self._login(conn)
            yield conn
        except imaplib.IMAP4.abort as exc:
            broken = True
            raise Transient(f"The IMAP server closed the connection: {_text(exc.args)}") from exc
        except imaplib.IMAP4.error as exc:
            raise Transient(f"The IMAP server answered with an error: {_text(exc.args)}") from exc
        except ssl.SSLCertVerificationError as exc:
            broken = True
            raise Transient(
                f"The IMAP server's TLS certificate could not be verified: {exc.verify_message}"
            ) from exc
        except (OSError, EOFError) as exc:
            broken = True
            raise Transient(
                f"Cannot reach the IMAP server {host}:{port}: {_os_reason(exc)}"
            ) from exc
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    # a dead or silent server would make LOGOUT wait for the whole timeout
                    conn.shutdown() if broken else conn.logout()

    def _login(self, conn: imaplib.IMAP4) -> None:
        user, password = self.config["username"], self.config["password"]
        try:
            if "AUTH=PLAIN" in conn.capabilities:
                conn.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
            elif "LOGINDISABLED" in conn.capabilities:
                raise AuthExpired(
                    "The IMAP server refuses to log in without encryption: turn on imap_ssl."
                )
            else:
                conn.login(user, password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            answer = _text(exc.args)
            if any(code in answer for code in ("[UNAVAILABLE]", "[INUSE]", "[LIMIT]")):
                raise Transient(f"The IMAP server cannot log in right now: {answer}") from exc
            raise AuthExpired(f"The IMAP server refused the login for {user}: {answer}") from exc
        except UnicodeEncodeError as exc:
            raise AuthExpired(
                "This IMAP server only accepts plain ASCII user names and passwords."
            ) from exc

    def _examine(self, conn: imaplib.IMAP4) -> tuple[int, int]:
        """Open the mailbox read-only; return (UIDVALIDITY, message count)."""
        typ, data = conn.select(_mailbox_arg(self.mailbox), readonly=True)
        if typ != "OK":
            raise PermissionDenied(f"The mailbox {self.mailbox!r} cannot be opened: {_text(data)}")
        _, validity = conn.response("UIDVALIDITY")
        try:
            uidvalidity = int(validity[-1])
            exists = int(data[-1])
        except (TypeError, ValueError, IndexError) as exc:
            raise Transient("The IMAP server did not say the mailbox's UIDVALIDITY.") from exc
        return uidvalidity, exists

    @contextlib.contextmanager
    def _smtp(self) -> Iterator[smtplib.SMTP]:
        """A connected SMTP session, encrypted as configured and logged in when offered."""
        host = self.config["smtp_host"]
        security = self.config.get("smtp_security") or "starttls"
        port = self.config.get("smtp_port") or SECURITY_PORTS[security]
        helo = self.from_address.rpartition("@")[2] or "localhost"
        smtp = None
        try:
            if security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    host, port, local_hostname=helo, timeout=TIMEOUT, context=_tls()
                )
            else:
                smtp = smtplib.SMTP(host, port, local_hostname=helo, timeout=TIMEOUT)
            smtp.ehlo()
            if security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise NotAllowed(
                        f"The mail server {host} does not offer STARTTLS: "
                        "choose another smtp_security."
                    )
                smtp.starttls(context=_tls())
                smtp.ehlo()
            if smtp.has_extn("auth"):
                smtp.login(
                    self.config.get("smtp_username") or self.config["username"],
                    self.config.get("smtp_password") or self.config["password"],
                )
        except smtplib.SMTPAuthenticationError as exc:
            _quit(smtp)
            raise AuthExpired(
                f"The mail server refused the login: {exc.smtp_code} {_text([exc.smtp_error])}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            _quit(smtp)
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "refused the session") from exc
        except ssl.SSLCertVerificationError as exc:
            _quit(smtp)
            raise Transient(
                f"The mail server's TLS certificate could not be verified: {exc.verify_message}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _quit(smtp)
            raise Transient(
                f"Cannot reach the mail server {host}:{port}: {_os_reason(exc)}"
            ) from exc
        except BaseException:
            _quit(smtp)
            raise
        try:
            yield smtp
        finally:
            _quit(smtp)


# -- IMAP plumbing -----------------------------------------------------------------------------


class _LongLines:
    def readline(self) -> bytes:
        line = self.file.readline(MAX_IMAP_LINE + 1)
        if len(line) > MAX_IMAP_LINE:
            raise self.error(f"got more than {MAX_IMAP_LINE} bytes")
        return line


class _IMAP4(_LongLines, imaplib.IMAP4):
    pass


class _IMAP4_SSL(_LongLines, imaplib.IMAP4_SSL):
    pass


def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _mailbox_arg(name: str) -> str:
    """A mailbox name as an IMAP quoted string, in modified UTF-7 (RFC 3501 §5.1.3)."""
    encoded = _utf7_imap(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _utf7_imap(name: str) -> str:
    out, pending = [], []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _uid_set(uids: list[int]) -> str:
    """A compact UID set: 1:3,7,9:10."""
    ranges, start, prev = [], None, None
    for uid in sorted(uids):
        if start is None:
            start = prev = uid
        elif uid == prev + 1:
            prev = uid
        else:
            ranges.append(f"{start}:{prev}" if start != prev else str(start))
            start = prev = uid
    if start is not None:
        ranges.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(ranges)


def _fetch_records(data: list) -> Iterator[tuple[int, int | None, datetime | None, bytes | None]]:
    """(uid, size, internal date, literal) per FETCH response, in whatever order items came."""
    records: list[list] = []
    tail_of = None  # imaplib hands the rest of a response after its literal as the next part
    for part in data:
        if isinstance(part, tuple):
            records.append([part[0], part[1]])
            tail_of = records[-1]
        elif isinstance(part, bytes) and tail_of is not None:
            tail_of[0] += part
            tail_of = None
        elif isinstance(part, bytes):
            records.append([part, None])
    for meta, literal in records:
        uid = _FETCH_UID.search(meta)
        if uid is None:
            continue  # an unsolicited FETCH (flags of another message)
        size = _FETCH_SIZE.search(meta)
        date = _FETCH_DATE.search(meta)
        yield (
            int(uid.group(1)),
            int(size.group(1)) if size else None,
            _internal_date(date.group(1).decode()) if date else None,
            literal,
        )


def _internal_date(value: str) -> datetime | None:
    """An IMAP INTERNALDATE ("17-Jul-1996 02:44:25 -0700"), locale-independent."""
    found = re.fullmatch(
        r"\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", value
    )
    if not found or found.group(2).title() not in MONTHS:
        return None
    day, month, year, hh, mm, ss, sign, oh, om = found.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    try:
        local = datetime(int(year), MONTHS[month.title()], int(day), int(hh), int(mm), int(ss))
    except ValueError:
        return None
    return (local - offset).replace(tzinfo=UTC)


def _expect_ok(typ: str, data: list, doing: str) -> None:
    if typ != "OK":
        raise Transient(f"The IMAP server could not {doing}: {_text(data)}")


def _text(parts: Any) -> str:
    """Server answers (bytes, str or lists of them) as one readable string."""
    if isinstance(parts, bytes | str):
        parts = [parts]
    out = []
    for part in parts or ():
        if isinstance(part, tuple):
            part = part[0]
        out.append(part.decode("utf-8", "replace") if isinstance(part, bytes) else str(part))
    return " ".join(out).strip()


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    return str(exc) or type(exc).__name__


def _read_cursor(cursor: Any, mailbox: str) -> dict[str, Any]:
    """Our cursor, or a fresh one when it is absent, for another mailbox, or malformed."""
    fresh = {"uidvalidity": None, "last_uid": 0, "sync": None}
    if not isinstance(cursor, dict) or cursor.get("mailbox") != mailbox:
        return fresh
    validity, last = cursor.get("uidvalidity"), cursor.get("last_uid")
    if not isinstance(validity, int) or not isinstance(last, int) or last < 0:
        return fresh
    sync = cursor.get("sync")
    if sync is not None:
        ok = isinstance(sync, dict) and all(
            isinstance(sync.get(k), int) for k in ("after", "until")
        )
        sync = {"after": sync["after"], "until": sync["until"]} if ok else None
    return {"uidvalidity": validity, "last_uid": last, "sync": sync}


# -- SMTP plumbing -----------------------------------------------------------------------------


def _smtp_error(code: int, answer: Any, what: str) -> Exception:
    text = f"{code} {_text([answer])}".strip()
    if code in (530, 534, 535):
        return AuthExpired(f"The mail server refused the login: {text}")
    if 400 <= code < 500:
        return Transient(f"The mail server {what} for now: {text}")
    return NotAllowed(f"The mail server {what}: {text}")


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except Exception:
        with contextlib.suppress(Exception):
            smtp.close()


# -- message reading ---------------------------------------------------------------------------


def normalize_msgid(value: str | None) -> str | None:
    """A Message-ID without its angle brackets; ids over 255 characters become a digest."""
    if not value:
        return None
    found = _ANGLE_ID.search(value)
    ident = found.group(1) if found else (value.split() or [""])[0].strip("<>")
    if not ident:
        return None
    if len(ident) > MAX_ID:
        return "sha256-" + hashlib.sha256(ident.encode()).hexdigest() + "@long-id.invalid"
    return ident


def _is_real_id(ident: str | None) -> bool:
    return bool(ident) and "@" in ident and not ident.endswith(".invalid")


def _synthetic_id(msg: EmailMessage, body: str) -> str:
    """A stable id for a mail without Message-ID (same mail, same id, in any mailbox)."""
    parts = [_header(msg, name) for name in ("From", "Date", "Subject", "To")] + [body]
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()
    return f"sha256-{digest[:40]}@no-message-id.invalid"


def _header(msg: EmailMessage, name: str) -> str:
    """A header decoded to text, or '' (malformed headers fall back to their raw text)."""
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                return str(raw)
        return ""


def _first_address(msg: EmailMessage, name: str) -> Address | None:
    try:
        header = msg.get(name)
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        for address in addresses:
            if address.addr_spec and "@" in address.addr_spec:
                return Address(address.display_name or "", addr_spec=address.addr_spec)
    except Exception:
        pass
    for display, addr in getaddresses([_header(msg, name)]):
        if "@" in addr:
            with contextlib.suppress(Exception):
                return Address(display or "", addr_spec=addr)
    return None


def _sender(msg: EmailMessage) -> tuple[str | None, str]:
    """(display name, lower-cased address) of the author: From, else Sender, else unknown."""
    for name in ("From", "Sender", "Return-Path"):
        address = _first_address(msg, name)
        if address is not None:
            display = _one_line(address.display_name)[:MAX_ID] or None
            return display, address.addr_spec.strip().lower()
    return None, "unknown@no-sender.invalid"


def _created_at(msg: EmailMessage, internal: datetime | None) -> datetime:
    """The Date header in UTC; the server's arrival time when it is missing or absurd."""
    written = None
    raw = _header(msg, "Date")
    if raw:
        try:
            written = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            written = None
    if written is not None:
        written = written.replace(tzinfo=UTC) if written.tzinfo is None else written.astimezone(UTC)
    reference = internal or datetime.now(UTC)
    if written is None or written > reference + timedelta(days=1):
        return internal or datetime.now(UTC).replace(microsecond=0)
    return written


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def message_text(msg: EmailMessage) -> str:
    """The readable text of a mail: text/plain, else its HTML made plain, quotes trimmed."""
    text, html = None, False
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is not None:
        html = part.get_content_subtype() == "html"
        text = _part_text(part)
    if text is not None and html:
        text = html_to_text(text)
    text = strip_quoted_tail(_clean(text or ""))
    names = []
    for part in msg.walk():
        if part.is_attachment():
            name = _one_line(part.get_filename() or "") or part.get_content_type()
            names.append(f"[attachment: {name}]")
    if names:
        text = (text + "\n\n" if text else "") + "\n".join(names)
    return text[:MAX_BODY_CHARS]


def _part_text(part: EmailMessage) -> str | None:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, KeyError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _clean(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted_tail(text: str) -> str:
    """Drop a reply's trailing quote: "> …" lines, their "On … wrote:" line, Outlook headers."""
    lines = text.split("\n")
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    if end < len(lines) and any(line.lstrip().startswith(">") for line in lines[end:]):
        for span in (1, 2, 3):  # the attribution line, wrapped on up to three lines
            if end - span >= 0 and _ATTRIBUTION.match(" ".join(lines[end - span : end])):
                end -= span
                break
    else:
        end = len(lines)
    for index, line in enumerate(lines[:end]):
        if _SEPARATOR.match(line) or (
            _HEADER_BLOCK.match(line)
            and any(_HEADER_NEXT.match(next_) for next_ in lines[index + 1 : index + 4])
        ):
            end = index
            break
    kept = "\n".join(lines[:end]).strip()
    return kept or text.strip()


class _HtmlText(HTMLParser):
    """HTML to plain text: scripts, styles and other non-content dropped, blocks on lines."""

    SKIP = frozenset(
        "script style head title template noscript iframe object embed svg math select"
        " textarea button".split()
    )
    BLOCK = frozenset(
        "p div tr table ul ol li h1 h2 h3 h4 h5 h6 section article header footer hr pre"
        " blockquote dl dt dd address center form fieldset".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "br":
            self._break()
        elif tag in self.BLOCK:
            self._break(paragraph=tag in ("p", "table", "blockquote"))
            if tag == "blockquote":
                self.quote += 1
            elif tag == "li":
                self.current.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self._break(paragraph=tag in ("p", "table", "blockquote"))
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)

    def _break(self, paragraph: bool = False) -> None:
        text = " ".join("".join(self.current).split())
        self.current = []
        if text:
            self.lines.append("> " * self.quote + text)
        if paragraph and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        self.close()
        self._break()
        return "\n".join(self.lines).strip()


def html_to_text(html: str) -> str:
    """Plain text of an HTML mail: visible text only, no markup, scripts or styles."""
    parser = _HtmlText()
    with contextlib.suppress(AssertionError, ValueError):  # broken markup: keep what was read
        parser.feed(html)
    return parser.text()


# -- reply headers -----------------------------------------------------------------------------


def reply_subject(subject: str) -> str:
    """ "Re: " and the subject without its own "Re:" prefixes (never "Re: Re:")."""
    bare = _RE_PREFIX.sub("", _one_line(subject)).strip()
    return f"Re: {bare}" if bare else "Re: your message"


def _reply_references(target: Target, original: dict[str, Any] | None) -> list[str]:
    """References for the reply: the target's own chain then the target (RFC 5322 §3.6.4)."""
    if original is not None:
        chain = original["references"] or (
            [original["in_reply_to"]] if original["in_reply_to"] else []
        )
    else:
        chain = [target.thread_id] if target.thread_id else []
    refs = [ref for ref in [*chain, target.external_id] if _is_real_id(ref)]
    refs = list(dict.fromkeys(refs))
    if len(refs) > MAX_REFERENCES:  # keep the root and the most recent ones
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
    return refs
