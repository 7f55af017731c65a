"""The time watermark of platforms that list newest first with no "since" parameter we trust.

A sync walks the listing until it meets the watermark. When it finishes, the watermark moves
under the newest item found, less an overlap and the time the walk took, so an item written
meanwhile on a post already walked is read next time; the ids already reported inside that
overlap are remembered, so re-reading it reports nothing twice.
"""

from __future__ import annotations

import time
from typing import Any


def close_sync(
    state: dict[str, Any], sync: dict[str, Any], overlap: float, per_second: float = 1
) -> dict[str, Any]:
    """The cursor after a finished sync.

    `state` holds `since` (the watermark) and `seen` (id -> time); `sync` holds `found`
    (id -> time of what this sync reported) and `started` (Unix seconds). Times are in the
    platform's unit: `per_second` is 1 for seconds, 1000 for milliseconds; `overlap` is in
    that unit too.
    """
    known = {**state["seen"], **sync["found"]}
    since = state["since"]
    if known:
        lag = overlap + (time.time() - sync["started"] + 1) * per_second
        since = max(since or 0, max(known.values()) - int(lag))
    seen = {i: t for i, t in known.items() if since is not None and t >= since}
    return {"since": since, "seen": seen, "sync": None}
