"""The API's messages in the reader's language.

Errors are raised in English everywhere (logs, tests and code read one language). When an
error goes out, its message is looked up in `translations/<locale>.po`, a gettext catalog read
with Babel: an exact msgid first, then msgids with `%(name)s` parts, which match English text
with anything in those places and hand it to the translation. The reader's language is the
signed-in user's setting, else the browser's Accept-Language, else English.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from flask import has_request_context, request

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALES = ("en", "fr")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class Catalog:
    def __init__(self, exact: dict[str, str], patterns: list[tuple[re.Pattern, str]]):
        self.exact, self.patterns = exact, patterns

    def translate(self, message: str) -> str:
        if message in self.exact:
            return self.exact[message]
        for pattern, template in self.patterns:
            found = pattern.fullmatch(message)
            if found:
                return template % found.groupdict()
        return message


@cache
def catalog(locale: str) -> Catalog | None:
    path = TRANSLATIONS / f"{locale}.po"
    if not path.exists():
        return None
    with path.open("rb") as po:
        entries = [(m.id, m.string) for m in read_po(po, locale=locale) if m.id and m.string]
    exact = {source: text for source, text in entries if not PLACEHOLDER.search(source)}
    patterns = [(_pattern(source), text) for source, text in entries if PLACEHOLDER.search(source)]
    # the most specific patterns first: "no such user: %(id)s" before "no such %(what)s"
    patterns.sort(key=lambda entry: -len(PLACEHOLDER.sub("", entry[0].pattern)))
    return Catalog(exact, patterns)


def _pattern(source: str) -> re.Pattern:
    parts = PLACEHOLDER.split(source)  # text, name, text, name, ..., text
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(regex, re.DOTALL)


def reader_locale() -> str:
    """The language of whoever this request answers (English if that cannot be told)."""
    if not has_request_context():
        return "en"
    from inbox.auth import current_user

    try:
        user = current_user()  # usually known already; one primary-key read otherwise
        locale = user.locale if user is not None else None
    except Exception:  # a session left unusable by the very error being answered
        locale = None
    if locale in LOCALES:
        return locale
    return request.accept_languages.best_match(LOCALES) or "en"


def translate(message: str, locale: str | None = None) -> str:
    """The message in `locale` (the reader's by default); as given when none is known."""
    found = catalog(locale or reader_locale())
    if found is None or not message:
        return message
    return "; ".join(found.translate(part) for part in message.split("; "))
