"""The e-mail connector against a real Dovecot IMAP server and a real SMTP listener.

No HTTP simulator here: `connectors.sandbox.mail` starts Dovecot (package `dovecot-imapd`) on a
free loopback port and an aiosmtpd listener. Each test gets its own mail account, so its INBOX
starts empty. A machine without Dovecot fails these tests (it does not skip them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from connectors import connector_class
from connectors import email as email_connector
from connectors.base import (
    AuthExpired,
    NormalizedItem,
    NotAllowed,
    Target,
    Transient,
    Unsupported,
)
from connectors.email import (
    EmailConfig,
    EmailConnector,
    html_to_text,
    reply_subject,
    strip_quoted_tail,
)
from connectors.sandbox import mail
from connectors.sandbox.mail import (
    Dovecot,
    DovecotMissing,
    SmtpSink,
    address_of,
    customer_mail,
    free_port,
    message_id_of,
)
from connectors.sandbox.traffic import PEOPLE
from tests.connectors.contract import sync

ANN, BOB = PEOPLE[0], PEOPLE[25]
BATCH = 5
# the sink takes AUTH without TLS on purpose: it listens on 127.0.0.1 only
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def dovecot():
    try:
        server = Dovecot(seed="tests")
    except DovecotMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def account(dovecot):
    return dovecot.new_account()


def build(dovecot, smtp, account, **overrides) -> EmailConnector:
    """The connector as a channel would configure it, on this test's own mail account."""
    config = (
        dovecot.channel_config(account.name)
        | smtp.channel_config()
        | {"batch_size": BATCH}
        | overrides
    )
    return EmailConnector(EmailConfig().load(config))


@pytest.fixture
def connector(dovecot, smtp, account):
    return build(dovecot, smtp, account)


def ids(items) -> list[str]:
    return [item.external_id for item in items]


def sent_with(smtp, message_id: str):
    found = [r for r in smtp.received if message_id_of(r.data) == message_id]
    assert len(found) == 1, f"the SMTP listener should have received {message_id} once"
    return found[0]


# -- pull --------------------------------------------------------------------------------------


def test_first_sync_reads_every_message_over_several_pulls(dovecot, account, connector):
    expected = dovecot.add_inbound(12, user=account.name)
    items, cursor, pulls = sync(connector)
    assert ids(items) == expected, "each message once, oldest first"
    assert pulls == 3, "12 messages with batches of 5 take three pulls"
    assert json.loads(json.dumps(cursor)) == cursor
    for item in items:
        assert item.kind == "email"
        assert item.author.id == item.author.id.lower() and "@" in item.author.id
        assert item.created_at.tzinfo is not None and item.body and item.subject
        assert item.thread_id == item.external_id and item.parent_id is None
        assert not item.outbound
        assert NormalizedItem.from_dict(item.to_dict()) == item
    assert dovecot.seen_flags(user=account.name) == [False] * 12, "BODY.PEEK: nothing marked seen"


def test_incremental_sync_has_no_duplicate_and_no_gap(dovecot, account, connector):
    dovecot.add_inbound(7, user=account.name)
    _, cursor, _ = sync(connector)
    later = dovecot.add_inbound(6, user=account.name)
    items, cursor, pulls = sync(connector, cursor)
    assert ids(items) == later and pulls == 2
    # `UID SEARCH UID n:*` still answers the last UID when nothing is new: it must not come back
    batch = connector.pull(cursor)
    assert batch.items == [] and batch.more is False and batch.cursor == cursor


def test_watermark_moves_only_when_a_sync_finishes(dovecot, account, connector):
    first = dovecot.add_inbound(8, user=account.name)
    batch = connector.pull(None)
    assert batch.more and ids(batch.items) == first[:BATCH]
    assert batch.cursor["last_uid"] == 0, "mid-sync, the finished-sync watermark stays put"
    arrived = dovecot.add_inbound(2, user=account.name)  # during the sync
    rest, cursor, _ = sync(connector, batch.cursor)
    assert ids(rest) == first[BATCH:], "a sync ends at the newest UID it saw when it began"
    assert cursor["last_uid"] > 0 and cursor["sync"] is None
    later, _, _ = sync(connector, cursor)
    assert ids(later) == arrived


def test_a_reply_chain_shares_the_root_thread_and_knows_its_parent(dovecot, account, connector):
    brand = account.name
    root = customer_mail(
        ANN, "Ma commande ML-123456 n'est pas arrivée.", subject="Commande", to=brand
    )
    root_id = dovecot.deliver(root, user=account.name)
    ours = customer_mail(
        ANN,
        "Bonjour, nous regardons cela.",
        subject="Re: Commande",
        to=address_of(ANN),
        in_reply_to=root_id,
        references=(root_id,),
    )
    ours.replace_header("From", f"Maison Lumière <{brand}>")
    ours_id = dovecot.deliver(ours, user=account.name)  # a copy of our answer (Bcc to ourselves)
    again = customer_mail(
        ANN,
        "Merci, j'attends.\n\nLe mar. 5 mars 2024 à 10:12, Maison Lumière <x@y.example> a écrit :\n"
        "> Bonjour, nous regardons cela.\n>\n",
        subject="Re: Commande",
        to=brand,
        in_reply_to=ours_id,
        references=(root_id, ours_id),
    )
    again_id = dovecot.deliver(again, user=account.name)
    items, _, _ = sync(connector)
    by_id = {item.external_id: item for item in items}
    assert list(by_id) == [root_id, ours_id, again_id]
    assert {item.thread_id for item in items} == {root_id}
    assert by_id[root_id].parent_id is None
    assert by_id[ours_id].parent_id == root_id and by_id[ours_id].outbound
    assert by_id[again_id].parent_id == ours_id and not by_id[again_id].outbound
    assert by_id[again_id].body == "Merci, j'attends.", "the quoted tail is trimmed"
    assert by_id[again_id].author.id == address_of(ANN)
    assert by_id[again_id].author.name == ANN.name


def test_changed_uidvalidity_resyncs_without_duplicate_ids(dovecot, smtp, account):
    dovecot.create("Support", user=account.name)
    connector = build(dovecot, smtp, account, mailbox="Support", batch_size=50)
    mails = [dovecot.new_mail(dovecot.traffic.message(), to=account.name) for _ in range(6)]
    for message in mails:
        dovecot.deliver(message, user=account.name, mailbox="Support")
    first, cursor, _ = sync(connector)
    old, new = dovecot.recreate("Support", user=account.name)
    assert old != new, "deleting and creating the mailbox gives it a new UIDVALIDITY"
    for message in [*mails, mails[0]]:  # restored from a backup, one of them twice
        dovecot.deliver(message, user=account.name, mailbox="Support")
    fresh = dovecot.add_inbound(2, user=account.name, mailbox="Support")
    items, cursor, _ = sync(connector, cursor)
    assert cursor["uidvalidity"] == new
    assert len(ids(items)) == len(set(ids(items))), "no id twice"
    assert set(ids(items)) == set(ids(first)) | set(fresh), "same mails keep the same ids"
    assert sync(connector, cursor)[0] == []


def test_auto_replies_are_skipped(dovecot, account, connector):
    auto = customer_mail(BOB, "I am out of the office until Monday.", subject="Absence")
    auto["Auto-Submitted"] = "auto-replied"
    dovecot.deliver(auto, user=account.name)
    real = dovecot.add_inbound(1, user=account.name)
    items, _, _ = sync(connector)
    assert ids(items) == real


def test_html_only_mail_becomes_plain_text(dovecot, account, connector):
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>Bonjour,</p><p>Ma robe est <b>abîmée</b> &amp; je veux un échange.</p>"
        "<script>alert('xss')</script><img src=x onerror=\"alert(2)\">"
        '<a href="javascript:alert(3)">voir la photo</a>'
        "<ul><li>taille M</li><li>couleur bleue</li></ul></body></html>"
    )
    message = customer_mail(ANN, "", subject="Échange", html=html, to=account.name)
    dovecot.deliver(message, user=account.name)
    (item,) = sync(connector)[0]
    assert item.body == (
        "Bonjour,\n\nMa robe est abîmée & je veux un échange.\n\nvoir la photo\n"
        "- taille M\n- couleur bleue"
    )
    for leftover in ("<", ">", "alert", "onerror", "javascript", "color:red"):
        assert leftover not in item.body
    assert item.subject == "Échange"


def test_html_blockquotes_are_trimmed_like_quoted_text():
    html = (
        "<div>Toujours rien reçu.</div><div>Le lun. 4 mars 2024, Maison Lumière a écrit :</div>"
        "<blockquote><div>Votre colis est parti.</div></blockquote>"
    )
    assert strip_quoted_tail(html_to_text(html)) == "Toujours rien reçu."


def test_large_mails_are_read_by_their_headers_only(dovecot, account, connector, monkeypatch):
    monkeypatch.setattr(email_connector, "MAX_MESSAGE_BYTES", 2_000)
    big = customer_mail(BOB, "photo " * 1_000, subject="Photos du défaut", to=account.name)
    small = dovecot.add_inbound(1, user=account.name)
    big_id = dovecot.deliver(big, user=account.name)
    items, _, _ = sync(connector)
    assert ids(items) == [*small, big_id]
    assert items[1].subject == "Photos du défaut" and "too large" in items[1].body


# -- reply -------------------------------------------------------------------------------------


def test_reply_is_threaded_and_sent_over_smtp(dovecot, smtp, account, connector):
    root_id = dovecot.deliver(
        customer_mail(BOB, "Where is my parcel?", subject="Order late", to=account.name),
        user=account.name,
    )
    follow_id = dovecot.deliver(
        customer_mail(
            BOB,
            "Any news?",
            subject="Re: Order late",
            to=account.name,
            in_reply_to=root_id,
            references=(root_id,),
        ),
        user=account.name,
    )
    items, _, _ = sync(connector)
    target_item = items[-1]
    target = Target(
        external_id=target_item.external_id,
        kind="email",
        thread_id=target_item.thread_id,
        author_id=target_item.author.id,
        subject="Order late",
    )
    new_id = connector.reply(target, "Hello Bob, it left our warehouse today.")
    received = sent_with(smtp, new_id)
    sent = received.message
    assert sent["To"].addresses[0].addr_spec == address_of(BOB)
    assert received.rcpt_tos == [address_of(BOB)] and received.mail_from == account.name
    assert received.login == smtp.username, "the reply was sent after SMTP AUTH"
    assert sent["From"].addresses[0].addr_spec == account.name
    assert str(sent["Subject"]) == "Re: Order late", "never 'Re: Re:'"
    assert str(sent["In-Reply-To"]) == f"<{follow_id}>"
    assert str(sent["References"]).split() == [f"<{root_id}>", f"<{follow_id}>"]
    assert str(sent["Message-ID"]) == f"<{new_id}>" and new_id.endswith("@maisonlumiere.example")
    assert sent.get_content().strip() == "Hello Bob, it left our warehouse today."


def test_reply_without_the_original_in_the_mailbox_threads_from_the_ticket(connector, smtp):
    target = Target(
        external_id="gone@customer.example",
        kind="email",
        thread_id="root@customer.example",
        author_id="ann@customer.example",
        subject="Re: RE: Hello",
    )
    new_id = connector.reply(target, "Merci !")
    sent = sent_with(smtp, new_id).message
    assert str(sent["To"]) == "ann@customer.example"
    assert str(sent["Subject"]) == "Re: Hello"
    assert str(sent["In-Reply-To"]) == "<gone@customer.example>"
    assert str(sent["References"]).split() == [
        "<root@customer.example>",
        "<gone@customer.example>",
    ]


def test_reply_goes_to_reply_to_and_a_copy_is_kept_in_sent(dovecot, smtp, account):
    dovecot.create("Sent", user=account.name)
    connector = build(dovecot, smtp, account, sent_mailbox="Sent", from_name="Maison Lumière")
    message = customer_mail(ANN, "Un souci de taille.", subject="Taille", to=account.name)
    message["Reply-To"] = "Ann (SAV) <ann.sav@example.fr>"
    target_id = dovecot.deliver(message, user=account.name)
    target = Target(external_id=target_id, kind="email", thread_id=target_id, author_id="x@y.z")
    new_id = connector.reply(target, "Nous vous envoyons la taille au-dessus.")
    sent = sent_with(smtp, new_id).message
    assert sent["To"].addresses[0].addr_spec == "ann.sav@example.fr"
    assert sent["From"].addresses[0].display_name == "Maison Lumière"
    assert str(sent["Subject"]) == "Re: Taille"
    assert str(sent["References"]) == f"<{target_id}>"
    copies = dovecot.messages("Sent", user=account.name)
    assert [message_id_of(raw) for raw in copies] == [new_id]
    assert dovecot.seen_flags("Sent", user=account.name) == [True]


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        ("451 4.3.0 Mail server temporarily unavailable", Transient, "451"),
        ("554 5.7.1 Message rejected as spam", NotAllowed, "rejected as spam"),
    ],
)
def test_smtp_refusals_are_mapped(connector, smtp, answer, error, text):
    smtp.fail_next(answer)
    target = Target(external_id="a@b.example", kind="email", author_id="c@d.example")
    with pytest.raises(error, match=text):
        connector.reply(target, "Bonjour")


def test_wrong_smtp_password_is_auth_expired(dovecot, smtp, account):
    connector = build(dovecot, smtp, account, smtp_password="not-the-password")
    target = Target(external_id="a@b.example", kind="email", author_id="c@d.example")
    before = len(smtp.received)
    with pytest.raises(AuthExpired, match="535"):
        connector.reply(target, "Bonjour")
    with pytest.raises(AuthExpired):
        connector.check()
    assert len(smtp.received) == before


def test_reply_needs_an_address(connector):
    target = Target(external_id="a@b.example", kind="email", author_id="not an address")
    with pytest.raises(NotAllowed, match="address"):
        connector.reply(target, "Bonjour")


def test_moderation_is_refused_before_any_call(dovecot, smtp, account):
    closed = free_port()
    connector = build(dovecot, smtp, account, imap_port=closed, smtp_port=closed)
    target = Target(external_id="a@b.example", kind="email", author_id="c@d.example")
    for action in ("hide", "unhide", "delete", "like"):
        with pytest.raises(Unsupported, match=action):
            connector.moderate(target, action)
    assert connector.capabilities == {"reply"}


# -- errors and check --------------------------------------------------------------------------


def test_wrong_password_is_auth_expired(dovecot, smtp, account):
    connector = build(dovecot, smtp, account, password="wrong-password")
    with pytest.raises(AuthExpired, match="AUTHENTICATIONFAILED"):
        connector.pull(None)
    with pytest.raises(AuthExpired):
        connector.check()


def test_unreachable_server_is_transient(dovecot, smtp, account):
    connector = build(dovecot, smtp, account, imap_port=free_port())
    with pytest.raises(Transient, match="connection refused"):
        connector.pull(None)


def test_missing_mailbox_is_reported(dovecot, smtp, account):
    connector = build(dovecot, smtp, account, mailbox="Archives 2019")
    with pytest.raises(Exception, match="Archives 2019") as caught:
        connector.pull(None)
    assert not isinstance(caught.value, Transient | AuthExpired)


def test_check_names_the_account_and_counts_the_mailbox(dovecot, account, connector):
    dovecot.add_inbound(3, user=account.name)
    assert connector.check() == f"Connected to {account.name} (3 messages in INBOX)"


# -- config and helpers ------------------------------------------------------------------------


def test_config_validation():
    schema = EmailConfig()
    base = {"imap_host": "imap.example.com", "username": "cm@example.com", "smtp_host": "smtp"}
    with pytest.raises(ValidationError) as caught:
        schema.load(base)
    assert "password" in caught.value.messages
    loaded = schema.load(base | {"password": "p"})
    assert loaded["imap_ssl"] is True and loaded["mailbox"] == "INBOX"
    assert loaded["smtp_security"] == "starttls"
    assert schema.load(loaded) == loaded, "a stored config loads again (channel updates)"
    with pytest.raises(ValidationError) as caught:
        schema.load(base | {"password": "p", "username": "cm"})
    assert "from_address" in caught.value.messages
    with pytest.raises(ValidationError) as caught:
        schema.load(base | {"password": "p", "smtp_security": "tls"})
    assert "smtp_security" in caught.value.messages
    with pytest.raises(ValidationError) as caught:
        schema.load(base | {"password": "p", "from_name": "Evil\r\nBcc: all@example.com"})
    assert "from_name" in caught.value.messages
    with pytest.raises(ValidationError):
        schema.load(base | {"password": "p", "api_base": "https://x"})
    assert EmailConnector.secret_fields() == {"password", "smtp_password"}
    assert connector_class("email") is EmailConnector


def test_reply_subject_never_doubles_re():
    assert reply_subject("Order late") == "Re: Order late"
    assert reply_subject("RE: Re:  Order late") == "Re: Order late"
    assert reply_subject("Fwd: Order") == "Re: Fwd: Order"
    assert reply_subject("") == "Re: your message"


def test_dates_are_utc(dovecot, account, connector):
    when = datetime(2024, 3, 5, 10, 12, tzinfo=UTC)
    message = customer_mail(ANN, "Bonjour", subject="Date", to=account.name, date=when)
    message.replace_header("Date", "Tue, 05 Mar 2024 11:12:00 +0100")
    dovecot.deliver(message, user=account.name)
    (item,) = sync(connector)[0]
    assert item.created_at == when and item.created_at.utcoffset().total_seconds() == 0


def test_missing_dovecot_fails_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(mail.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(DovecotMissing, match="apt-get install -y dovecot-imapd"):
        Dovecot()
