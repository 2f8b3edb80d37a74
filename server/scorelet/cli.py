"""The `scorelet` command: run the server and manage touchpoints, keys and tokens.

Commands other than `serve` open the database file directly, so they work
whether or not the server is running; a running server picks up their
changes within a second. Only `serve` and `init` create a data directory;
every other command refuses a missing one, naming the path it looked at.
Tags and links point at the running server's address (see instance.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from scorelet import __version__, datadir, export, import_cli, routing_cli
from scorelet.accounts import LINK_TTL, Accounts
from scorelet.api.problems import problem_of
from scorelet.config import Settings, SettingsError, check_database_url, load_settings
from scorelet.datadir import DataDirError
from scorelet.demo import DEMO_ORDER, is_demo
from scorelet.eligibility import GLOBAL_SETTINGS, check_setting
from scorelet.errors import Problem
from scorelet.instance import AlreadyServing, Claim, ListenError, listen, running_url
from scorelet.mint import DEFAULT_IDENTITY_TTL, DEFAULT_TTL, mint_identity_token, mint_subject_token
from scorelet.people import check_person
from scorelet.ratings import Ratings, Window
from scorelet.signing import signing_settings, signing_settings_async
from scorelet.store import ResponseQuery, StorageError, Store, User
from scorelet.timeutil import iso, parse_instant
from scorelet.tokens import Signer
from scorelet.touchpoints import (
    BRAND_FIELDS,
    POLICY_FIELDS,
    TEXT_LIMITS,
    Touchpoint,
    changed_fields,
    group_range,
    new_touchpoint_fields,
)
from scorelet.validation import check_uuid
from scorelet.views import ScoreView

T = TypeVar("T")

EPILOG = """\
first steps:
  scorelet serve                                   start the server (http://127.0.0.1:8000)
  scorelet init                                    or only create the data directory
  scorelet touchpoint add checkout --metric csat   ask "how did we do?" at checkout
  scorelet embed checkout                          print the <script> tag to paste
  scorelet key create --scope read                 a key for the score endpoints
  scorelet user add you@example.com --role admin   an account for the dashboard
  scorelet score checkout                          the CSAT so far
  scorelet destination add fires --type slack --url URL
  scorelet rule add lows --score 1..2 --notify fires   1-2 stars go to Slack

Settings come from SCORELET_DATA, SCORELET_SECRET, SCORELET_HOST, SCORELET_PORT
and SCORELET_PUBLIC_URL; flags override them. Run `scorelet COMMAND --help` for more.
"""


class CliError(Exception):
    """A problem worth one line on stderr and exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        check_database_url("--database", args.database)
        settings = load_settings().with_overrides(
            data_dir=args.data,
            database_url=args.database,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
        )
        if not args.creates_data and settings.database_url is None:
            datadir.require(settings.data_dir, data_source(args))
        result: int = args.run(args, settings)
        return result
    except (CliError, SettingsError, DataDirError, AlreadyServing, ListenError) as error:
        print(f"scorelet: error: {error}", file=sys.stderr)
    except (Problem, StorageError) as error:
        problem = problem_of(error)
        field = f" ({problem.field})" if problem.field else ""
        print(f"scorelet: error{field}: {problem.detail}", file=sys.stderr)
    except KeyboardInterrupt:
        print("scorelet: interrupted", file=sys.stderr)
        return 130
    return 1


# -- plumbing -------------------------------------------------------------------


def data_source(args: argparse.Namespace) -> str:
    """Which setting named the data directory, for messages that name it."""
    if args.data is not None:
        return "--data"
    return "SCORELET_DATA" if os.environ.get("SCORELET_DATA") else "default"


def with_store(settings: Settings, action: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        try:
            store = await Store.open(settings.storage, settings.synchronous)
        except (StorageError, sqlite3.Error, RuntimeError) as error:
            raise CliError(f"can't open the database {settings.storage_name}: {error}") from None
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


def existing(store: Store, slug: str) -> Touchpoint:
    touchpoint = store.touchpoint(slug)
    if touchpoint is None:
        known = ", ".join(tp.slug for tp in store.touchpoints()) or "none yet"
        raise CliError(f"no touchpoint is named {slug!r} (known: {known})")
    return touchpoint


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def signer_for(settings: Settings) -> Signer:
    return Signer(signing_settings(settings).secrets)


async def async_signer(settings: Settings) -> Signer:
    """`signer_for` inside a command's event loop."""
    return Signer((await signing_settings_async(settings)).secrets)


def public_base(settings: Settings, base_url: str | None = None) -> str:
    """Where browsers reach Scorelet: --base-url, SCORELET_PUBLIC_URL, else the running server.

    With none of them the address is a guess from SCORELET_HOST/PORT, and a
    note on stderr says so: a tag pointing at a port nobody serves renders nothing.
    """
    if base_url:
        return base_url.rstrip("/")
    if settings.public_url:
        return settings.public_url.rstrip("/")
    running = running_url(settings.data_dir)
    if running:
        return running
    print(
        f"scorelet: note: no server is running on {settings.data_dir.resolve()}, so this"
        f" assumes {settings.base_url}; start `scorelet serve` first, or set"
        " SCORELET_PUBLIC_URL to the address browsers reach Scorelet at",
        file=sys.stderr,
    )
    return settings.base_url


def embed_tag(settings: Settings, touchpoint: Touchpoint, base_url: str | None) -> str:
    token = signer_for(settings).mint_embed(touchpoint.slug, touchpoint.token_version)
    return f'<script src="{public_base(settings, base_url)}/s/{token}.js" async></script>'


OFF = object()  # `--max-displays 0`, `--anniversary-window off`: no such rule


def count_or_off(text: str) -> int | object:
    """A whole number, where 0 means "no limit" (`--max-displays`)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0: no limit)")
    return int(text) or OFF


def days_or_off(text: str) -> int | object:
    """A number of days, or `off` (`--anniversary-window`)."""
    if text == "off":
        return OFF
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days or off")
    return int(text)


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    return key, value


# -- serve ------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from scorelet.app import create_app

    settings = settings.with_overrides(access_log=args.access_log or None)
    datadir.ensure(settings.data_dir)
    claim = Claim(settings.data_dir)  # before anything else opens the database
    try:
        first_start = asyncio.run(initialize(settings))
        settings = signing_settings(settings)
        no_admin = not any(user.admin for user in with_store(settings, _users))
        sock = listen(settings.host, settings.port)
        settings = settings.with_overrides(port=sock.getsockname()[1])
        claim.publish(settings.base_url)
        configure_logging(args.verbose)
        app = create_app(
            settings, on_ready=lambda store: banner(settings, store, first_start, no_admin)
        )
        config = uvicorn.Config(
            app,
            loop="auto",
            http="auto",
            lifespan="on",
            access_log=settings.access_log,
            log_level="warning" if not args.verbose else "info",
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its clean shutdown
            print("Scorelet stopped.", file=sys.stderr)
        finally:
            sock.close()
    finally:
        claim.release()
    return 0 if server.started else 1


async def initialize(settings: Settings, demos: bool = True) -> bool:
    try:
        return await datadir.initialize(settings, demos)
    except (StorageError, sqlite3.Error, RuntimeError) as error:
        raise CliError(f"can't open the database {settings.storage_name}: {error}") from None


def configure_logging(verbose: bool) -> None:
    """Scorelet's own warnings (refused origins, storage trouble) on stderr, with the time."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s scorelet: %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("scorelet")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


async def _users(store: Store) -> list[User]:
    return await store.users()


def banner(settings: Settings, store: Store, first_start: bool, no_admin: bool = False) -> None:
    base = settings.base_url
    data = "" if settings.data_dir == Settings().data_dir else f" --data {settings.data_dir}"
    lines = [
        f"Scorelet {__version__} is running at {base}",
        f"  data: {settings.storage_name}" + (" (created)" if first_start else ""),
        f"  dashboard: {base}/dashboard   API: {base}/openapi.json   health: {base}/healthz",
    ]
    if no_admin:
        lines.append(
            f"  no dashboard admin yet: make yours with `{invocation()} user add"
            f" you@example.com --role admin{data}` (it prints a link to choose a password)"
        )
    if settings.public_url:
        lines.insert(1, f"  listening on {settings.host} port {settings.port}")
    if any(is_demo(tp.slug) for tp in store.touchpoints()):
        lines.append(f"  demo: open {base}/ to try three live demo widgets")
    if all(is_demo(tp.slug) for tp in store.touchpoints()):
        me = invocation()
        lines += [
            "Next, in another terminal:",
            f"  {me} touchpoint add checkout --metric csat{data}",
            f"  {me} embed checkout{data}        # the <script> tag to paste into a page",
            f"  {me} key create --scope read{data}",
        ]
    lines.append("Press Ctrl+C to stop.")
    print("\n".join(lines), file=sys.stderr, flush=True)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    datadir.ensure(settings.data_dir)
    where = settings.storage_name if settings.database_url else settings.data_dir.resolve()
    if not asyncio.run(initialize(settings, demos=not args.no_demos)):
        kind = "database" if settings.database_url else "data directory"
        print(f"{where} is already a Scorelet {kind}; nothing changed.")
        return 0
    made = ["the database"]
    if not settings.secrets:
        if settings.database_url:
            made.append("a signing secret, kept in the database for every Scorelet process")
        else:
            made.append("a signing secret (readable only by you)")
    if not args.no_demos:
        made.append("three demo touchpoints")
    print(f"Created {where}: {', '.join(made)}.")
    data = "" if settings.data_dir == Settings().data_dir else f" --data {settings.data_dir}"
    if settings.database_url:
        data = " (with the same SCORELET_DATABASE_URL or --database)"
    print(f"Add touchpoints now, or start the server: {invocation()} serve{data}")
    return 0


def invocation() -> str:
    """How to call this command again: `scorelet` if it is on PATH, else its path."""
    program = Path(sys.argv[0])
    on_path = shutil.which("scorelet")
    if program.name != "scorelet" or (on_path and Path(on_path).resolve() == program.resolve()):
        return "scorelet"
    try:
        return str(program.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(program)


# -- touchpoints --------------------------------------------------------------------


def touchpoint_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    names = (*TEXT_LIMITS, *BRAND_FIELDS, "locale", "satisfied_from", "cooldown_days")
    for name in (*names, *POLICY_FIELDS):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = None if value is OFF else value
    if args.origin:
        options["origins"] = args.origin
    if args.comment_prompt_for:
        options["comment_prompts"] = dict(args.comment_prompt_for)
    return options


def cmd_touchpoint_add(args: argparse.Namespace, settings: Settings) -> int:
    fields = new_touchpoint_fields(
        {"slug": args.slug, "metric": args.metric, "scale": args.scale, **touchpoint_options(args)}
    )
    touchpoint = with_store(settings, lambda store: store.create_touchpoint(fields))
    print(f"Added {describe(touchpoint)}.")
    print("Paste this where the widget should appear:")
    print("  " + embed_tag(settings, touchpoint, None))
    return 0


def cmd_touchpoint_update(args: argparse.Namespace, settings: Settings) -> int:
    options = touchpoint_options(args)
    if args.clear_origins:
        options["origins"] = []
    if args.active is not None:
        options["active"] = args.active

    async def update(store: Store) -> Touchpoint:
        touchpoint = existing(store, args.slug)
        if "comment_prompts" in options:  # the groups not named keep their prompts
            kept = {g: p for g, p in touchpoint.public()["comment_prompts"].items() if p}
            options["comment_prompts"] = {**kept, **options["comment_prompts"]}
        fields = changed_fields(touchpoint.metric, touchpoint.scale, options)
        if not fields and not args.rotate_token:
            raise CliError("nothing to change; see `scorelet touchpoint update --help`")
        return await store.update_touchpoint(args.slug, fields, args.rotate_token)

    touchpoint = with_store(settings, update)
    print(f"Updated {describe(touchpoint)}.")
    if args.rotate_token:
        print("Old embed tokens stop working now. The new script tag:")
        print("  " + embed_tag(settings, touchpoint, None))
    return 0


def cmd_touchpoint_list(args: argparse.Namespace, settings: Settings) -> int:
    touchpoints = with_store(settings, _touchpoints)
    if args.json:
        print_json([tp.public() for tp in touchpoints])
    elif not touchpoints:
        print("No touchpoints yet. Add one: scorelet touchpoint add checkout --metric csat")
    for touchpoint in touchpoints if not args.json else []:
        print(describe(touchpoint))
    return 0


async def _touchpoints(store: Store) -> list[Touchpoint]:
    return store.touchpoints()


def cmd_touchpoint_show(args: argparse.Namespace, settings: Settings) -> int:
    async def show(store: Store) -> Touchpoint:
        return existing(store, args.slug)

    touchpoint = with_store(settings, show)
    data: Mapping[str, Any] = touchpoint.public()
    if args.json:
        print_json(data)
        return 0
    for name, value in data.items():
        if name == "origins":
            value = ", ".join(value) if value else "any (no origins configured)"
        elif name == "comment_prompts":
            value = "; ".join(f"{g}: {text or '(widget default)'}" for g, text in value.items())
        elif value is None and name in BRAND_FIELDS:
            value = "(install default)"
        elif value is None:
            value = "(widget default)" if name in TEXT_LIMITS or name == "locale" else "-"
        print(f"{name:>15}: {value}")
    print(f"{'embed':>15}: {embed_tag(settings, touchpoint, None)}")
    return 0


def cmd_touchpoint_remove(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("removing deletes every response too; add --yes to confirm")
        answer = input(f"Remove {args.slug!r} and every response to it? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing removed.")
            return 1

    async def remove(store: Store) -> None:
        existing(store, args.slug)
        await store.delete_touchpoint(args.slug)

    with_store(settings, remove)
    print(f"Removed {args.slug!r}.")
    return 0


def describe(touchpoint: Touchpoint) -> str:
    scale = touchpoint.scale
    state = "" if touchpoint.active else ", paused"
    kind = f"{touchpoint.metric.upper()}, {scale.name} {scale.low}-{scale.high}{state}"
    return f"{touchpoint.slug} ({kind})"


def cmd_embed(args: argparse.Namespace, settings: Settings) -> int:
    async def find(store: Store) -> Touchpoint:
        return existing(store, args.slug)

    touchpoint = with_store(settings, find)
    if args.token:
        print(signer_for(settings).mint_embed(touchpoint.slug, touchpoint.token_version))
    else:
        print(embed_tag(settings, touchpoint, args.base_url))
    return 0


# -- keys, tokens, scores ---------------------------------------------------------------


def cmd_key_create(args: argparse.Namespace, settings: Settings) -> int:
    key, full_key = with_store(settings, lambda store: store.create_api_key(args.scope, args.name))
    print(full_key)
    print(
        f"(key {key.id}, scope {key.scope}; shown only now: store it somewhere safe)",
        file=sys.stderr,
    )
    return 0


def cmd_key_list(args: argparse.Namespace, settings: Settings) -> int:
    async def keys(store: Store) -> list[dict[str, Any]]:
        return [key.public() for key in store.api_keys()]

    rows = with_store(settings, keys)
    if args.json:
        print_json(rows)
    elif not rows:
        print("No API keys yet. Create one: scorelet key create --scope read")
    for row in rows if not args.json else []:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        print(f"{row['id']}  {row['scope']:<5}  {state:<32}  {row['name'] or ''}")
    return 0


def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with_store(settings, lambda store: store.revoke_api_key(args.id))
    print(f"Revoked key {args.id}.")
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    async def find(store: Store) -> Touchpoint:
        return existing(store, args.slug)

    touchpoint = with_store(settings, find)
    minted = mint_subject_token(
        signer_for(settings), touchpoint.slug, args.subject, dict(args.context or []), args.ttl
    )
    rating_url = f"{public_base(settings, args.base_url)}/r/{minted.token}"
    if args.json:
        print_json(
            {
                "token": minted.token,
                "touchpoint": touchpoint.slug,
                "subject": args.subject,
                "expires_at": iso(minted.expires_at),
                "rating_url": rating_url,
            }
        )
    else:
        print(minted.token)
        print(
            f"rating page for an email or SMS link (add ?score=N to preselect a score):"
            f" {rating_url}",
            file=sys.stderr,
        )
    return 0


def cmd_identity(args: argparse.Namespace, settings: Settings) -> int:
    traits = dict(args.trait or [])
    minted = mint_identity_token(signer_for(settings), args.person, traits, args.ttl)
    if args.json:
        print_json(
            {
                "identity": minted.token,
                "person": args.person,
                "traits": traits,
                "expires_at": iso(minted.expires_at),
            }
        )
    else:
        print(minted.token)
        print(
            f"(identity of {args.person!r}, valid until {iso(minted.expires_at)})", file=sys.stderr
        )
    return 0


def cmd_settings_show(args: argparse.Namespace, settings: Settings) -> int:
    async def read(store: Store) -> dict[str, int]:
        stored = store.settings()
        return {name: int(stored.get(name, "0")) for name in GLOBAL_SETTINGS}

    values = with_store(settings, read)
    if args.json:
        print_json(values)
    for name, value in values.items() if not args.json else ():
        print(f"{name}: {value}" + (" (off)" if not value else ""))
    return 0


def cmd_settings_set(args: argparse.Namespace, settings: Settings) -> int:
    try:
        value = check_setting(args.name, args.value)
    except ValueError as error:
        raise CliError(str(error)) from None
    with_store(settings, lambda store: store.save_setting(args.name, value))
    if args.name == "recontact-days":
        what = (
            f"one survey per person every {value} days across touchpoints"
            if int(value)
            else "no global throttle"
        )
        print(f"Set {args.name} to {value}: {what}.")
    return 0


def cmd_people_show(args: argparse.Namespace, settings: Settings) -> int:
    async def show(store: Store) -> dict[str, Any]:
        ratings = Ratings(store, await async_signer(settings))
        return dict(await ratings.person(person_arg(args.person)))

    person = with_store(settings, show)
    if args.json:
        print_json(person)
        return 0
    traits = ", ".join(f"{k}={v}" for k, v in person["traits"].items()) or "-"
    print(f"{person['id']}: traits {traits}; last seen {person['last_seen_at'] or '-'}")
    for rating in person["responses"]:
        print(f"  rated {rating['touchpoint']} {rating['score']} at {rating['created_at']}")
    for display in person["displays"]:
        print(f"  {display['kind']} {display['touchpoint']} at {display['at']}")
    return 0


def cmd_people_forget(args: argparse.Namespace, settings: Settings) -> int:
    person = person_arg(args.person)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("forgetting deletes the person's ratings for good; add --yes to confirm")
        answer = input(f"Erase {person!r}: every rating, display and trait? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing erased.")
            return 1

    async def forget(store: Store) -> tuple[int, int]:
        gone = await Ratings(store, await async_signer(settings)).forget(person)
        return len(gone.responses), sum(gone.impressions.values())

    ratings, displays = with_store(settings, forget)
    print(
        f"Erased {person!r}: {ratings} rating{'s' * (ratings != 1)}, its displays"
        f" ({displays} counted impression{'s' * (displays != 1)}) and traits; every score now"
        " leaves them out."
    )
    return 0


def person_arg(text: str) -> str:
    try:
        return check_person(text, "PERSON_ID")
    except Problem:
        raise CliError(f"{text[:64]!r} is not a person id (1-200 characters)") from None


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    since, until = (instant(args.since, "--since"), instant(args.until, "--until"))
    filters = dict(args.filter or [])

    async def score(store: Store) -> ScoreView:
        touchpoint = existing(store, args.slug)
        ratings = Ratings(store, await async_signer(settings))
        return await ratings.score(touchpoint, Window(since, until, filters))

    body = with_store(settings, score)
    if args.json:
        print_json(body)
    else:
        print(render_score(body))
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from scorelet.progress import Progress

    since, until = (instant(args.since, "--since"), instant(args.until, "--until"))

    async def run(store: Store) -> int:
        touchpoint = existing(store, args.slug)  # before creating any output file
        counts, _ = await store.counts(touchpoint.id, since, until)
        low, high = None, None
        if args.group is not None:
            try:
                low, high = group_range(touchpoint, args.group)
            except ValueError as error:
                raise CliError(f"--group: {error}") from None
            counts = {s: n for s, n in counts.items() if low <= s <= high}
        bar, done = Progress("exporting", sum(counts.values())), 0
        query = ResponseQuery(touchpoint.id, since, until, min_score=low, max_score=high)
        with contextlib.ExitStack() as stack:
            output = (
                stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))  # noqa: ASYNC230
                if args.output
                else sys.stdout
            )
            keys = await store.context_keys(touchpoint.id) if args.format == "csv" else []
            output.write(export.header(args.format, keys))
            async for page in store.iter_responses(query):
                output.write(export.lines(args.format, touchpoint.slug, page, keys))
                done += len(page)
                bar.update(done)
        bar.close()
        return done

    try:
        done = with_store(settings, run)
    except OSError as error:
        raise CliError(f"can't write {args.output}: {error.strerror}") from None
    if args.output:
        print(f"Wrote {done:,} responses to {args.output}.", file=sys.stderr)
    return 0


def instant(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as error:
        raise CliError(f"{flag}: {error}") from None


def render_score(body: ScoreView) -> str:
    name = body["metric"].upper()
    if body["score"] is None:
        return f"{body['touchpoint']}: no responses yet, so no {name}."
    interval = body["interval"]
    unit = "%" if body["metric"] == "csat" else ""
    lines = [
        f"{body['touchpoint']}: {name} {body['score']}{unit} from {body['responses']}"
        f" response{'s' if body['responses'] != 1 else ''}"
        f" (95% interval {interval['low']} to {interval['high']})"
    ]
    if body["metric"] == "csat":
        lines.append(
            f"  satisfied: {body['satisfied']} (scores {body['satisfied_from']}+),"
            f" mean {body['mean']}"
        )
    else:
        groups = {
            "promoters": body["promoters"],
            "passives": body["passives"],
            "detractors": body["detractors"],
        }
        lines.append(
            "  " + ", ".join(f"{g} {s['count']} ({s['percent']}%)" for g, s in groups.items())
        )
    lines.append(
        "  distribution: " + "  ".join(f"{k}:{v}" for k, v in body["distribution"].items())
    )
    if body["impressions"]:
        lines.append(
            f"  impressions: {body['impressions']}, {body['answered_impressions']} of them rated:"
            f" response rate {body['response_rate']}%"
        )
    return "\n".join(lines)


def cmd_responses_show(args: argparse.Namespace, settings: Settings) -> int:
    async def show(store: Store) -> dict[str, Any]:
        ratings = Ratings(store, await async_signer(settings))
        response, touchpoint = await ratings.find(response_id(args.id))
        return dict(response.public(touchpoint.slug))

    rating = with_store(settings, show)
    if args.json:
        print_json(rating)
    else:
        for name, value in rating.items():
            print(f"{name:>10}: {value if value not in (None, {}) else '-'}")
    return 0


def cmd_responses_delete(args: argparse.Namespace, settings: Settings) -> int:
    async def delete(store: Store) -> tuple[str, int]:
        deleted, touchpoint = await Ratings(store, await async_signer(settings)).delete(
            response_id(args.id)
        )
        return (touchpoint.slug if touchpoint else "?"), deleted.score

    slug, score = with_store(settings, delete)
    print(f"Deleted rating {args.id} (score {score} on {slug}); every figure now leaves it out.")
    return 0


def response_id(text: str) -> str:
    try:
        return check_uuid(text, "ID")
    except Problem:
        raise CliError(f"{text!r} is not a rating id (a UUID, as in the API and exports)") from None


# -- demo --------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from scorelet import demo_history
    from scorelet.demo import DEMO_TOUCHPOINTS

    async def run(store: Store) -> list[str]:
        said = []
        if args.remove:
            for touchpoint in [tp for tp in store.touchpoints() if is_demo(tp.slug)]:
                await store.delete_touchpoint(touchpoint.slug)
                said.append(f"Removed {touchpoint.slug} and its ratings.")
            return said or ["There are no demo touchpoints."]
        for fields in DEMO_TOUCHPOINTS:
            if store.touchpoint(fields["slug"]) is None:
                await store.create_touchpoint(new_touchpoint_fields(fields))
                said.append(f"Added {fields['slug']}.")
        if args.history:
            demos = [tp for tp in store.touchpoints() if tp.slug in DEMO_ORDER]
            made = list(demo_history.ratings(demos, store.clock()))
            stored = await store.import_ratings(made)
            said.append(
                f"Added {stored:,} demo ratings over the last {demo_history.DAYS} days"
                f" (marked source=demo){'' if stored else ': they were there already'}."
            )
        return said or ["The demo touchpoints are there; add --history for 90 days of ratings."]

    for line in with_store(settings, run):
        print(line)
    if not args.remove:
        print("Remove them all with: scorelet demo --remove")
    return 0


# -- dashboard accounts -----------------------------------------------------------------


async def accounts_for(settings: Settings, store: Store) -> Accounts:
    """Accounts signing their links with the installation's secrets (the database's too)."""
    return Accounts(store, (await signing_settings_async(settings)).secrets)


def password_link(settings: Settings, token: str) -> str:
    return f"{public_base(settings)}/dashboard/password/{token}"


def print_link(settings: Settings, token: str, email: str) -> None:
    print(
        f"Send {email} this link to choose a password (it works once, for"
        f" {LINK_TTL // 3600} hours):"
    )
    print("  " + password_link(settings, token))


def read_password() -> str:
    line = sys.stdin.readline()
    if not line.strip():
        raise CliError("--password-stdin read no password; pipe it in, e.g. printf %s ... |")
    return line.rstrip("\r\n")


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password() if args.password_stdin else None

    async def add(store: Store) -> tuple[str, str | None]:
        accounts = await accounts_for(settings, store)
        user = await accounts.add(args.email, args.role, password)
        return user.email, None if password is not None else accounts.link_token(user)

    email, token = with_store(settings, add)
    print(f"Added {email} ({args.role}).")
    if token is not None:
        print_link(settings, token, email)
    else:
        print(f"Sign in at {public_base(settings)}/dashboard/login")
    return 0


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    async def users(store: Store) -> list[dict[str, Any]]:
        return [user.public() for user in await store.users()]

    rows = with_store(settings, users)
    if args.json:
        print_json(rows)
    elif not rows:
        print("No dashboard accounts yet. Add one: scorelet user add EMAIL --role admin")
    for row in rows if not args.json else []:
        state = "" if row["password_set"] else "  (has not chosen a password yet)"
        print(f"{row['email']}  {row['role']}{state}")
    return 0


def cmd_user_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(store: Store) -> str:
        return (await (await accounts_for(settings, store)).remove(args.email)).email

    email = with_store(settings, remove)
    print(f"Removed {email}; its dashboard sessions have ended.")
    return 0


def cmd_user_reset(args: argparse.Namespace, settings: Settings) -> int:
    async def reset(store: Store) -> tuple[str, str]:
        accounts = await accounts_for(settings, store)
        user = await accounts.reset(args.email)
        return user.email, accounts.link_token(user)

    email, token = with_store(settings, reset)
    print(f"Cleared the password of {email} and ended its sessions.")
    print_link(settings, token, email)
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from scorelet.store.sqlite.backup import BackupError, backup

    try:
        result = backup(settings.data_dir, args.path, force=args.force)
    except (BackupError, OSError) as error:
        raise CliError(str(error)) from None
    print(f"Backed up {result.responses} responses ({result.size // 1024} KiB) to {result.target}.")
    print(f"Serve the copy with: scorelet serve --data {result.target}")
    return 0


def cmd_copy(args: argparse.Namespace, settings: Settings) -> int:
    from scorelet.copying import CopyRefused, copy_everything
    from scorelet.progress import Progress
    from scorelet.signing import carry_secrets

    here = settings
    other = database_settings(settings, args.to or args.source)
    source, target = (here, other) if args.to else (other, here)
    if source.storage_name == target.storage_name:
        raise CliError("the source and the target are the same database")
    if source.database_url is None:
        datadir.require(source.data_dir, "--from" if args.source else data_source(args))
    if target.database_url is None:
        datadir.ensure(target.data_dir)

    async def run() -> tuple[Any, bool]:
        stores = []
        try:
            for side in (source, target):
                stores.append(await Store.open(side.storage, side.synchronous))
            bar = Progress("copying ratings", 0)  # its total once the source is read

            def shown(done: int, total: int) -> None:
                bar.total = total
                bar.update(done)

            try:
                copied = await copy_everything(stores[0], stores[1], args.merge, shown)
            finally:
                bar.close()
            return copied, await carry_secrets(source, target)
        except CopyRefused as refused:
            raise CliError(str(refused)) from None
        except (StorageError, sqlite3.Error) as error:
            raise CliError(f"the copy stopped: {error}; run it again to finish") from None
        finally:
            for store in stores:
                await store.close()

    copied, carried = asyncio.run(run())
    print(
        f"Copied {copied.touchpoints} touchpoints, {copied.keys} API keys,"
        f" {copied.ratings:,} ratings ({copied.already:,} were there already) and"
        f" {copied.impression_hours:,} hours of impressions"
        f" from {source.storage_name} to {target.storage_name}."
    )
    if copied.routing:
        print(f"Copied {copied.routing} destinations, rules and digests as well.")
    if carried:
        print("The target now signs with the source's secret: embedded tokens keep working.")
    else:
        print("SCORELET_SECRET signs for both: keep setting it for the target.")
    if not copied.check.equal:
        raise CliError(
            "the target's rollups differ from a recount of its ratings; run the copy again"
        )
    print("Rollups rebuilt on the target and equal to a recount of its ratings.")
    return 0


def database_settings(settings: Settings, where: str) -> Settings:
    """The other side of a copy: a PostgreSQL URL, or a data directory for SQLite."""
    if where.startswith(("postgresql://", "postgres://")):
        return replace(settings, database_url=where)
    if "://" in where:
        check_database_url("--to/--from", where)
    return replace(settings, data_dir=Path(where), database_url=None)


# -- the parser -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scorelet",
        description="Scorelet: self-hosted CSAT and NPS ratings from one script tag.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"scorelet {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="data directory (default: $SCORELET_DATA or ./scorelet-data)",
    )
    common.add_argument(
        "--database",
        metavar="URL",
        help="PostgreSQL instead of the data directory's SQLite file, e.g."
        " postgresql://user:pass@host:5432/db (default: $SCORELET_DATABASE_URL)",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        group: Any, name: str, run: Callable[..., int], help: str, description: str | None = None
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, parents=[common], help=help, description=description or help
        )
        sub.set_defaults(run=run, creates_data=False)
        return sub

    serve = command(
        commands,
        "serve",
        cmd_serve,
        "run the server",
        "Run the Scorelet server. The first start creates the data directory, the database,"
        " three demo touchpoints and (unless SCORELET_SECRET is set) a secret file; every"
        " start applies pending database migrations. One server per data directory: a second"
        " one is refused. Other commands find it there and print its address in tags.",
    )
    serve.set_defaults(creates_data=True)
    serve.add_argument("--host", help="address to listen on (default: $SCORELET_HOST or 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=int,
        help="port to listen on (default: $SCORELET_PORT or 8000; 0 picks a free one)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request (slower)")
    serve.add_argument("--verbose", action="store_true", help="show the server's startup log")

    init = command(
        commands,
        "init",
        cmd_init,
        "create the data directory without serving",
        "Create the data directory as the first `scorelet serve` would: the database, a"
        " signing secret (unless SCORELET_SECRET is set) and three demo touchpoints. For"
        " scripted set-ups that add touchpoints before the first start. Does nothing to a"
        " data directory that exists already.",
    )
    init.add_argument("--no-demos", action="store_true", help="don't add the demo touchpoints")
    init.set_defaults(creates_data=True)

    touchpoint = commands.add_parser(
        "touchpoint",
        help="add, list, show, update or remove touchpoints",
        description="A touchpoint is a named place where feedback is asked:"
        " checkout, onboarding, support-chat ...",
    )
    tp_commands = touchpoint.add_subparsers(
        title="touchpoint commands", metavar="ACTION", required=True
    )
    add = command(
        tp_commands, "add", cmd_touchpoint_add, "add a touchpoint and print its script tag"
    )
    add.add_argument(
        "slug", help="short name: lowercase letters, digits and hyphens, e.g. checkout"
    )
    add.add_argument(
        "--metric",
        required=True,
        choices=("csat", "nps"),
        help="csat (satisfaction) or nps (0-10 loyalty)",
    )
    add.add_argument(
        "--scale",
        help="stars (1-5, default for csat), smileys (1-5), smileys3 (1-3), numeric:N (1-N);"
        " nps touchpoints always use 0-10",
    )
    update = command(
        tp_commands, "update", cmd_touchpoint_update, "change a touchpoint's wording or settings"
    )
    update.add_argument("slug")
    for sub in (add, update):
        sub.add_argument("--question", help='the question, e.g. "How was checkout?"')
        sub.add_argument(
            "--low-label", help='label under the lowest score, e.g. "Not at all likely"'
        )
        sub.add_argument(
            "--high-label", help='label under the highest score, e.g. "Extremely likely"'
        )
        sub.add_argument(
            "--comment-prompt", help="ask for a comment after the score with this prompt"
        )
        sub.add_argument(
            "--comment-prompt-for",
            action="append",
            type=key_value,
            metavar="GROUP=TEXT",
            help="the follow-up question for one group of scores, e.g."
            ' low="What went wrong?": low, neutral, high for CSAT (high: satisfied,'
            " neutral: the score just below); detractor, passive, promoter for NPS."
            " Repeatable; an empty TEXT goes back to the built-in question",
        )
        sub.add_argument("--thank-you", help="text shown after answering")
        sub.add_argument("--brand-name", metavar="T", help="product name on the hosted rating page")
        sub.add_argument(
            "--brand-logo", metavar="URL", help="logo image URL for the hosted rating page"
        )
        sub.add_argument(
            "--brand-accent", metavar="#RRGGBB", help="accent colour of the hosted rating page"
        )
        sub.add_argument(
            "--origin",
            action="append",
            metavar="URL",
            help="a site allowed to submit, e.g. https://shop.example.com"
            " (repeat for more; default: any)",
        )
        sub.add_argument(
            "--satisfied-from",
            type=int,
            metavar="N",
            help="CSAT: lowest score counted as satisfied (default: top two boxes)",
        )
        sub.add_argument(
            "--cooldown-days",
            type=int,
            metavar="N",
            help="don't ask the same browser again for N days",
        )
        sub.add_argument(
            "--locale",
            metavar="xx",
            help="widget language, e.g. en, de, pt-BR (default: the visitor's)",
        )
        when = sub.add_argument_group("when to ask (identified people; see docs/when-to-ask.md)")
        when.add_argument(
            "--recontact-days",
            type=int,
            metavar="N",
            help="after an answer, don't ask the same person again for N days (0: off)",
        )
        when.add_argument(
            "--redisplay-days",
            type=int,
            metavar="N",
            help="after a close or a display left unanswered, wait N days (0: off)",
        )
        when.add_argument(
            "--max-displays",
            type=count_or_off,
            metavar="N",
            help="show a person the widget at most N times (0: no limit)",
        )
        when.add_argument(
            "--sample",
            type=float,
            metavar="PERCENT",
            help="ask only this percent of people; the same person is always in or out",
        )
        when.add_argument(
            "--min-days-since-signup",
            type=int,
            metavar="N",
            help="ask only from N days after the signed_up_at trait (0: off)",
        )
        when.add_argument(
            "--anniversary-window",
            type=days_or_off,
            metavar="DAYS",
            help="ask only within DAYS days of each signup anniversary (off: always)",
        )
        when.add_argument(
            "--trigger",
            metavar="load|event:NAME",
            help="show on page load (default), or only when the page calls"
            ' Scorelet("track", "NAME")',
        )
        when.add_argument(
            "--require-identity",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="refuse anonymous ratings and displays (403 identity_required)",
        )
        when.add_argument(
            "--ignore-global-throttle",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="ask regardless of `scorelet settings set recontact-days`, and don't count"
            " toward it",
        )
    update.add_argument(
        "--clear-origins", action="store_true", help="accept submissions from any site again"
    )
    update.add_argument(
        "--rotate-token",
        action="store_true",
        help="revoke the current embed token and print a new script tag",
    )
    state = update.add_mutually_exclusive_group()
    state.add_argument(
        "--pause", dest="active", action="store_false", default=None, help="stop accepting ratings"
    )
    state.add_argument("--resume", dest="active", action="store_true", help="accept ratings again")
    listing = command(tp_commands, "list", cmd_touchpoint_list, "list touchpoints")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = command(
        tp_commands, "show", cmd_touchpoint_show, "show a touchpoint's settings and script tag"
    )
    show.add_argument("slug")
    show.add_argument("--json", action="store_true", help="print JSON")
    remove = command(
        tp_commands, "remove", cmd_touchpoint_remove, "delete a touchpoint and all its responses"
    )
    remove.add_argument("slug")
    remove.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    embed = command(commands, "embed", cmd_embed, "print the <script> tag for a touchpoint")
    embed.add_argument("slug")
    embed.add_argument("--token", action="store_true", help="print only the embed token")
    embed.add_argument(
        "--base-url",
        metavar="URL",
        help="where browsers reach Scorelet (default: $SCORELET_PUBLIC_URL, else the address"
        " of the server running on the data directory; without one, http://HOST:PORT from"
        " SCORELET_HOST and SCORELET_PORT, with a note on stderr)",
    )

    key = commands.add_parser(
        "key",
        help="create, list or revoke API keys",
        description="API keys unlock the read (scores), admin (touchpoints)"
        " and mint (subject tokens) endpoints.",
    )
    key_commands = key.add_subparsers(title="key commands", metavar="ACTION", required=True)
    create = command(key_commands, "create", cmd_key_create, "create an API key and print it once")
    create.add_argument(
        "--scope",
        required=True,
        choices=("read", "admin", "mint"),
        help="read: scores and touchpoints; mint: subject tokens; admin: everything",
    )
    create.add_argument("--name", help="a note to recognise the key by, e.g. grafana")
    key_list = command(
        key_commands, "list", cmd_key_list, "list API keys (never their secret part)"
    )
    key_list.add_argument("--json", action="store_true", help="print JSON")
    revoke = command(key_commands, "revoke", cmd_key_revoke, "revoke an API key at once")
    revoke.add_argument("id", help="the key id shown by `scorelet key list`")

    token = command(
        commands,
        "token",
        cmd_token,
        "print a subject token (for a chat, order or email link)",
        "Print a signed, expiring token that binds a touchpoint to one subject (a conversation,"
        " order, ticket) and its context. Ratings made with it count once per subject. The"
        " token goes to stdout; the hosted rating page's link for an email or SMS (add"
        " ?score=N for one-click links) goes to stderr.",
    )
    token.add_argument("slug")
    token.add_argument(
        "--subject", required=True, metavar="ID", help="what the rating is about, e.g. conv_8812"
    )
    token.add_argument(
        "--context",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="signed context such as agent=alice (repeatable)",
    )
    token.add_argument(
        "--ttl", default=DEFAULT_TTL, help="lifetime such as 30m, 12h, 7d, 2w (default: 7d)"
    )
    token.add_argument(
        "--base-url",
        metavar="URL",
        help="where browsers reach Scorelet, for the rating link (default: as for embed)",
    )
    token.add_argument(
        "--json",
        action="store_true",
        help="print the token, its expiry and its rating link as JSON (as POST /api/v1/tokens)",
    )

    identity = command(
        commands,
        "identity",
        cmd_identity,
        "print an identity token for a signed-in person (for data-identity)",
        "Print a signed, expiring identity token naming a person (your own user id) and"
        " their traits. Give it to the widget (data-identity, or ?identity= on the script's"
        " URL) so Scorelet decides when to ask that person, across devices, and stores the"
        " traits as context on their ratings. Mint one per page view or session in your"
        " backend (POST /api/v1/identities, or scorelet.mint_identity in Python).",
    )
    identity.add_argument(
        "person", metavar="PERSON_ID", help="your id of the person, e.g. user_1234"
    )
    identity.add_argument(
        "--trait",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="signed trait such as plan=pro, signed_up_at=2026-01-31 or"
        " timezone=Europe/Berlin (repeatable)",
    )
    identity.add_argument(
        "--ttl",
        default=DEFAULT_IDENTITY_TTL,
        help=f"lifetime such as 30m, 1h, 1d (default: {DEFAULT_IDENTITY_TTL})",
    )
    identity.add_argument(
        "--json", action="store_true", help="print it as POST /api/v1/identities does"
    )

    setting = commands.add_parser(
        "settings",
        help="show or change install-wide settings (the global throttle)",
        description="Install-wide settings. recontact-days N: one survey per person per N days"
        " across all touchpoints (0: off); a touchpoint with --ignore-global-throttle is"
        " outside it.",
    )
    setting_commands = setting.add_subparsers(
        title="settings commands", metavar="ACTION", required=True
    )
    setting_show = command(setting_commands, "show", cmd_settings_show, "show every setting")
    setting_show.add_argument("--json", action="store_true", help="print JSON")
    setting_set = command(setting_commands, "set", cmd_settings_set, "change a setting")
    setting_set.add_argument("name", metavar="NAME", choices=tuple(GLOBAL_SETTINGS))
    setting_set.add_argument("value", metavar="VALUE", help="e.g. 30 (days; 0: off)")

    people = commands.add_parser(
        "people",
        help="show or erase what is stored about one person",
        description="Identified people (identity tokens): their traits, ratings and displays"
        " across touchpoints; erase them for a data-protection request.",
    )
    people_commands = people.add_subparsers(
        title="people commands", metavar="ACTION", required=True
    )
    people_show = command(
        people_commands, "show", cmd_people_show, "list a person's traits, ratings and displays"
    )
    people_show.add_argument("person", metavar="PERSON_ID")
    people_show.add_argument("--json", action="store_true", help="print JSON (as the API)")
    people_forget = command(
        people_commands,
        "forget",
        cmd_people_forget,
        "erase a person: ratings, displays, traits, everywhere",
        "Erase everything stored about a person: their ratings (every score, series,"
        " breakdown, listing and export then leaves them out, as if never given), their"
        " displays and dismissals (and the impressions they counted as) and their traits."
        " A running server sees it within a second.",
    )
    people_forget.add_argument("person", metavar="PERSON_ID")
    people_forget.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    score = command(commands, "score", cmd_score, "print a touchpoint's CSAT or NPS")
    score.add_argument("slug")
    score.add_argument(
        "--since", metavar="TIME", help="from this time on: ISO 8601 (2026-11-01) or epoch seconds"
    )
    score.add_argument(
        "--until", metavar="TIME", help="before this time: ISO 8601 or epoch seconds"
    )
    score.add_argument(
        "--filter",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="only responses with this context, e.g. agent=alice",
    )
    score.add_argument(
        "--json", action="store_true", help="print the same JSON as GET .../score in the HTTP API"
    )

    responses = commands.add_parser(
        "responses",
        help="look up or delete one rating",
        description="One rating by its id (the `id` the API, the widget's events and exports"
        " show): look it up, or delete a test or spam rating from every figure.",
    )
    response_commands = responses.add_subparsers(
        title="responses commands", metavar="ACTION", required=True
    )
    response_show = command(response_commands, "show", cmd_responses_show, "show one rating")
    response_show.add_argument("id", metavar="ID", help="the rating's id")
    response_show.add_argument("--json", action="store_true", help="print JSON")
    response_delete = command(
        response_commands,
        "delete",
        cmd_responses_delete,
        "delete one rating",
        "Delete one rating: every score, series, breakdown, listing and export then leaves it"
        " out, as if it had never been given. A running server sees the change within a second.",
    )
    response_delete.add_argument("id", metavar="ID", help="the rating's id")
    routing_cli.add_parsers(commands, command, key_value)

    demo = command(
        commands,
        "demo",
        cmd_demo,
        "add (or remove) the demo touchpoints, with 90 days of sample ratings",
        "Add the three demo touchpoints if they are missing. --history also fills them with"
        " 90 days of realistic sample ratings (marked source=demo in their context), so the"
        " dashboard shows trends, breakdowns and comments; running it again adds nothing."
        " --remove deletes the demo touchpoints with all their ratings.",
    )
    demo_action = demo.add_mutually_exclusive_group()
    demo_action.add_argument(
        "--history", action="store_true", help="add 90 days of sample ratings to them"
    )
    demo_action.add_argument(
        "--remove", action="store_true", help="delete the demo touchpoints and their ratings"
    )

    user = commands.add_parser(
        "user",
        help="add, list, remove or reset dashboard accounts",
        description="Accounts for the dashboard at /dashboard: admins may change"
        " touchpoints, keys and accounts; viewers may look at everything and change nothing.",
    )
    user_commands = user.add_subparsers(title="user commands", metavar="ACTION", required=True)
    user_add = command(
        user_commands,
        "add",
        cmd_user_add,
        "add a dashboard account",
        "Add a dashboard account. Without --password-stdin it prints a link that lets the"
        f" person choose their password (it works once, for {LINK_TTL // 3600} hours).",
    )
    user_add.add_argument("email", metavar="EMAIL", help="the address the person signs in with")
    user_add.add_argument(
        "--role",
        required=True,
        choices=("admin", "viewer"),
        help="admin: may change everything; viewer: may look at everything, change nothing",
    )
    user_add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (first line) instead of printing a link",
    )
    user_list = command(user_commands, "list", cmd_user_list, "list dashboard accounts")
    user_list.add_argument("--json", action="store_true", help="print JSON")
    user_remove = command(
        user_commands, "remove", cmd_user_remove, "remove an account and end its sessions"
    )
    user_remove.add_argument("email", metavar="EMAIL")
    user_reset = command(
        user_commands,
        "reset",
        cmd_user_reset,
        "clear a password, end its sessions, print a new link",
        "Clear an account's password and end every session it has open, then print a new"
        f" one-time link to choose a password ({LINK_TTL // 3600} hours). For a forgotten"
        " password, or one that may have leaked.",
    )
    user_reset.add_argument("email", metavar="EMAIL")

    backup = command(
        commands,
        "backup",
        cmd_backup,
        "copy the data directory consistently, even while serving",
        "Copy the database (one consistent snapshot, taken with SQLite's online backup"
        " while the server keeps running) and the secret file into the new data directory"
        " PATH. `scorelet serve --data PATH` serves the copy.",
    )
    backup.add_argument("path", type=Path, metavar="PATH", help="directory to create the copy in")
    backup.add_argument("--force", action="store_true", help="overwrite a backup already in PATH")
    exporter = command(
        commands,
        "export",
        cmd_export,
        "write a touchpoint's responses as CSV or NDJSON",
        "Write every response of a touchpoint, newest first, to standard output (or --output)."
        " Memory use stays flat at any size; a progress count shows on a terminal.",
    )
    exporter.add_argument("slug")
    exporter.add_argument(
        "--format", choices=export.FORMATS, default="csv", help="csv (default) or ndjson"
    )
    exporter.add_argument(
        "--since", metavar="TIME", help="from this time on: ISO 8601 or epoch seconds"
    )
    exporter.add_argument(
        "--until", metavar="TIME", help="before this time: ISO 8601 or epoch seconds"
    )
    exporter.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE instead of standard output"
    )
    exporter.add_argument(
        "--group",
        metavar="GROUP",
        help="only one group: promoter, passive, detractor (NPS) or high, neutral, low (CSAT),"
        " e.g. your promoters for a referral program",
    )
    import_cli.add_parser(commands, command)
    copier = command(
        commands,
        "copy",
        cmd_copy,
        "copy everything to or from another database (SQLite <-> PostgreSQL)",
        "Copy touchpoints (with their token versions), API keys, ratings with their comments"
        " and context, and impressions from this installation's database to another one"
        " (--to), or from another one into this one (--from). The other side is a PostgreSQL"
        " URL or a data directory (SQLite). Rollups are rebuilt on the target and checked"
        " against a recount. Running the same copy again changes nothing, so an interrupted"
        " copy is finished by running it again. A target holding data of its own is refused"
        " unless --merge. The target takes the source's signing secret (keeping its own for"
        " verifying), so embedded widgets keep working. Stop the servers on the source first"
        " for an exact snapshot, e.g.:\n\n  scorelet copy --data scorelet-data --to"
        " postgresql://scorelet:secret@db:5432/scorelet",
    )
    way = copier.add_mutually_exclusive_group(required=True)
    way.add_argument("--to", metavar="URL|DIR", help="copy this database to URL or DIR")
    way.add_argument(
        "--from", dest="source", metavar="URL|DIR", help="copy URL or DIR into this database"
    )
    copier.add_argument(
        "--merge", action="store_true", help="add to a target that holds data of its own"
    )
    copier.set_defaults(creates_data=True)
    return parser
