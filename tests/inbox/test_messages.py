"""API messages in the reader's language: French for French users, English otherwise."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.pofile import read_po

from inbox.messages import PLACEHOLDER, TRANSLATIONS, translate

RAISING = {"ApiError", "Conflict", "Forbidden", "NotFound", "Unauthorized", "Unavailable"}
RAISING |= {"ValidationError"}


def test_a_french_cm_reads_french_and_an_english_one_english(world):
    world.user("ana@x.example")
    ana = world.client("ana@x.example")
    missing = ana.get("/api/tickets/999999")
    assert (missing.status_code, missing.json["error"]["message"]) == (404, "ticket introuvable")
    bad = ana.patch("/api/tickets/999999", json={"version": "x"})
    assert bad.json["error"]["message"] == "Nombre entier invalide."
    assert ana.patch("/api/me", json={"locale": "en"}).status_code == 200
    assert ana.get("/api/tickets/999999").json["error"]["message"] == "no such ticket"


def test_before_signing_in_the_browser_language_decides(app):
    client = app.test_client()
    french = client.get("/api/tickets", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert french.json["error"]["message"] == "connectez-vous d'abord"
    assert client.get("/api/tickets").json["error"]["message"] == "sign in first"


def test_messages_with_values_keep_them():
    message = "Bob replied while you were writing: read it before sending yours"
    assert translate(message, "fr") == (
        "Bob a répondu pendant que vous écriviez : lisez avant d'envoyer"
    )
    assert translate("no such user: 42", "fr") == "personne introuvable : 42"
    assert translate("something new", "fr") == "something new"


def test_every_translation_keeps_the_values_of_its_message():
    with (TRANSLATIONS / "fr.po").open("rb") as po:
        for message in read_po(po):
            if message.id:
                assert message.string, f"untranslated: {message.id}"
                assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
                    PLACEHOLDER.findall(message.string)
                ), message.id


def literal_messages() -> set[str]:
    """The fixed messages the inbox raises (f-strings are checked by their patterns)."""
    found = set()
    for path in Path("inbox").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in RAISING
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_fixed_message_the_api_raises_has_its_french():
    untranslated = sorted(m for m in literal_messages() if translate(m, "fr") == m)
    assert not untranslated, untranslated
    assert all(re.search(r"[a-z]", m) for m in literal_messages())
