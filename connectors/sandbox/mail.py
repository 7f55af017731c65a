"""Real mail servers for the e-mail connector's tests: a throwaway Dovecot and an SMTP sink.

E-mail is not HTTP, so there is no simulator: the tests talk to real servers on loopback.

`Dovecot` starts Debian's `dovecot` (package `dovecot-imapd`) in the foreground with a config
written into a temporary directory: IMAP only, on a free 127.0.0.1 port, no TLS, plain-text
login allowed (loopback only), users in a passwd-file, one Maildir per user. Traffic is seeded
the way mail really arrives in a mailbox, with IMAP `APPEND`.

Running as root (as on the CI machines): Dovecot refuses mail processes with UID 0
("userdb returned 0 as uid"), so the mail files belong to `nobody` (65534) and the temp
directory is opened (0755) for it. Login processes run as the package's `dovenull` account,
internal services as `dovecot`, and login is chrooted into the temp base_dir as usual.
Running as an ordinary user: every service and the mail files run as that user, with no
chroot and the internal group set to the user's own (Dovecot's non-root mode). Both modes are
exercised: the suite passes as root and as `nobody`.

Accounts are all written to the passwd-file before Dovecot starts (`new_account()` hands them
out) because Dovecot looks at that file at most once a second. The anvil auth-penalty socket is
turned off so that the tests' deliberate failed logins do not slow the next ones down.

`SmtpSink` is an `aiosmtpd` listener that requires AUTH (PLAIN/LOGIN without TLS, loopback
only) and records every message it accepts; `fail_next` makes it answer the next DATA with a
given SMTP reply, for the error mappings.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from connectors.sandbox.traffic import Message, Person, Traffic

DOVECOT_HINT = (
    "Dovecot is needed by the e-mail connector tests and is not installed: "
    "run `apt-get install -y dovecot-imapd` (./dev test and .ci/run install it)"
)
BRAND_ADDRESS = "support@maisonlumiere.example"
BRAND_NAME = "Maison Lumière"
DEFAULT_PASSWORD = "imap-sandbox-password-42"
CUSTOMER_DOMAINS = ("example.com", "example.fr", "example.org")
# services Dovecot 2.3 chroots by default (doveconf -d); only root can chroot
CHROOTED = ("imap-login", "anvil", "ipc", "old-stats", "aggregator", "director")

SUBJECTS = {
    "question": {"fr": "Question sur ma commande", "en": "Question about my order"},
    "complaint": {"fr": "Problème avec ma commande", "en": "Problem with my order"},
    "praise": {"fr": "Merci !", "en": "Thank you!"},
    "spam": {"fr": "Offre exclusive pour vous", "en": "Exclusive offer for you"},
}


class DovecotMissing(RuntimeError):
    """The `dovecot` binary is not on this machine."""


def dovecot_binary() -> str:
    """The path of the dovecot binary; DovecotMissing (with the install hint) otherwise."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise DovecotMissing(DOVECOT_HINT)
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def address_of(person: Person) -> str:
    """The e-mail address a traffic person writes from (reserved example domains)."""
    local = re.sub(r"[^a-z0-9._-]", "", person.handle.lower()) or f"user{person.id}"
    return f"{local}@{CUSTOMER_DOMAINS[int(person.id) % len(CUSTOMER_DOMAINS)]}"


def customer_mail(
    author: Person,
    text: str,
    *,
    subject: str,
    to: str = BRAND_ADDRESS,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    date: datetime | None = None,
    html: str | None = None,
) -> EmailMessage:
    """A mail as a customer's client writes it; ids are given without angle brackets."""
    msg = EmailMessage()
    msg["From"] = Address(author.name, addr_spec=address_of(author))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date) if date is not None else format_datetime_now()
    domain = address_of(author).rpartition("@")[2]
    msg["Message-ID"] = f"<{message_id}>" if message_id else make_msgid(domain=domain)
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{ref}>" for ref in references)
    if html is not None and not text:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    return msg


def format_datetime_now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def message_id_of(message: EmailMessage | bytes) -> str:
    """The Message-ID of a mail, without angle brackets."""
    if isinstance(message, bytes):
        message = BytesParser(policy=policy.default).parsebytes(message)
    return str(message["Message-ID"]).strip().strip("<>")


@dataclass
class MailUser:
    name: str
    password: str


class Dovecot:
    """A throwaway Dovecot IMAP server on a free loopback port (start/stop, or `with`)."""

    def __init__(self, *, seed: int | str = 0, accounts: int = 40):
        self.binary = dovecot_binary()
        self.traffic = Traffic(f"email:{seed}")
        self.root = Path(tempfile.mkdtemp(prefix="inbox-dovecot-"))
        self.port = free_port()
        self.host = "127.0.0.1"
        self.process: subprocess.Popen | None = None
        self._passwd = self.root / "users.passwd"
        self._log = self.root / "dovecot.log"
        self._conf = self.root / "dovecot.conf"
        self._handed_out: set[str] = set()
        names = [BRAND_ADDRESS] + [f"cm{n:02d}@maisonlumiere.example" for n in range(accounts)]
        self.users = {
            name: MailUser(name, f"{DEFAULT_PASSWORD}-{i}") for i, name in enumerate(names)
        }
        self.users[BRAND_ADDRESS].password = DEFAULT_PASSWORD

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Dovecot:
        uid, gid, internal, login, chroot = self._accounts()
        for sub in ("run", "state", "Maildir", "home"):
            (self.root / sub).mkdir()
        os.chmod(self.root, 0o755)
        for sub in ("Maildir", "home"):
            os.chown(self.root / sub, uid, gid)
        self._passwd.write_text(
            "".join(f"{u.name}:{{PLAIN}}{u.password}::::::\n" for u in self.users.values())
        )
        os.chmod(self._passwd, 0o644)
        self._conf.write_text(self._config(uid, gid, internal, login, chroot))
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self._conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def stop(self) -> None:
        """Stop Dovecot (the master stops its children) and remove the temp directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # its own session: the group is this master and the processes it started
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def log(self) -> str:
        """Dovecot's own log (startup errors, logins, failures)."""
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    def _accounts(self) -> tuple[int, int, str, str, bool]:
        """(mail uid, mail gid, internal user, login user, chroot logins) for this process."""
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid()).pw_name
            return os.geteuid(), os.getegid(), me, me, False

        def exists(name: str) -> bool:
            try:
                pwd.getpwnam(name)
            except KeyError:
                return False
            return True

        nobody = pwd.getpwnam("nobody")
        try:
            gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            gid = nobody.pw_gid
        internal = "dovecot" if exists("dovecot") else "nobody"
        login = "dovenull" if exists("dovenull") else "nobody"
        return nobody.pw_uid, gid, internal, login, True

    def _config(self, uid: int, gid: int, internal: str, login: str, chroot: bool) -> str:
        root = self.root
        # an unprivileged master cannot chroot: the services that chroot by default stop doing so
        unchrooted = (
            "" if chroot else "".join(f"service {name} {{\n  chroot =\n}}\n" for name in CHROOTED)
        )
        return f"""# written by connectors/sandbox/mail.py for one test run
base_dir = {root}/run
state_dir = {root}/state
log_path = {self._log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
listen = 127.0.0.1
protocols = imap
default_internal_user = {internal}
{"" if chroot else f"default_internal_group = {grp.getgrgid(os.getegid()).gr_name}"}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 0
mail_location = maildir:{root}/Maildir/%u
passdb {{
  driver = passwd-file
  args = {self._passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# no growing delay after failed logins from 127.0.0.1 (the tests fail logins on purpose)
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{unchrooted}"""

    def _wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace")
                logged = self.log()
                self.stop()
                raise RuntimeError(f"dovecot exited at start:\n{err}\n{logged}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        logged = self.log()
        self.stop()
        raise RuntimeError(f"dovecot did not listen on port {self.port}:\n{logged}")

    # -- users and mailboxes -----------------------------------------------------------------

    def new_account(self) -> MailUser:
        """A mail account nobody used yet (its own empty INBOX), from the ones made at start.

        Dovecot looks at the passwd-file at most once a second, so accounts are all written
        before it starts rather than added on the fly.
        """
        for user in self.users.values():
            if user.name != BRAND_ADDRESS and user.name not in self._handed_out:
                self._handed_out.add(user.name)
                return user
        raise RuntimeError(f"all {len(self.users) - 1} spare accounts are used: raise `accounts`")

    @contextlib.contextmanager
    def imap(self, user: str = BRAND_ADDRESS):
        """A logged-in IMAP connection as `user` (for seeding and inspecting)."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            conn.login(user, self.users[user].password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def append(
        self,
        message: EmailMessage | bytes,
        *,
        user: str = BRAND_ADDRESS,
        mailbox: str = "INBOX",
        flags: str | None = None,
    ) -> int:
        """APPEND one message; return the UID the server gave it."""
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        with self.imap(user) as conn:
            typ, data = conn.append(_quote(mailbox), flags, None, raw)
        if typ != "OK":
            raise RuntimeError(f"APPEND failed: {data}")
        found = re.search(rb"APPENDUID \d+ (\d+)", data[-1] or b"")
        return int(found.group(1)) if found else 0

    def create(self, mailbox: str, *, user: str = BRAND_ADDRESS) -> None:
        with self.imap(user) as conn:
            typ, data = conn.create(_quote(mailbox))
        if typ != "OK":
            raise RuntimeError(f"CREATE {mailbox} failed: {data}")

    def recreate(self, mailbox: str, *, user: str = BRAND_ADDRESS) -> tuple[int, int]:
        """Delete and create a mailbox again (empty); return (old, new) UIDVALIDITY."""
        old = self.uidvalidity(mailbox, user=user)
        with self.imap(user) as conn:
            conn.delete(_quote(mailbox))
            typ, data = conn.create(_quote(mailbox))
        if typ != "OK":
            raise RuntimeError(f"CREATE {mailbox} failed: {data}")
        return old, self.uidvalidity(mailbox, user=user)

    def uidvalidity(self, mailbox: str = "INBOX", *, user: str = BRAND_ADDRESS) -> int:
        with self.imap(user) as conn:
            conn.select(_quote(mailbox), readonly=True)
            return int(conn.response("UIDVALIDITY")[1][0])

    def messages(self, mailbox: str = "INBOX", *, user: str = BRAND_ADDRESS) -> list[bytes]:
        """Every message of a mailbox, raw, in UID order (read-only, nothing marked seen)."""
        with self.imap(user) as conn:
            typ, _ = conn.select(_quote(mailbox), readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
        return [part[1] for part in data if isinstance(part, tuple)]

    def seen_flags(self, mailbox: str = "INBOX", *, user: str = BRAND_ADDRESS) -> list[bool]:
        """Whether each message of a mailbox carries \\Seen, in UID order."""
        with self.imap(user) as conn:
            conn.select(_quote(mailbox), readonly=True)
            _, data = conn.uid("FETCH", "1:*", "(FLAGS)")
        return [b"\\Seen" in line for line in data if isinstance(line, bytes)]

    # -- traffic ---------------------------------------------------------------------------------

    def add_inbound(
        self, count: int, *, user: str = BRAND_ADDRESS, mailbox: str = "INBOX"
    ) -> list[str]:
        """`count` customers write in (new conversations); return their Message-IDs."""
        ids = []
        for _ in range(count):
            message = self.traffic.message()
            ids.append(self.deliver(self.new_mail(message, to=user), user=user, mailbox=mailbox))
        return ids

    def new_mail(self, message: Message, *, to: str = BRAND_ADDRESS) -> EmailMessage:
        """A first mail from a traffic message (subject from its tone and language)."""
        lang = "en" if message.author.lang == "en" else "fr"
        return customer_mail(
            message.author, message.text, subject=SUBJECTS[message.tone][lang], to=to
        )

    def deliver(
        self, message: EmailMessage, *, user: str = BRAND_ADDRESS, mailbox: str = "INBOX"
    ) -> str:
        """Put one mail into a mailbox; return its Message-ID (no angle brackets)."""
        self.append(message, user=user, mailbox=mailbox)
        return message_id_of(message)

    def channel_config(self, user: str = BRAND_ADDRESS, **overrides: Any) -> dict[str, Any]:
        """The IMAP half of an e-mail channel's config pointing at this server."""
        return {
            "imap_host": self.host,
            "imap_port": self.port,
            "imap_ssl": False,
            "username": user,
            "password": self.users[user].password,
        } | overrides


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    """One message the SMTP sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    at: float = field(default_factory=time.time)

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


class _Recorder:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.sink.lock:
            if self.sink._failures:
                return self.sink._failures.pop(0)
            login = session.auth_data if session.authenticated else None
            self.sink.received.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=envelope.original_content or envelope.content,
                    login=login.decode() if isinstance(login, bytes) else login,
                )
            )
        return "250 2.0.0 Ok: queued"


class SmtpSink:
    """An SMTP submission server on loopback (aiosmtpd) that records what it accepts."""

    def __init__(self, *, username: str = BRAND_ADDRESS, password: str = DEFAULT_PASSWORD):
        self.username = username
        self.password = password
        self.host = "127.0.0.1"
        self.port = free_port()
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self._failures: list[str] = []
        self._controller = None

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            _Recorder(self),
            hostname=self.host,
            port=self.port,
            server_hostname="mx.maisonlumiere.example",
            ready_timeout=10,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=False,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    def fail_next(self, reply: str, times: int = 1) -> None:
        """Answer the next `times` DATA commands with this SMTP reply (e.g. "451 4.3.0 …")."""
        with self.lock:
            self._failures.extend([reply] * times)

    def channel_config(self, **overrides: Any) -> dict[str, Any]:
        """The SMTP half of an e-mail channel's config pointing at this sink."""
        return {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_security": "none",
            "smtp_username": self.username,
            "smtp_password": self.password,
        } | overrides
