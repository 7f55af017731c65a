"""The demo's platforms: simulators on loopback ports, with real connectors pointed at them.

`inbox run --demo` starts one simulator per platform (from `connectors/sandbox/`), gives each
a small backlog and live traffic, and keeps one channel per platform whose config points the
real connector at its simulator. Polling platforms are pulled by the normal schedule;
push-only platforms deliver signed webhooks to `/hooks/<id>` like the real ones. So the demo
runs the code a production channel runs; only the far end is local.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass

import sqlalchemy as sa

from connectors import connector_class
from connectors.sandbox import simulator_class, simulator_types
from connectors.sandbox.base import Simulator
from inbox import db
from inbox.channels import create_channel, update_channel
from inbox.models import Channel

log = logging.getLogger(__name__)

BACKLOG = 6
TRAFFIC_EVERY = 45.0  # seconds between bursts, on average, per platform
NAME_SUFFIX = " · Maison Lumière (simulateur)"


@dataclass
class Running:
    type: str
    simulator: Simulator
    channel_id: int


def start(team_id: int, hook_base: str, *, traffic_every: float = TRAFFIC_EVERY) -> list[Running]:
    """Start every simulator, point a channel at each, and start their traffic."""
    running = []
    for type_ in simulator_types():
        try:
            running.append(_start_one(type_, team_id, hook_base, traffic_every))
        except Exception:  # one broken simulator must not keep the demo from starting
            log.exception("the %s simulator did not start", type_)
    return running


def _start_one(type_: str, team_id: int, hook_base: str, traffic_every: float) -> Running:
    cls = connector_class(type_)
    sim = simulator_class(type_)(seed="demo", page_size=20)
    sim.start()
    name = cls.label + NAME_SUFFIX
    s = db.session()
    channel = s.scalar(sa.select(Channel).where(Channel.type == type_, Channel.name == name))
    if channel is None:
        channel = create_channel(
            {
                "type": type_,
                "name": name,
                "team_id": team_id,
                "config": sim.channel_config(),
                "poll_interval": 10,
            }
        )
    else:  # the simulator listens on a new port at each start
        update_channel(channel, {"config": sim.channel_config(), "enabled": True})
    if cls.polls:
        sim.add_inbound(BACKLOG)
        sim.start_traffic(every=traffic_every)
    else:
        url = f"{hook_base.rstrip('/')}/hooks/{channel.id}"
        _push_loop(sim, url, traffic_every)
    return Running(type_, sim, channel.id)


def _push_loop(sim: Simulator, url: str, every: float) -> None:
    """Deliver signed webhooks to the inbox every so often, as the platform would."""
    rng = random.Random(sim.type)
    stop = threading.Event()

    def loop() -> None:
        first = True
        while not stop.wait(3.0 if first else rng.uniform(every * 0.5, every * 1.5)):
            try:
                sim.deliver(url, BACKLOG if first else rng.randint(1, 2))
            except Exception as exc:  # the inbox may still be starting; try again later
                log.info("demo delivery to %s failed: %s", url, exc)
                continue
            first = False

    threading.Thread(target=loop, name=f"sandbox-{sim.type}-push", daemon=True).start()


def stop(running: list[Running]) -> None:
    for r in running:
        r.simulator.stop()
