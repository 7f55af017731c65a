"""Google Business Profile reviews (My Business API v4): customer reviews and owner replies.

Contract: platform-apis.md §5.1. Verified [V]: `GET v4/accounts/{a}/locations/{l}/reviews` with
`pageSize` (at most 50), `orderBy=updateTime desc`, `pageToken` ← `nextPageToken` (absent on
the last page); the `Review` fields (`starRating` is an enum ONE..FIVE, `comment` may be
absent on rating-only reviews, `createTime`/`updateTime`, `reviewReply{comment, updateTime}`);
`PUT …/reviews/{id}/reply` with `{"comment"}` (create or update, at most 4096 bytes).

An edited review comes back with the same id and a newer `updateTime`, so the watermark on
`updateTime` hands it out again with `edited_at` for ingest to update. The owner's reply is
handed out as an outbound item (`<review id>/reply@<its updateTime>`, the id `reply` returns).
Google gives no reviewer id, so the author id is per review (one review per person and place).
Assumed [U]: answering a review does not move its `updateTime` (if it does, the review is
handed out again and shown as edited). `check` reads one review (the v4 location endpoint is
retired; this also proves the reviews scope).

Not offered: hide, delete, like (Google has none for customer reviews); deleting our reply
(`DELETE …/reply` exists, but the inbox's actions apply to the review, and `delete` there would
read as deleting the customer's review).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from marshmallow import fields, validate

from connectors import register
from connectors.base import Author, Batch, ConnectorError, NormalizedItem, NotAllowed, Target
from connectors.google import GoogleConfig, GoogleConnector, Sweep, iso, parse_time
from connectors.http import api_base_field

STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
PAGE_SIZE = 50
MAX_REPLY_BYTES = 4096
ID = validate.Regexp(r"^[0-9]{1,40}$", error="Use the numeric id from the resource name.")


class GoogleReviewsConfig(GoogleConfig):
    api_base = api_base_field("https://mybusiness.googleapis.com/")
    account_id = fields.String(
        required=True, validate=ID, metadata={"description": "The account id (accounts/{id})"}
    )
    location_id = fields.String(
        required=True, validate=ID, metadata={"description": "The location id (locations/{id})"}
    )


def reply_id(review_id: str, updated: str) -> str:
    """The id we give an owner reply: its review, and its version (a reply is replaced)."""
    return f"{review_id}/reply@{iso(parse_time(updated))}"


@register
class GoogleReviewsConnector(GoogleConnector):
    type = "google_reviews"
    label = "Google Business Profile"
    capabilities = frozenset({"reply"})
    config_schema = GoogleReviewsConfig
    polls = True
    default_api_base = "https://mybusiness.googleapis.com/"
    quota_name = "Business Profile API"

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.location = f"accounts/{config['account_id']}/locations/{config['location_id']}"
        self.reviews_path = f"v4/{self.location}/reviews"

    def check(self) -> str:
        data = self.get_json(self.reviews_path, params={"pageSize": 1})
        count, average = data.get("totalReviewCount", 0), data.get("averageRating") or 0
        return (
            f"Connected to the Business Profile location {self.location}: "
            f"{count} reviews, {average:.1f} stars on average"
        )

    def pull(self, cursor: Any) -> Batch:
        """One page of reviews, newest update first, down to the last sync's watermark."""
        sweep = Sweep(cursor)
        params = {"pageSize": PAGE_SIZE, "orderBy": "updateTime desc"}
        data = self.get_page(self.reviews_path, params, "pageToken", sweep.page)
        items: list[NormalizedItem] = []
        for review in data.get("reviews") or []:
            updated = parse_time(review["updateTime"])
            if sweep.is_older(updated):
                sweep.page = None
                break
            if sweep.is_new(updated, review["reviewId"]):
                items += self._items(review)
                sweep.note(updated, review["reviewId"])
        else:
            sweep.page = data.get("nextPageToken")
        if sweep.page:
            return Batch(items, sweep.cursor(), more=True)
        sweep.finish()
        return Batch(items, sweep.cursor(), more=False)

    def _items(self, review: dict) -> list[NormalizedItem]:
        review_id = review["reviewId"]
        reviewer = review.get("reviewer") or {}
        created, updated = parse_time(review["createTime"]), parse_time(review["updateTime"])
        items = [
            NormalizedItem(
                external_id=review_id,
                kind="review",
                author=Author(
                    f"reviewer:{review_id}", name=(reviewer.get("displayName") or "")[:255] or None
                ),
                created_at=created,
                body=review.get("comment") or "",
                thread_id=review_id,
                edited_at=updated if updated > created else None,
                rating=STARS.get(review.get("starRating", "")),
            )
        ]
        answer = review.get("reviewReply")
        if answer and answer.get("updateTime"):
            items.append(
                NormalizedItem(
                    external_id=reply_id(review_id, answer["updateTime"]),
                    kind="review",
                    author=Author(self.location, name="Owner"),
                    created_at=parse_time(answer["updateTime"]),
                    body=answer.get("comment") or "",
                    thread_id=review_id,
                    parent_id=review_id,
                    outbound=True,
                )
            )
        return items

    def reply(self, target: Target, text: str) -> str:
        """Publish the owner's reply (it replaces an earlier one); return its versioned id."""
        self.require("reply")
        if not text.strip():
            raise NotAllowed("An empty reply cannot be published on Google.")
        size = len(text.encode())
        if size > MAX_REPLY_BYTES:
            raise NotAllowed(
                f"Google limits a review reply to {MAX_REPLY_BYTES} bytes; this one has {size}. "
                "Shorten it and send it again."
            )
        review_id = target.thread_id or target.external_id.split("/", 1)[0]
        path = f"{self.reviews_path}/{quote(review_id, safe='')}/reply"
        answer = self.json_of(self.call("PUT", path, json={"comment": text}))
        if not isinstance(answer, dict) or not answer.get("updateTime"):
            raise ConnectorError("Google took the reply but did not date it; check the review.")
        return reply_id(review_id, answer["updateTime"])
