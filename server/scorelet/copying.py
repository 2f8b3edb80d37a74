"""Copying everything from one database to another (`scorelet copy`), either direction.

Touchpoints (with their token versions and policies), retired slugs, API
keys (hashed), dashboard accounts, settings, destinations (secrets
included), rules and digests (with the last period each sent), people's
traits, ratings with their ids, times, comments, context, person, tags and
issues, impressions, and the displays kept per person go across; rollups
are rebuilt on the target by its own fold and checked against a recount of
its raw rows. Every step matches what is already there (touchpoints by
slug, keys, accounts and ratings by id, destinations, rules and digests by
name, impressions per hour as "at least", a person's displays by time), so
running the same copy again changes nothing and an interrupted copy can
simply be run again. The outbox stays behind: deliveries were for the
source's receivers at the source's time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from scorelet.routing.destinations import NewDestination
from scorelet.store import ResponseQuery, Store
from scorelet.store.interface import Registry, RollupCheck


class CopyRefused(Exception):
    """The target holds data of its own; merging into it must be asked for."""


@dataclass(frozen=True)
class Copied:
    touchpoints: int
    keys: int
    ratings: int  # new on the target
    already: int  # there from an earlier run
    impression_hours: int
    check: RollupCheck
    routing: int = 0  # destinations, rules and digests new on the target


def rating_count(store: Store) -> int:
    return sum(sum(store.totals(tp.id)[0].values()) for tp in store.touchpoints())


def foreign_data(source: Registry, source_store: Store, target: Store) -> list[str]:
    """What the target holds that didn't come from the source (empty: it is new, or an
    earlier copy of it)."""
    slugs = {tp.slug: tp for tp in source.touchpoints}
    keys = {key.id for key in source.keys}
    found = []
    for touchpoint in target.touchpoints():
        mine = slugs.get(touchpoint.slug)
        if mine is None:
            found.append(f"touchpoint {touchpoint.slug!r}")
        elif sum(target.totals(touchpoint.id)[0].values()) > sum(
            source_store.totals(mine.id)[0].values()
        ):
            found.append(f"more ratings of {touchpoint.slug!r} than the source has")
    found += [f"API key {key.id}" for key in target.api_keys() if key.id not in keys]
    return found


async def copy_everything(
    source: Store,
    target: Store,
    merge: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Copied:
    """Copy `source` into `target`; CopyRefused if the target has data of its own and
    `merge` is off."""
    registry = await source.registry()
    if not merge and (foreign := foreign_data(registry, source, target)):
        listed = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise CopyRefused(
            f"the target already holds data of its own ({listed}); add --merge to add the"
            " source's to it"
        )
    await target.restore_registry(registry)
    routing = await copy_routing(source, target)
    total, done, new, hours = rating_count(source), 0, 0, 0
    progress(0, total)
    for touchpoint in registry.touchpoints:
        there = target.touchpoint(touchpoint.slug)
        assert there is not None  # restore_registry made it
        async for page in source.iter_responses(ResponseQuery(touchpoint.id)):
            moved = [replace(rating, touchpoint_id=there.id) for rating in page]
            new += await target.import_ratings(moved)
            done += len(page)
            progress(done, total)
        shown = await source.impression_hours(touchpoint.id)
        if shown:
            await target.restore_impressions(there.id, shown)
            hours += len(shown)
        kept = await source.person_displays(touchpoint.id)
        if kept:
            await target.restore_person_displays(there.id, kept)
    while await target.fold():
        pass
    return Copied(
        len(registry.touchpoints),
        len(registry.keys),
        new,
        done - new,
        hours,
        await target.recount(),
        routing,
    )


async def copy_routing(source: Store, target: Store) -> int:
    """Destinations, then the rules and digests that name them, unless the target has one
    of that name; returns how many were new. A destination a receiver's 410 disabled
    arrives enabled (`scorelet destination test` on the target tells)."""
    copied = 0
    have = {destination.name for destination in await target.destinations()}
    for d in await source.destinations():
        if d.name not in have:
            new = NewDestination(d.name, d.kind, d.url, d.secret, d.team, d.priority, d.labels)
            await target.create_destination(new)
            copied += 1
    have = {rule.name for rule in await target.rules()}
    for rule in await source.rules():
        if rule.name not in have:
            await target.create_rule(rule)
            copied += 1
    have = {digest.name for digest in await target.digests()}
    for digest in await source.digests():
        if digest.name not in have:
            await target.create_digest(digest)
            copied += 1
    return copied
