"""Ninety days of made-up ratings for the demo touchpoints, so a newcomer sees real trends.

`scorelet demo --history` stores them with their original times through the
store's import. They are plain to spot: every one carries `source: demo` in
its context and lives on a `demo-*` touchpoint, which `scorelet demo --remove`
deletes with everything in it. The same seed makes the same ids, so running
it twice adds nothing the second time. Pure: makes records, stores nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence

from scorelet.store import Response
from scorelet.timeutil import DAY
from scorelet.touchpoints import Touchpoint

DAYS = 90
MARK = {"source": "demo"}
COMMENTS = {
    "low": (
        "Took far too long to get an answer.",
        "The discount code didn't work at checkout.",
        "I was transferred three times.",
        "Page kept timing out on my phone.",
        "Shipping costs only showed at the very end.",
        "Nobody explained why my order was delayed.",
    ),
    "neutral": (
        "Fine, but the form asked for too much.",
        "Okay overall; the search could be better.",
        "Got there in the end.",
        "Helpful, though I had to repeat my order number.",
    ),
    "high": (
        "Quick and easy, thanks!",
        "Alice sorted it out in two minutes.",
        "Love the new checkout.",
        "Very clear answers, friendly too.",
        "Best support I've had this year.",
        "Exactly what I needed.",
    ),
}
AGENTS = {"alice": 0.9, "bob": 0.72, "chen": 0.82, "dara": 0.62, "emil": 0.78}
TEAMS = {"alice": "billing", "bob": "billing", "chen": "tech", "dara": "tech", "emil": "tech"}
PAGES = ("/checkout", "/pricing", "/docs", "/account")
PLANS = ("free", "pro", "team")


def _csat_score(rng: random.Random, satisfied: float, high: int) -> int:
    """A score on 1..high: satisfied answers in the top two boxes, the rest below."""
    if rng.random() < satisfied:
        return high if rng.random() < 0.6 else high - 1
    return rng.randint(1, max(1, high - 2))


def _nps_score(rng: random.Random, progress: float) -> int:
    promoter, detractor = 0.42 + 0.12 * progress, 0.22 - 0.06 * progress
    roll = rng.random()
    if roll < promoter:
        return rng.choice((9, 10))
    if roll < promoter + detractor:
        return rng.randint(2, 6)
    return rng.choice((7, 8))


def _comment(rng: random.Random, group: int) -> str | None:
    if rng.random() > (0.55 if group == 0 else 0.3):
        return None
    return rng.choice(COMMENTS[("low", "neutral", "high")[group]])


def ratings(touchpoints: Sequence[Touchpoint], now: float, seed: int = 8812) -> Iterator[Response]:
    """About 4,400 ratings over the last `DAYS` days, fewer on weekends, slowly improving."""
    rng = random.Random(seed)
    start = now - DAYS * DAY
    for touchpoint in touchpoints:
        daily = {"demo-smileys": 40, "demo-stars": 25}.get(touchpoint.slug, 12)
        for day in range(DAYS):
            weekend = (int((start + day * DAY) // DAY) + 4) % 7 in (5, 6)  # epoch day 0: Thu
            progress = day / DAYS
            for _ in range(rng.randint(daily // 2, daily) // (2 if weekend else 1)):
                at = start + (day + rng.random()) * DAY
                context = dict(MARK)
                if touchpoint.metric == "nps":
                    score = _nps_score(rng, progress)
                    context["plan"] = rng.choice(PLANS)
                elif touchpoint.slug == "demo-smileys":
                    agent = rng.choice(tuple(AGENTS))
                    skill = AGENTS[agent] - (0.15 if agent == "bob" and progress > 0.7 else 0)
                    score = _csat_score(rng, skill, touchpoint.scale.high)
                    context |= {"agent": agent, "team": TEAMS[agent]}
                    context["channel"] = rng.choice(("chat", "chat", "email"))
                else:
                    score = _csat_score(rng, 0.68 + 0.16 * progress, touchpoint.scale.high)
                    context["page"] = rng.choice(PAGES)
                rating_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                yield Response(
                    rating_id,
                    touchpoint.id,
                    score,
                    _comment(rng, touchpoint.group(score)),
                    None,
                    context,
                    at,
                    at,
                )
