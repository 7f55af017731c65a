"""Google Business Profile simulator: one location's reviews and the owner's replies (API v4).

Follows platform-apis.md §5.1: `GET /v4/accounts/{a}/locations/{l}/reviews` (`pageSize` at
most 50, `orderBy` `updateTime desc` by default, `rating`, `rating desc`; `nextPageToken`
absent on the last page; `averageRating`, `totalReviewCount`), `GET …/reviews/{id}`,
`PUT …/reviews/{id}/reply` `{"comment"}` (create or replace; at most 4096 bytes) answering
`{"comment", "updateTime"}`, `DELETE …/reviews/{id}/reply` answering `{}`. Unknown account,
location or review: 404 `NOT_FOUND`. An edit by the customer moves `updateTime`; the owner's
reply does not [U].
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask, Response, request

from connectors.sandbox.google import GoogleSimulator, error, keyset_page, ok, random_id, rfc3339
from connectors.sandbox.traffic import PEOPLE

ACCOUNT_ID = "104237689512451178"
LOCATION_ID = "8732451290463817264"
STARS = {1: "ONE", 2: "TWO", 3: "THREE", 4: "FOUR", 5: "FIVE"}
MAX_PAGE = 50
MAX_REPLY_BYTES = 4096
BASE = "/v4/accounts/<account>/locations/<location>/reviews"
ORDERS = {"updateTime desc", "rating", "rating desc"}


class GoogleReviewsSimulator(GoogleSimulator):
    type = "google_reviews"

    def __init__(self, **kwargs: Any):
        self.reviews: dict[str, dict] = {}
        self._seq = itertools.count(1)
        super().__init__(**kwargs)

    def channel_config(self) -> dict[str, Any]:
        return {
            "access_token": self.token,
            "account_id": ACCOUNT_ID,
            "location_id": LOCATION_ID,
            "api_base": self.base_url,
        }

    # -- traffic --------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        """New customer reviews of the shop; about one in eight leaves only stars."""
        ids = []
        with self.lock:
            for _ in range(count):
                message = self.traffic.review()
                text = None if self.rng.random() < 0.125 else message.text
                ids.append(self.add_review(message.rating, text, message.author.name))
        return ids

    def add_review(self, rating: int, comment: str | None, name: str | None = None) -> str:
        with self.lock:
            now = self.now()
            review_id = "AbFvOq" + random_id(self.rng, 38)
            self.reviews[review_id] = {
                "id": review_id,
                "name": name or self.rng.choice(PEOPLE).name,
                "rating": rating,
                "comment": comment,
                "created": now,
                "updated": now,
                "seq": next(self._seq),
                "reply": None,
            }
            return review_id

    def edit_review(self, review_id: str, comment: str, rating: int | None = None) -> None:
        """The customer rewrites a review: same id, newer updateTime."""
        with self.lock:
            review = self.reviews[review_id]
            review["comment"], review["updated"] = comment, self.now()
            review["rating"] = rating or review["rating"]
            review["seq"] = next(self._seq)

    # -- routes ---------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.get(BASE)(self._list)
        app.get(f"{BASE}/<review_id>")(self._get)
        app.put(f"{BASE}/<review_id>/reply")(self._put_reply)
        app.delete(f"{BASE}/<review_id>/reply")(self._delete_reply)

    def _list(self, account: str, location: str) -> Response:
        if (account, location) != (ACCOUNT_ID, LOCATION_ID):
            return _not_found()
        order = request.args.get("orderBy", "updateTime desc")
        try:
            size = int(request.args.get("pageSize", str(MAX_PAGE)))
        except ValueError:
            size = 0
        if order not in ORDERS or not 1 <= size <= MAX_PAGE:
            return error(400, "Request contains an invalid argument.", "badRequest")
        with self.lock:
            rows = sorted(self.reviews.values(), key=_order_key(order), reverse=order != "rating")
            try:
                page, token = keyset_page(
                    rows,
                    request.args.get("pageToken"),
                    min(size, self.page_size),
                    _order_key(order),
                    newest_first=order != "rating",
                )
            except ValueError:
                return self.bad_page_token()
            ratings = [r["rating"] for r in rows]
            body: dict[str, Any] = {
                "averageRating": round(sum(ratings) / len(ratings), 1) if ratings else 0,
                "totalReviewCount": len(rows),
            }
            if page:
                body["reviews"] = [self._review_json(r) for r in page]
        return ok(body | ({"nextPageToken": token} if token else {}))

    def _get(self, account: str, location: str, review_id: str) -> Response:
        with self.lock:
            review = self._find(account, location, review_id)
            return self._review_json(review) if review else _not_found()

    def _put_reply(self, account: str, location: str, review_id: str) -> Response:
        body = request.get_json(silent=True)
        comment = body.get("comment") if isinstance(body, dict) else None
        if not isinstance(comment, str) or not comment.strip():
            return error(400, "Request contains an invalid argument.", "badRequest")
        if len(comment.encode()) > MAX_REPLY_BYTES:
            return error(400, "The reply is too long.", "badRequest")
        with self.lock:
            review = self._find(account, location, review_id)
            if review is None:
                return _not_found()
            review["reply"] = {"comment": comment, "updateTime": rfc3339(self.now(), fraction=True)}
            return ok(review["reply"])

    def _delete_reply(self, account: str, location: str, review_id: str) -> Response:
        with self.lock:
            review = self._find(account, location, review_id)
            if review is None or review["reply"] is None:
                return _not_found()
            review["reply"] = None
        return ok({})

    def _find(self, account: str, location: str, review_id: str) -> dict | None:
        if (account, location) != (ACCOUNT_ID, LOCATION_ID):
            return None
        return self.reviews.get(review_id)

    def _review_json(self, review: dict) -> dict:
        name = f"accounts/{ACCOUNT_ID}/locations/{LOCATION_ID}/reviews/{review['id']}"
        photo = f"https://lh3.googleusercontent.com/a-/{review['id'][6:30]}=s120-c"
        out: dict[str, Any] = {
            "name": name,
            "reviewId": review["id"],
            "reviewer": {"profilePhotoUrl": photo, "displayName": review["name"]},
            "starRating": STARS[review["rating"]],
            "createTime": rfc3339(review["created"], fraction=True),
            "updateTime": rfc3339(review["updated"], fraction=True),
        }
        out["reviewer"]["isAnonymous"] = False
        if review["comment"] is not None:
            out["comment"] = review["comment"]
        if review["reply"]:
            out["reviewReply"] = dict(review["reply"])
        return out


def _order_key(order: str):
    if order.startswith("rating"):
        return lambda review: [review["rating"], review["seq"]]
    return lambda review: [round(review["updated"] * 1_000_000), review["seq"]]


def _not_found() -> Response:
    return error(404, "Requested entity was not found.", "notFound")
