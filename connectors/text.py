"""Plain text out of platform HTML (Mastodon statuses, feed summaries), and the post excerpt.

Platforms send some text as HTML. The inbox shows text, always escaped, never markup: this keeps
what a person would read (line breaks of paragraphs and `<br>`, list bullets, decoded entities)
and drops the rest, including the text inside scripts, styles and frames.

`post_excerpt` and `web_link` shape what an item says about the post it answers
(`NormalizedItem.post_text`, `post_url`): the platform's text cut to `POST_TEXT_CHARS`, and a
link only when it is an absolute http(s) URL that fits the inbox's column, so an odd value from
a platform never makes an item invalid.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from marshmallow import ValidationError, validate

from connectors.base import POST_TEXT_CHARS

MAX_LINK_CHARS = 1000  # the inbox keeps post links in a 1000-character column
_LINK = validate.URL(schemes={"http", "https"})

_SKIP = {"script", "style", "template", "noscript", "iframe", "svg", "math", "head", "title"}
_PARAGRAPH = {"p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"}
_LINE = {"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "figure", "hr"}


class _TextExtractor(HTMLParser):
    """Collect the text of an HTML fragment: no tags, entities decoded, line breaks kept.

    Block elements ask for a break before the next text (one line, or a blank line for
    paragraphs); several requests in a row give the largest, not their sum.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.pre = 0
        self.pending = 0  # line breaks owed before the next text

    def _block(self, tag: str) -> None:
        if tag in _PARAGRAPH:
            self.pending = max(self.pending, 2)
        elif tag in _LINE:
            self.pending = max(self.pending, 1)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP:
            self.skipping += 1
            return
        if tag == "br":
            self.parts.append("\n")
        self._block(tag)
        if tag == "li":
            self._text("• ")
        elif tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag not in _SKIP:  # a self-closed <script/> has no content to skip
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
            return
        if tag != "li":
            self._block(tag)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data.replace("\xa0", " "))
            if self.pending and not data.strip():
                return
        self._text(data)

    def _text(self, text: str) -> None:
        if self.pending:
            if self.parts:
                self.parts.append("\n" * self.pending)
            self.pending = 0
            text = text if self.pre else text.lstrip()
        self.parts.append(text)


def html_to_text(html: str | None) -> str:
    """Turn an HTML fragment (a status, a feed summary) into plain text.

    Tags are dropped (the text of scripts, styles and frames with them), entities decoded,
    paragraphs and `<br>` kept as line breaks. The result is text to show escaped, never markup.
    """
    if not html:
        return ""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def post_excerpt(text: Any) -> str | None:
    """The text of the post an item answers, cut to what items carry; None when there is none."""
    if not isinstance(text, str):
        return None
    return text.strip()[:POST_TEXT_CHARS].strip() or None


def web_link(url: Any) -> str | None:
    """An absolute http(s) link the inbox can keep and show, or None."""
    if not isinstance(url, str) or not url or len(url) > MAX_LINK_CHARS:
        return None
    try:
        return _LINK(url)
    except ValidationError:
        return None
