"""App Store Connect simulator: one app's customer reviews and the developer's responses.

It checks the bearer token like Apple does: an ES256 JWT whose signature verifies with the
public half of a key pair the simulator generates (its `channel_config()` hands out the private
PEM), with `aud = appstoreconnect-v1`, our issuer and key IDs, and a lifetime of 20 minutes at
most; expired tokens are refused with 401 NOT_AUTHORIZED. Every answer carries
`X-Rate-Limit: user-hour-lim:3600;user-hour-rem:N;`. Review pages are newest first by default,
chained by a `links.next` URL holding an opaque keyset cursor.

Assumed [U]: the 429 answer also carries a standard `Retry-After` (Apple documents no reset
time); the connector honours it when present and waits a fixed time otherwise.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, Response, request

from connectors.sandbox.base import Simulator

APP_ID = "1488977361"
ISSUER_ID = "69a6de7e-2f1c-47e3-e053-5b8c7c11a4d1"
KEY_ID = "SANDBOX7K2"
HOUR_LIMIT = 3600
MAX_TOKEN_LIFETIME = 20 * 60
MAX_LIMIT = 200
PACIFIC = timezone(timedelta(hours=-8))  # Apple dates reviews in Cupertino time
TERRITORIES = {"fr": ["FRA", "FRA", "BEL", "CHE"], "en": ["GBR", "USA", "IRL"]}


def error(status: int, code: str, title: str, detail: str) -> Response:
    """Apple's JSON:API error document."""
    body = {
        "errors": [
            {"id": str(uuid.uuid4()), "status": str(status), "code": code, "title": title}
            | {"detail": detail}
        ]
    }
    return Response(json.dumps(body), status, mimetype="application/json")


def _cursor(created: int, review_id: str) -> str:
    raw = json.dumps([created, review_id]).encode()
    return "AQ." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(value: str) -> tuple[int, str] | None:
    try:
        raw = value.removeprefix("AQ.")
        created, review_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return int(created), str(review_id)
    except (ValueError, TypeError):
        return None


class AppStoreSimulator(Simulator):
    type = "app_store"
    pushes = False

    def __init__(self, **kwargs: Any):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.public_key = self.private_key.public_key()
        self.reviews: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, dict[str, Any]] = {}  # review id -> our response
        self.used = 0
        self._last_created = 0
        super().__init__(**kwargs)

    # -- credentials ------------------------------------------------------------------------

    def private_key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def channel_config(self) -> dict[str, Any]:
        return {
            "issuer_id": ISSUER_ID,
            "key_id": KEY_ID,
            "private_key": self.private_key_pem(),
            "app_id": APP_ID,
            "api_base": self.base_url,
        }

    def authorized(self) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        token = header.removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                audience="appstoreconnect-v1",
                issuer=ISSUER_ID,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return kid == KEY_ID and claims["exp"] - claims["iat"] <= MAX_TOKEN_LIFETIME

    def auth_error(self) -> Response:
        return error(
            401,
            "NOT_AUTHORIZED",
            "Authentication credentials are missing or invalid.",
            "The bearer token is missing, badly signed or expired; sign a new one.",
        )

    def rate_limited(self, reset_at: float) -> Response:
        response = error(
            429,
            "RATE_LIMIT_EXCEEDED",
            "The request rate limit has been reached.",
            "We've received too many requests for this API. Please wait and try again.",
        )
        response.headers["Retry-After"] = str(max(1, round(reset_at - time.time())))
        response.headers["X-Rate-Limit"] = f"user-hour-lim:{HOUR_LIMIT};user-hour-rem:0;"
        return response

    # -- traffic ----------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        ids = []
        with self.lock:
            for _ in range(count):
                message = self.traffic.review()
                created = max(int(time.time()), self._last_created)
                self._last_created = created
                review_id = str(uuid.uuid4())  # a restarted demo must not reuse an id
                self.reviews[review_id] = {
                    "id": review_id,
                    "rating": message.rating,
                    "title": message.title,
                    "body": message.text,
                    "nickname": message.author.name.split()[0] + str(int(message.author.id) % 97),
                    "territory": self.traffic.rng.choice(TERRITORIES[message.author.lang]),
                    "created": created,
                }
                ids.append(review_id)
        return ids

    # -- API --------------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.after_request(self._budget_header)
        app.add_url_rule("/v1/apps/<app_id>", view_func=self._app)
        app.add_url_rule("/v1/apps/<app_id>/customerReviews", view_func=self._reviews)
        app.add_url_rule("/v1/customerReviewResponses", view_func=self._respond, methods=["POST"])
        app.add_url_rule(
            "/v1/customerReviewResponses/<response_id>",
            view_func=self._delete_response,
            methods=["DELETE"],
        )

    def _budget_header(self, response: Response) -> Response:
        with self.lock:
            self.used += 1
            if "X-Rate-Limit" not in response.headers:
                remaining = max(0, HOUR_LIMIT - self.used)
                response.headers["X-Rate-Limit"] = (
                    f"user-hour-lim:{HOUR_LIMIT};user-hour-rem:{remaining};"
                )
        return response

    def _app(self, app_id: str) -> Response:
        if app_id != APP_ID:
            return self._not_found("apps", app_id)
        return self._json(
            {
                "data": {
                    "type": "apps",
                    "id": APP_ID,
                    "attributes": {
                        "name": "Maison Lumière",
                        "bundleId": "com.maisonlumiere.shop",
                        "sku": "MLSHOP01",
                        "primaryLocale": "fr-FR",
                    },
                    "links": {"self": f"{self.base_url}/v1/apps/{APP_ID}"},
                },
                "links": {"self": request.url},
            }
        )

    def _reviews(self, app_id: str) -> Response:
        if app_id != APP_ID:
            return self._not_found("apps", app_id)
        args = request.args
        sort = args.get("sort", "-createdDate")
        if sort not in ("createdDate", "-createdDate"):
            return self._bad_parameter("sort", sort)
        limit_text = args.get("limit", "50")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            return self._bad_parameter("limit", limit_text)
        after = _uncursor(args["cursor"]) if args.get("cursor") else None
        if args.get("cursor") and after is None:
            return self._bad_parameter("cursor", args["cursor"])
        limit = min(int(limit_text), self.page_size)
        newest_first = sort.startswith("-")

        def key(review: dict[str, Any]) -> tuple[int, str]:
            return review["created"], review["id"]

        with self.lock:
            ordered = sorted(self.reviews.values(), key=key, reverse=newest_first)
            if after is not None:  # keyset: only what sorts after the last review sent
                ordered = [
                    r for r in ordered if (key(r) < after if newest_first else key(r) > after)
                ]
            page, rest = ordered[:limit], ordered[limit:]
            body: dict[str, Any] = {
                "data": [self._review_resource(r) for r in page],
                "links": {"self": request.url},
                "meta": {"paging": {"total": len(self.reviews), "limit": limit}},
            }
            if "response" in args.get("include", "").split(","):
                body["included"] = [
                    self._response_resource(self.responses[r["id"]])
                    for r in page
                    if r["id"] in self.responses
                ]
        if rest and page:
            query = {k: v for k, v in args.items() if k != "cursor"}
            query["cursor"] = _cursor(*key(page[-1]))
            body["links"]["next"] = f"{self.base_url}{request.path}?{urlencode(query)}"
        return self._json(body)

    def _respond(self) -> Response:
        try:
            data = request.get_json(force=True)["data"]
            assert data["type"] == "customerReviewResponses"
            text = data["attributes"]["responseBody"]
            review = data["relationships"]["review"]["data"]
            assert review["type"] == "customerReviews" and isinstance(text, str) and text.strip()
        except (TypeError, KeyError, AssertionError, ValueError):
            return error(
                409,
                "ENTITY_ERROR",
                "The provided entity is invalid",
                "A customerReviewResponses resource needs a responseBody and a review.",
            )
        with self.lock:
            if review["id"] not in self.reviews:
                return self._not_found("customerReviews", review["id"])
            # one response per review: a new one replaces the old
            response = {
                "id": str(uuid.uuid4()),
                "review": review["id"],
                "body": text,
                "modified": int(time.time()),
            }
            self.responses[review["id"]] = response
            resource = self._response_resource(response)
        return self._json({"data": resource, "links": {"self": request.url}}, 201)

    def _delete_response(self, response_id: str) -> Response:
        with self.lock:
            for review_id, response in list(self.responses.items()):
                if response["id"] == response_id:
                    del self.responses[review_id]
                    return Response(status=204)
        return self._not_found("customerReviewResponses", response_id)

    # -- shapes -----------------------------------------------------------------------------

    def _review_resource(self, review: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/v1/customerReviews/{review['id']}"
        resource = {
            "type": "customerReviews",
            "id": review["id"],
            "attributes": {
                "rating": review["rating"],
                "title": review["title"],
                "body": review["body"],
                "reviewerNickname": review["nickname"],
                "createdDate": datetime.fromtimestamp(review["created"], PACIFIC).isoformat(),
                "territory": review["territory"],
            },
            "relationships": {
                "response": {
                    "links": {
                        "self": f"{url}/relationships/response",
                        "related": f"{url}/response",
                    }
                }
            },
            "links": {"self": url},
        }
        response = self.responses.get(review["id"])
        if response is not None:
            resource["relationships"]["response"]["data"] = {
                "type": "customerReviewResponses",
                "id": response["id"],
            }
        return resource

    def _response_resource(self, response: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "customerReviewResponses",
            "id": response["id"],
            "attributes": {
                "responseBody": response["body"],
                "lastModifiedDate": datetime.fromtimestamp(
                    response["modified"], PACIFIC
                ).isoformat(),
                "state": "PENDING_PUBLISH",
            },
            "relationships": {
                "review": {"data": {"type": "customerReviews", "id": response["review"]}}
            },
            "links": {"self": f"{self.base_url}/v1/customerReviewResponses/{response['id']}"},
        }

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status, mimetype="application/json")

    def _not_found(self, kind: str, id_: str) -> Response:
        return error(
            404,
            "NOT_FOUND",
            "The specified resource does not exist",
            f"There is no resource of type '{kind}' with id '{id_}'",
        )

    def _bad_parameter(self, name: str, value: str) -> Response:
        return error(
            400,
            "PARAMETER_ERROR.INVALID",
            "A parameter has an invalid value",
            f"'{value}' is not a valid value for the parameter '{name}'",
        )
