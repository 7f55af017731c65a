"""Platform simulators: small local HTTP servers that follow each platform's documented contract.

Tests point connectors at them over real HTTP; `inbox run --demo` runs the real connectors
against them. `SIMULATORS` maps a connector type to its simulator class.
"""

from __future__ import annotations

import importlib

from connectors.sandbox.base import Simulator

# connector type -> "module:Class" under connectors.sandbox
_KNOWN = {
    "x": "x:XSimulator",
    "facebook": "facebook:FacebookSimulator",
    "instagram": "instagram:InstagramSimulator",
    "whatsapp": "whatsapp:WhatsAppSimulator",
    "youtube": "youtube:YouTubeSimulator",
    "tiktok": "tiktok:TikTokSimulator",
    "linkedin": "linkedin:LinkedInSimulator",
    "google_reviews": "google_reviews:GoogleReviewsSimulator",
    "play_store": "play_store:PlayStoreSimulator",
    "app_store": "app_store:AppStoreSimulator",
    "mastodon": "mastodon:MastodonSimulator",
    "rss": "rss:RssSimulator",
}


def simulator_class(type_: str) -> type[Simulator]:
    """Return the simulator class for a connector type; KeyError when there is none."""
    module, _, name = _KNOWN[type_].partition(":")
    return getattr(importlib.import_module(f"connectors.sandbox.{module}"), name)


def simulator_types() -> list[str]:
    """The connector types that have a simulator module in this checkout."""
    found = []
    for type_ in _KNOWN:
        try:
            simulator_class(type_)
        except (ImportError, AttributeError):
            continue
        found.append(type_)
    return found
