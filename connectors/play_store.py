"""Google Play Developer API: an app's reviews and the developer's replies.

Contract: platform-apis.md §5.2. Verified [V]: `GET androidpublisher/v3/applications/{package}/
reviews` with `maxResults`, `token` ← `tokenPagination.nextPageToken`, `translationLanguage`;
`reviews[]{reviewId, authorName, comments[{userComment{text, lastModified{seconds, nanos},
starRating, reviewerLanguage, device, appVersionName, …}}, {developerComment{text,
lastModified}}]}`; `POST …/reviews/{id}:reply` `{"replyText"}` (create or replace) answering
`{"result": {"replyText", "lastEdited"}}`; scope `androidpublisher`.
Partly verified [P]: the list is newest created-or-modified first and covers only about the
last week, so a channel must poll at least daily; a reply is at most 350 characters (we refuse
longer ones before calling). Assumed [U]: `maxResults` up to 100.

Play dates a review only by `lastModified`. The watermark is on it, so an edited review comes
back; the cursor remembers when each review of the listed window was first seen (`known`, at
most `KNOWN_MAX`, `KNOWN_DAYS`), which gives an edit its `edited_at` and keeps `created_at`.
A review already edited before we first saw it reads as new. The device, app version and
language are not carried: our item has no place for them. The developer's reply is handed out
as an outbound item (`<review id>/reply@<lastModified>`, the id `reply` returns).

Not offered: hide, delete, like, and deleting a reply (Play has none of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from marshmallow import fields, validate

from connectors import register
from connectors.base import Author, Batch, ConnectorError, NormalizedItem, NotAllowed, Target
from connectors.google import GoogleConfig, GoogleConnector, Sweep, from_parts, iso, parse_time
from connectors.http import api_base_field

PAGE_SIZE = 100
MAX_REPLY = 350
KNOWN_DAYS = 10  # Play lists about a week; an edit after this reads as a new review
KNOWN_MAX = 5000


class PlayStoreConfig(GoogleConfig):
    api_base = api_base_field("https://androidpublisher.googleapis.com/")
    package_name = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$",
            error="Enter the app's package name, like com.example.app.",
        ),
    )
    translation_language = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$", error="Use a code like fr."),
        metadata={"description": "Have Google translate reviews into this language (optional)"},
    )


def reply_id(review_id: str, stamp: dict) -> str:
    """The id we give a developer reply: its review, and its version (a reply is replaced)."""
    return f"{review_id}/reply@{iso(_when(stamp))}"


@register
class PlayStoreConnector(GoogleConnector):
    type = "play_store"
    label = "Google Play"
    capabilities = frozenset({"reply"})
    config_schema = PlayStoreConfig
    polls = True
    default_api_base = "https://androidpublisher.googleapis.com/"
    quota_name = "Google Play Developer API"

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.package = self.config["package_name"]
        self.reviews_path = f"androidpublisher/v3/applications/{self.package}/reviews"

    def check(self) -> str:
        self.get_json(self.reviews_path, params={"maxResults": 1})
        return f"Connected to the Google Play reviews of {self.package}"

    def pull(self, cursor: Any) -> Batch:
        """One page of reviews, newest modified first, down to the last sync's watermark."""
        sweep = Sweep(cursor)
        known: dict[str, str] = dict(sweep.extra.get("known") or {})
        params: dict[str, Any] = {"maxResults": PAGE_SIZE}
        if self.config.get("translation_language"):
            params["translationLanguage"] = self.config["translation_language"]
        data = self.get_page(self.reviews_path, params, "token", sweep.page)
        items: list[NormalizedItem] = []
        for review in data.get("reviews") or []:
            user = _comment(review, "userComment")
            if user is None:
                continue
            modified = _when(user["lastModified"])
            if sweep.is_older(modified):
                sweep.page = None
                break
            if sweep.is_new(modified, review["reviewId"]):
                first = known.setdefault(review["reviewId"], iso(modified))
                items += self._items(review, user, parse_time(first), modified)
                sweep.note(modified, review["reviewId"])
        else:
            sweep.page = (data.get("tokenPagination") or {}).get("nextPageToken")
        known = _recent(known)
        if sweep.page:
            return Batch(items, sweep.cursor(known=known), more=True)
        sweep.finish()
        return Batch(items, sweep.cursor(known=known), more=False)

    def _items(
        self, review: dict, user: dict, first: datetime, modified: datetime
    ) -> list[NormalizedItem]:
        review_id = review["reviewId"]
        rating = user.get("starRating")
        items = [
            NormalizedItem(
                external_id=review_id,
                kind="review",
                author=Author(
                    f"reviewer:{review_id}", name=(review.get("authorName") or "")[:255] or None
                ),
                created_at=first,
                body=(user.get("text") or "").strip(),
                thread_id=review_id,
                edited_at=modified if modified > first else None,
                rating=rating if rating in (1, 2, 3, 4, 5) else None,
            )
        ]
        answer = _comment(review, "developerComment")
        if answer and answer.get("lastModified"):
            stamp = answer["lastModified"]
            items.append(
                NormalizedItem(
                    external_id=reply_id(review_id, stamp),
                    kind="review",
                    author=Author(self.package, name="Developer"),
                    created_at=_when(stamp),
                    body=answer.get("text") or "",
                    thread_id=review_id,
                    parent_id=review_id,
                    outbound=True,
                )
            )
        return items

    def reply(self, target: Target, text: str) -> str:
        """Publish the developer's reply (it replaces an earlier one); return its versioned id."""
        self.require("reply")
        if not text.strip():
            raise NotAllowed("An empty reply cannot be published on Google Play.")
        if len(text) > MAX_REPLY:
            raise NotAllowed(
                f"Google Play limits a review reply to {MAX_REPLY} characters; this one has "
                f"{len(text)}. Shorten it and send it again."
            )
        review_id = target.thread_id or target.external_id.split("/", 1)[0]
        path = f"{self.reviews_path}/{quote(review_id, safe='')}:reply"
        answer = self.json_of(self.call("POST", path, json={"replyText": text}))
        stamp = (answer.get("result") or {}).get("lastEdited") if isinstance(answer, dict) else None
        if not stamp:
            raise ConnectorError(
                "Google Play took the reply but did not date it; check the review."
            )
        return reply_id(review_id, stamp)


def _when(stamp: dict) -> datetime:
    """A Play `{seconds, nanos}` time as aware UTC."""
    return from_parts(stamp["seconds"], stamp.get("nanos", 0))


def _comment(review: dict, kind: str) -> dict | None:
    return next((c[kind] for c in review.get("comments") or [] if kind in c), None)


def _recent(known: dict[str, str]) -> dict[str, str]:
    """Forget reviews first seen long before the newest one: Play no longer lists them."""
    if not known:
        return known
    newest = parse_time(max(known.values()))
    kept = [(k, v) for k, v in known.items() if (newest - parse_time(v)).days < KNOWN_DAYS]
    kept.sort(key=lambda pair: pair[1], reverse=True)
    return dict(kept[:KNOWN_MAX])
