"""Near-duplicate signatures for inbound texts: MinHash, LSH band keys and estimated Jaccard.

A copy-paste raid (200 near-identical comments) or one question asked many times must become
one group. The database keeps, per cluster, the first item's `signature()` and its
`band_keys()` in an indexed table; a new item looks up the clusters sharing any of its band
keys, then confirms with `similarity(new, first) >= THRESHOLD`.

Signatures are stored, so everything that shapes them is fixed here: the seed, the number of
permutations, the datasketch permutation scheme, the shingling and `normalize()`. Changing any
of them makes stored clusters stop matching new items; bump `_KEY_PERSON` at the same time so
that old band keys can never collide with new ones.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import struct

from datasketch import MinHash

from inbox.analysis import fold

# Two hand-edited copies of a 7-word raid text (each with a word swapped or dropped and a
# hashtag added) measure about 0.45 at worst; unrelated comments about the same products and
# problems stay under 0.25 for 99% of pairs and reach 0.4 for about 0.1%.
THRESHOLD = 0.4
BANDS = 64
ROWS = 3
NUM_PERM = BANDS * ROWS

_SEED = 20240611
# Pinned: datasketch changed its default scheme (and so every hash value) in 2.0.
_SCHEME = "affine32"
_MIN_WORDS = 3
_MIN_CHARS = 12
_CHAR_GRAM = 4
_KEY_PERSON = b"inbox-lsh-v1"
# Drawing the permutations costs more than hashing a comment: draw them once.
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME).permutations

_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/\S*", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MENTION = re.compile(r"@[\w.]+")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NOISE = re.compile(r"[\W_]+")
_STRETCH = re.compile(r"([^\W\d_])\1+")


def normalize(text: str) -> str:
    """Reduce a social text to lowercase unaccented words, without links, mentions or emoji."""
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    # "#BoycottAcme" says "boycott acme": keep its words, drop the sign.
    text = _HASHTAG.sub(lambda m: f" {_CAMEL.sub(' ', m.group(1))} ", text)
    # the keyword folding: NFKD also folds the styled letters (𝐁𝐨𝐲𝐜𝐨𝐭𝐭, ｗｉｄｅ) raids use to
    # dodge filters, and zero-width characters are dropped, so "vo\u200blent" stays one word
    text = fold(text)
    text = _NOISE.sub(" ", text)
    # Every run of a letter becomes one ("nuuuul", "nul" and "null" agree); digits are kept.
    text = _STRETCH.sub(r"\1", text)
    return " ".join(text.split())


def signature(text: str) -> list[int] | None:
    """Return the MinHash of a text as plain ints, or None when it is too short to judge.

    Fewer than 3 distinct words or 12 characters once normalized ("merci", "ok", "👍",
    "merci beaucoup !!") is no signature: such texts would otherwise gather everyone who
    said thanks into one "raid".

    The set hashed is the text's word bigrams plus the character 4-grams of each word padded
    with spaces. On a 10-word comment that is about 40 shingles, enough for a stable estimate.
    The 4-grams survive stretched or misspelt words, inflections and a swapped or dropped
    word (only that word's grams change, since no gram spans two words); the bigrams keep
    word order, so two texts made of the same common words in another order stay apart.
    Measured on the test corpora, grams spanning words made raid variants drift further
    apart, 3-grams made unrelated comments closer (common fragments like "les", "ent"),
    5-grams did both.
    """
    normalized = normalize(text)
    words = normalized.split()
    if len(set(words)) < _MIN_WORDS or len(normalized) < _MIN_CHARS:
        return None
    grams = {f"w:{a} {b}" for a, b in itertools.pairwise(words)}
    for word in words:
        padded = f" {word} "
        ends = range(_CHAR_GRAM, max(_CHAR_GRAM, len(padded)) + 1)
        grams.update(f"c:{padded[end - _CHAR_GRAM : end]}" for end in ends)
    minhash = MinHash(num_perm=NUM_PERM, seed=_SEED, permutations=_PERMUTATIONS, scheme=_SCHEME)
    minhash.update_batch([gram.encode() for gram in grams])
    return [int(value) for value in minhash.hashvalues]


def band_keys(sig: list[int]) -> list[int]:
    """Return one signed 64-bit key per LSH band of a signature, the same in every process.

    64 bands of 3 rows: two texts of Jaccard similarity s share at least one key with
    probability 1 - (1 - s³)⁶⁴, that is

        s       0.05   0.1   0.2   0.3   0.35   0.4    0.45   0.5
        P(key)  0.8%   6%    40%   83%   94%    98.5%  99.8%  99.98%

    so a pair at THRESHOLD is almost never lost, and the lookup brings back a fraction of
    loosely related clusters that `similarity()` then rejects. Four rows would cut those
    candidates but need about 180 bands to keep 99% at 0.4.
    """
    _check_length(sig)
    keys = []
    for band in range(BANDS):
        rows = sig[band * ROWS : (band + 1) * ROWS]
        packed = struct.pack(f"<H{ROWS}I", band, *rows)
        digest = hashlib.blake2b(packed, digest_size=8, person=_KEY_PERSON).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def similarity(a: list[int], b: list[int]) -> float:
    """Estimate the Jaccard similarity of the texts behind two signatures (±0.035 near 0.4)."""
    _check_length(a)
    _check_length(b)
    return sum(x == y for x, y in zip(a, b, strict=True)) / NUM_PERM


def _check_length(sig: list[int]) -> None:
    if len(sig) != NUM_PERM:
        raise ValueError(f"a signature has {NUM_PERM} values, this one has {len(sig)}")
