"""Copying everything from one database to another (`scorelet copy`), either direction.

Touchpoints (with their token versions and policies), retired slugs, API
keys (hashed), dashboard accounts, settings, people's traits, ratings with
their ids, times, comments, context and person, impressions, and the
displays kept per person go across; rollups are rebuilt on the target by
its own fold and checked against a recount of its raw rows. Every step
matches what is already there (touchpoints by slug, keys, accounts and
ratings by id, impressions per hour as "at least", a person's displays by
time), so running the same copy again changes nothing and an interrupted
copy can simply be run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

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
    )
