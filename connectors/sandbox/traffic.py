"""Realistic community traffic for the simulators: who writes, what they write, in which tone.

It reuses the demo corpus (French and English customers of a fashion brand, a few spam bots) so
every simulator speaks about the same shop; each simulator renders a `Message` in its own
platform's shape.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from connectors import demo

TONE_WEIGHTS = {"question": 30, "complaint": 25, "praise": 35, "spam": 10}


@dataclass(frozen=True)
class Person:
    id: str
    handle: str  # without the leading @
    name: str
    lang: str
    bot: bool = False


PEOPLE = [
    Person(f"{1000 + i}", handle, name, lang) for i, (handle, name, lang) in enumerate(demo.PEOPLE)
]
BOTS = [
    Person(f"{9000 + i}", handle, name, "fr", bot=True)
    for i, (handle, name) in enumerate(demo.BOTS)
]


@dataclass(frozen=True)
class Message:
    author: Person
    text: str
    tone: str
    rating: int | None = None
    title: str | None = None


class Traffic:
    """A deterministic stream of messages for one simulator (same seed, same stream)."""

    def __init__(self, seed: int | str = 0):
        self.rng = random.Random(seed)

    def person(self) -> Person:
        return self.rng.choice(PEOPLE)

    def message(self, *, tone: str | None = None, author: Person | None = None) -> Message:
        """A comment, mention or DM text; spam comes from bots."""
        rng = self.rng
        tone = tone or rng.choices(list(TONE_WEIGHTS), list(TONE_WEIGHTS.values()))[0]
        if author is None:
            author = rng.choice(BOTS) if tone == "spam" else rng.choice(PEOPLE)
        lang = rng.choice(["fr", "fr", "en"]) if author.bot else author.lang
        template = rng.choice(demo.TEXTS[tone][lang])
        return Message(author, self._fill(template, lang), tone)

    def review(self, *, rating: int | None = None) -> Message:
        """A store or map review: a rating, a title and a body."""
        rng = self.rng
        rating = rating or rng.choices(demo.RATINGS, demo.RATING_WEIGHTS)[0]
        author = rng.choice(PEOPLE)
        title, *bodies = demo.REVIEWS[rating][author.lang]
        body = self._fill(rng.choice(bodies), author.lang)
        tone = "praise" if rating >= 4 else "complaint"
        return Message(author, body, tone, rating=rating, title=title)

    def _fill(self, template: str, lang: str) -> str:
        rng = self.rng
        slots = {name: rng.choice(words) for name, words in demo.VOCAB.items()}
        product_fr, product_en = rng.choice(demo.PRODUCTS)
        slots["product"] = product_fr if lang == "fr" else product_en
        slots |= {"order": f"ML-{rng.randint(100000, 999999)}", "days": rng.randint(3, 21)}
        slots["parent"] = "@" + rng.choice(PEOPLE).handle
        return template.format(brand=demo.BRAND, **slots)
