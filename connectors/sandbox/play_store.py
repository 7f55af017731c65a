"""Google Play Developer API simulator: one app's reviews and the developer's replies.

Follows platform-apis.md §5.2: `GET /androidpublisher/v3/applications/{package}/reviews`
(`maxResults`, `token`, `translationLanguage`; newest modified first; only reviews with text
modified in the last seven days [P]; `tokenPagination.nextPageToken` absent on the last
page), `GET …/reviews/{id}`, `POST …/reviews/{id}:reply` `{"replyText"}` (create or replace;
longer than 350 characters is a 400 [P]) answering `{"result": {"replyText", "lastEdited"}}`.
Times are protobuf `{seconds (a string), nanos}`. Unknown package or review: 404.
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask, Response, request

from connectors.sandbox.google import GoogleSimulator, error, keyset_page, ok, random_id

PACKAGE = "com.maisonlumiere.app"
BASE = "/androidpublisher/v3/applications/<package>/reviews"
WINDOW_NS = 7 * 24 * 3600 * 10**9
MAX_REPLY = 350
DEVICES = ["a52q", "OnePlus9", "redfin", "beyond1", "x1q", "starqltesq", "akita"]
VERSIONS = [("4.11.2", 41102), ("4.12.0", 41200), ("4.12.1", 41201)]


def stamp(ns: int) -> dict[str, Any]:
    return {"seconds": str(ns // 10**9), "nanos": ns % 10**9}


class PlayStoreSimulator(GoogleSimulator):
    type = "play_store"

    def __init__(self, **kwargs: Any):
        self.reviews: dict[str, dict] = {}
        self._seq = itertools.count(1)
        super().__init__(**kwargs)

    def channel_config(self) -> dict[str, Any]:
        return {"access_token": self.token, "package_name": PACKAGE, "api_base": self.base_url}

    def now_ns(self) -> int:
        return int(self.now() * 10**9)

    # -- traffic --------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        """New reviews of the app from people on assorted phones and app versions."""
        ids = []
        with self.lock:
            for _ in range(count):
                message = self.traffic.review()
                version, code = self.rng.choice(VERSIONS)
                review_id = "gp:AOqpTO" + random_id(self.rng, 44)
                self.reviews[review_id] = {
                    "id": review_id,
                    "name": message.author.name,
                    "lang": message.author.lang,
                    "rating": message.rating,
                    "text": message.text,
                    "device": self.rng.choice(DEVICES),
                    "version": version,
                    "code": code,
                    "modified": self.now_ns(),
                    "seq": next(self._seq),
                    "reply": None,
                }
                ids.append(review_id)
        return ids

    def edit_review(self, review_id: str, text: str, rating: int | None = None) -> None:
        """The user rewrites a review: same id, newer lastModified, back at the top."""
        with self.lock:
            review = self.reviews[review_id]
            review["text"], review["rating"] = text, rating or review["rating"]
            review["modified"], review["seq"] = self.now_ns(), next(self._seq)

    # -- routes ---------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.get(BASE)(self._list)
        app.get(f"{BASE}/<review_id>")(self._get)
        app.post(f"{BASE}/<review_action>")(self._reply)

    def _list(self, package: str) -> Response:
        if package != PACKAGE:
            return _no_package(package)
        try:
            size = int(request.args.get("maxResults", "10"))
        except ValueError:
            size = 0
        if size < 1:
            return error(400, "maxResults must be positive.", "invalid")
        language = request.args.get("translationLanguage")
        with self.lock:
            since = self.now_ns() - WINDOW_NS
            rows = [r for r in self.reviews.values() if r["modified"] >= since and r["text"]]
            rows.sort(key=_key, reverse=True)
            try:
                page, token = keyset_page(
                    rows, request.args.get("token"), min(size, self.page_size), _key
                )
            except ValueError:
                return self.bad_page_token()
            body: dict[str, Any] = {
                "pageInfo": {"totalResults": len(rows), "resultPerPage": len(page), "startIndex": 0}
            }
            if page:
                body["reviews"] = [_review_json(r, language) for r in page]
        return ok(body | ({"tokenPagination": {"nextPageToken": token}} if token else {}))

    def _get(self, package: str, review_id: str) -> Response:
        if package != PACKAGE:
            return _no_package(package)
        with self.lock:
            review = self.reviews.get(review_id)
            if review is None:
                return error(404, "Review not found.", "notFound")
            return ok(_review_json(review, request.args.get("translationLanguage")))

    def _reply(self, package: str, review_action: str) -> Response:
        review_id, _, action = review_action.rpartition(":")
        if action != "reply":
            return error(404, "Method not found.", "notFound")
        if package != PACKAGE:
            return _no_package(package)
        body = request.get_json(silent=True)
        text = body.get("replyText") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return error(400, "Reply text is required.", "invalid")
        if len(text) > MAX_REPLY:
            return error(400, f"Reply text must be at most {MAX_REPLY} characters.", "invalid")
        with self.lock:
            review = self.reviews.get(review_id)
            if review is None:
                return error(404, "Review not found.", "notFound")
            review["reply"] = {"text": text, "modified": self.now_ns()}
            edited = stamp(review["reply"]["modified"])
        return ok({"result": {"replyText": text, "lastEdited": edited}})


def _key(review: dict) -> list:
    return [review["modified"], review["seq"]]


def _review_json(review: dict, language: str | None) -> dict:
    user = {
        "text": review["text"],
        "lastModified": stamp(review["modified"]),
        "starRating": review["rating"],
        "reviewerLanguage": review["lang"],
        "device": review["device"],
        "androidOsVersion": 33,
        "appVersionCode": review["code"],
        "appVersionName": review["version"],
        "thumbsUpCount": 0,
        "thumbsDownCount": 0,
    }
    if language and not language.startswith(review["lang"]):
        user["originalText"] = review["text"]  # a simulator cannot translate; it says so
    comments: list[dict] = [{"userComment": user}]
    if review["reply"]:
        reply = review["reply"]
        comments.append(
            {"developerComment": {"text": reply["text"], "lastModified": stamp(reply["modified"])}}
        )
    return {"reviewId": review["id"], "authorName": review["name"], "comments": comments}


def _no_package(package: str) -> Response:
    return error(
        404, f"No application was found for the given package name: {package}.", "notFound"
    )
