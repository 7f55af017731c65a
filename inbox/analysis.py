"""Text analysis for inbound items: folding, keyword matching, detectors, language, sentiment.

Pure functions with no database: ingest calls `analyze_many` once per batch, moderation rules
call `fold`, `KeywordMatcher` and the detectors. The language model (lingua) and the sentiment
lexicons (VADER, its French port) ship inside their packages; they load on first use, once per
process, and nothing is downloaded.
"""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

import emoji
import phonenumbers

if TYPE_CHECKING:
    from lingua import ConfidenceValue

MAX_CHARS = 2000  # a long text's opening says enough about its language and tone
LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "nl")
PHONE_REGIONS = ("FR", "US", "GB")
PHONE_TRIES = 100  # candidate numbers looked at per text and region
# VADER's documented thresholds on the compound score
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05
# Below these, short texts are guessed wrong more often than right ("ok" reads as Dutch,
# "lol" as Italian): no language is better than a wrong one for filters and rules.
MIN_LETTERS = 3
ONE_WORD_CONFIDENCE = 0.6
MIN_MARGIN = 0.1

_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′`´", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        "œ": "oe",
        "æ": "ae",
        "ø": "o",
        "ł": "l",
        "đ": "d",
    }
)
_INVISIBLE = {chr(c) for c in range(0xFE00, 0xFE10)}  # variation selectors
# VADER looks emoji up one character at a time: "❤️" must reach it as "❤"
_NO_SELECTORS = str.maketrans(dict.fromkeys(_INVISIBLE))
_EMOJI_GLUE = _INVISIBLE | {"\u200d"}
_SPACES = re.compile(r"\s+")
# Possessive quantifiers and anchored starts keep every pattern linear: a 40,000-character
# comment must not stall ingest. _DOMAIN is the labels with their dots, up to the TLD; a dot
# ending the sentence stays out.
_DOMAIN = r"(?:[^\W_]++(?:-++[^\W_]++)*+\.(?=[^\W_]))++"
_EMAIL = re.compile(rf"(?<![\w.+-])[\w.+-]++@{_DOMAIN}[^\W\d_]{{2,24}}(?!\w)")
# A bare domain needs a path ("t.me/x") or a TLD from this list: a missing space after a full
# stop ("Merci.De rien", "ok.Love it") must not read as a link.
_BARE_TLDS = "|".join(
    "com net org info biz io co ly gl gd fr eu uk ch nl pt tv app shop store online site xyz top"
    " club live link click ru cn".split()
)
_LINK = re.compile(
    rf"""(?:https?://|(?<![\w@.])www\.)\S+
    |(?<![\w@.-]){_DOMAIN}[^\W\d_]{{2,24}}/[\w~%#?=&+-]\S*
    |(?<![\w@.-]){_DOMAIN}(?:{_BARE_TLDS})(?![\w-]|\.\w)(?:/\S*)?""",
    re.I | re.X,
)
_MENTION = re.compile(r"(?<!\w)@\w+")
_LETTER_RUN = re.compile(r"[^\W\d_]+")

_lock = threading.Lock()
_models: SimpleNamespace | None = None


@dataclass(frozen=True)
class Analysis:
    """Language (ISO 639-1) and sentiment of one text; None where it cannot be told."""

    language: str | None = None
    sentiment: str | None = None
    score: float | None = None


def _plain(text: str) -> str:
    """Map typographic quotes, apostrophes and dashes to ASCII, keeping case and accents."""
    return text.translate(_TYPOGRAPHY)


def fold(text: str) -> str:
    """Fold case, accents, typography and whitespace so that variants of a word compare equal."""
    # compatibility forms first, so styled letters (𝐁𝐎𝐘𝐂𝐎𝐓𝐓, ｗｉｄｅ) are cased like plain ones
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    kept = "".join(
        c
        for c in decomposed
        if not unicodedata.combining(c)
        and c not in _INVISIBLE
        # zero-width characters hidden inside a word must not defeat a keyword
        and unicodedata.category(c) != "Cf"
    )
    return _SPACES.sub(" ", _plain(kept)).strip()


class KeywordMatcher:
    """Any of a list of words or phrases, folded, on word boundaries, as one regex."""

    def __init__(self, values: Iterable[str]):
        self.values = list(values)
        alternatives = []
        for value in self.values:
            words = fold(value).split(" ") if isinstance(value, str) else [""]
            if words == [""]:
                raise ValueError(f"empty keyword: {value!r}")
            alternatives.append(r"\s+".join(re.escape(word) for word in words))
        if not alternatives:
            raise ValueError("no keywords")
        alternatives.sort(key=len, reverse=True)
        # lookarounds rather than \b: a value may start or end with a non-word character ("c++")
        self.pattern = re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")

    def matches(self, text: str) -> bool:
        """Tell whether any keyword occurs in `text`."""
        return self.pattern.search(fold(text or "")) is not None


def has_email(text: str) -> bool:
    """Tell whether `text` contains an e-mail address."""
    return _EMAIL.search(text or "") is not None


def has_link(text: str) -> bool:
    """Tell whether `text` contains a URL, a www. address or a bare domain ("bit.ly/x")."""
    return _LINK.search(_EMAIL.sub(" ", text or "")) is not None


def has_phone(text: str) -> bool:
    """Tell whether `text` contains a valid phone number, French or international."""
    text = text or ""
    if sum(c.isdigit() for c in text) < 6:  # the matcher is slow; most texts have no digits
        return False
    # a bounded number of candidates: a body of 40,000 digits costs 0.1 s, not 1.4 s
    return any(
        phonenumbers.PhoneNumberMatcher(text, region, max_tries=PHONE_TRIES).has_next()
        for region in PHONE_REGIONS
    )


def emoji_only(text: str) -> bool:
    """Tell whether `text` is one or more emoji and nothing else (spacing aside)."""
    found = False
    for token in emoji.analyze("".join((text or "").split()), non_emoji=True):
        if isinstance(token.value, emoji.EmojiMatch):
            found = True
        elif token.chars not in _EMOJI_GLUE:
            return False
    return found


def analyze(text: str) -> Analysis:
    """Tell the language and sentiment of one text (see `analyze_many`)."""
    return analyze_many([text])[0]


def analyze_many(texts: list[str]) -> list[Analysis]:
    """Tell the language and sentiment of each text, in one batch.

    Only the first `MAX_CHARS` characters count; URLs, e-mail addresses and @mentions are left
    out of language detection. Language is one of `LANGUAGES` or None: None for emoji-only text,
    for text with fewer than `MIN_LETTERS` letters ("ok", "👍", "+1"), for a single word the
    model gives less than `ONE_WORD_CONFIDENCE` ("lol", "merci", "top" are shared across
    languages), and when the two likeliest languages are less than `MIN_MARGIN` apart. A CM can
    still filter on "no language"; a wrong language would silently mislead rules.

    Sentiment comes from VADER, English or French, by the detected language, as
    negative/neutral/positive with VADER's compound score; other languages and unknown language
    get None, except emoji-only text, which VADER's emoji lexicon scores.
    """
    if not texts:
        return []
    models = _load()
    heads = [_plain(text or "")[:MAX_CHARS] for text in texts]
    emojis = [emoji_only(head) for head in heads]
    prose = [_prose(head) for head in heads]
    asked = [i for i, words in enumerate(prose) if words is not None and not emojis[i]]
    confidences = models.detector.compute_language_confidence_values_in_parallel(
        [prose[i][0] for i in asked]
    )
    languages: list[str | None] = [None] * len(texts)
    for i, values in zip(asked, confidences, strict=True):
        languages[i] = _decide(values, prose[i][1])
    results = []
    for head, language, only_emoji in zip(heads, languages, emojis, strict=True):
        scorer = models.vader.get("en" if only_emoji else language)
        if scorer is None:
            results.append(Analysis(language))
            continue
        score = scorer.polarity_scores(head.translate(_NO_SELECTORS))["compound"]
        results.append(Analysis(language, _label(score), score))
    return results


def _prose(text: str) -> tuple[str, int] | None:
    """The text language detection sees, and its word count; None when too few letters."""
    cleaned = _MENTION.sub(" ", _LINK.sub(" ", _EMAIL.sub(" ", text)))
    words = _LETTER_RUN.findall(cleaned)
    if sum(map(len, words)) < MIN_LETTERS:
        return None
    return cleaned, len(words)


def _decide(values: list[ConfidenceValue], words: int) -> str | None:
    """The likeliest language when the model is sure enough, else None."""
    best, runner_up = values[0], values[1]
    if words == 1 and best.value < ONE_WORD_CONFIDENCE:
        return None
    if best.value - runner_up.value < MIN_MARGIN:
        return None
    return best.language.iso_code_639_1.name.lower()


def _label(score: float) -> str:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def warm_up() -> None:
    """Load the models now (1 to 5 s), so the first batch a process ingests is not late."""
    _load()


def _load() -> SimpleNamespace:
    """Build the language detector and the sentiment analysers, once per process."""
    global _models
    if _models is None:
        with _lock:
            if _models is None:
                _models = _build()
    return _models


def _build() -> SimpleNamespace:
    from lingua import IsoCode639_1, LanguageDetectorBuilder
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as EnglishVader

    codes = [getattr(IsoCode639_1, code.upper()) for code in LANGUAGES]
    detector = (
        LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
        .with_preloaded_language_models()  # pay the loading here, under the lock, not per call
        .build()
    )
    return SimpleNamespace(detector=detector, vader={"en": EnglishVader(), "fr": _french_vader()})


def _french_vader():
    path = list(sys.path)
    with warnings.catch_warnings():
        # fuzzywuzzy warns that it lacks python-Levenshtein; only the fuzzy variant
        # (polarity_scores_max) uses it, and we never call that one
        warnings.filterwarnings(
            "ignore", message="Using slow pure-python SequenceMatcher", category=UserWarning
        )
        from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer
    sys.path[:] = path  # the module appends "/" to sys.path on import
    return SentimentIntensityAnalyzer()
