"""`scorelet import`: historical ratings from a file, with their original times.

The file is read twice: once to check every row (so a bad row stops the import
before anything is stored, unless --skip-bad), once to store the rows in
batches. Ids are stable (importing.py), so running the same import again, or
again after an interruption, stores each rating once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scorelet import importing
from scorelet.config import Settings
from scorelet.importing import Imported, RowError
from scorelet.progress import Progress
from scorelet.store import Store
from scorelet.touchpoints import Touchpoint

BATCH = 1000
SHOWN_ERRORS = 20  # bad rows listed; the rest are counted

Command = Callable[..., argparse.ArgumentParser]


def _cli() -> Any:
    from scorelet import cli  # the shared plumbing (stores, errors)

    return cli


def rows(
    path: Path, fmt: str, touchpoint: Touchpoint, id_column: str | None, bad: list[RowError]
) -> Iterator[Imported]:
    """Every good row of the file; bad ones go to `bad`. A file that can't be read as a
    whole (not UTF-8, not CSV or JSON at all) raises RowError."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            for line, record in importing.records(fmt, text):
                try:
                    yield importing.parse(fmt, line, record, touchpoint, id_column)
                except RowError as error:
                    bad.append(error)
    except UnicodeDecodeError as error:
        raise RowError(0, "file", f"is not UTF-8 text ({error.reason})") from None


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    cli = _cli()
    path: Path = args.file
    if not path.is_file():
        raise cli.CliError(f"can't read {path}: no such file")

    async def run(store: Store) -> tuple[int, int, int, list[RowError]]:
        touchpoint = cli.existing(store, args.touchpoint)
        bad: list[RowError] = []
        total = sum(1 for _ in rows(path, args.format, touchpoint, args.id_column, bad))
        if bad and not args.skip_bad:
            return total, 0, 0, bad
        bar, done, new, tagged = Progress("importing", total), 0, 0, 0
        batch: list[Imported] = []
        for row in rows(path, args.format, touchpoint, args.id_column, []):
            batch.append(row)
            if len(batch) == BATCH:
                new, tagged = await store_batch(store, batch, new, tagged)
                done += len(batch)
                batch = []
                bar.update(done)
        if batch:
            new, tagged = await store_batch(store, batch, new, tagged)
            done += len(batch)
            bar.update(done)
        bar.close()
        return total, new, tagged, bad

    try:
        total, new, tagged, bad = cli.with_store(settings, run)
    except RowError as error:
        raise cli.CliError(f"{path}: {error}") from None
    except OSError as error:
        raise cli.CliError(f"can't read {path}: {error.strerror}") from None
    for row_error in bad[:SHOWN_ERRORS]:
        print(f"{path}: {row_error}", file=sys.stderr)
    if len(bad) > SHOWN_ERRORS:
        print(f"{path}: ... and {len(bad) - SHOWN_ERRORS:,} more bad rows", file=sys.stderr)
    if bad and not args.skip_bad:
        raise cli.CliError(
            f"{len(bad):,} of {len(bad) + total:,} rows can't be imported, so nothing was;"
            " fix them, or add --skip-bad to import the others"
        )
    skipped = f", skipped {len(bad):,} bad rows" if bad else ""
    print(
        f"Imported {new:,} ratings into {args.touchpoint}"
        f" ({total - new:,} were there already{skipped})"
        + (f"; tagged {tagged:,}." if tagged else ".")
    )
    return 0


async def store_batch(
    store: Store, batch: list[Imported], new: int, tagged: int
) -> tuple[int, int]:
    """Store a batch; then give each rating the tags it carried that it lacks (again, after
    an interruption, only what is missing)."""
    new += await store.import_ratings([row.rating for row in batch])
    for row in batch:
        if not row.tags:
            continue
        stored = await store.response(row.rating.id)
        if stored is None:  # its subject had rated already: that rating stays
            continue
        have = {tag.name for tag in stored.tags}
        missing = [tag for tag in row.tags if tag not in have]
        for tag in missing:
            await store.add_tag(row.rating.id, tag)
        tagged += bool(missing)
    return new, tagged


def add_parser(commands: Any, command: Command) -> None:
    importer = command(
        commands,
        "import",
        cmd_import,
        "load historical ratings from a CSV, NDJSON or Delighted file",
        "Load ratings into a touchpoint with their original times, comments, context and tags:"
        " a Scorelet export (csv or ndjson, from any installation) or Delighted's survey"
        " responses as its API lists them (delighted: a JSON array or one object per line;"
        " person_properties become context). Every row is checked first: a bad row is reported"
        " with its line and field, and nothing is imported unless --skip-bad. Importing the"
        " same file again stores nothing twice (rows are matched by id, by --id-column, or by"
        " their content). Scores must fit the touchpoint's scale; notify rules don't run on"
        " imported ratings. A running server counts them within a second. E.g.:\n\n"
        "  scorelet import old.csv --touchpoint checkout",
    )
    importer.add_argument("file", type=Path, metavar="FILE", help="the file to read")
    importer.add_argument(
        "--touchpoint", required=True, metavar="SLUG", help="the touchpoint to load into"
    )
    importer.add_argument(
        "--format",
        choices=importing.FORMATS,
        default="csv",
        help="csv (default), ndjson or delighted",
    )
    importer.add_argument(
        "--id-column",
        metavar="NAME",
        help="a column holding another system's id for each row: rows are matched by it",
    )
    importer.add_argument(
        "--skip-bad", action="store_true", help="import the good rows and report the bad ones"
    )
