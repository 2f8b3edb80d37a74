"""`scorelet destination|rule|tag|deliveries|digest`: closing the loop from the command line.

Like every command but `serve`, these work on the database file directly;
a running server sees new rules and destinations within a second (its
writer checks the routing version at every batch) and sends what they
queue. They call the same use cases as the HTTP API (routing/admin.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from scorelet.config import Settings
from scorelet.ratings import Ratings
from scorelet.routing.admin import Routing
from scorelet.routing.destinations import Destination
from scorelet.routing.periods import EVERY
from scorelet.routing.rules import EVENTS, GROUPS, Rule
from scorelet.store import Store
from scorelet.store.records import Delivery, Digest
from scorelet.timeutil import iso

Command = Callable[..., argparse.ArgumentParser]


def _cli() -> Any:
    from scorelet import cli  # the shared plumbing (stores, errors, JSON output)

    return cli


async def routing_for(settings: Settings, store: Store) -> Routing:
    """In the command's event loop: on PostgreSQL the signing secrets are read from the
    database."""
    ratings = Ratings(store, await _cli().async_signer(settings))
    return Routing(ratings, settings.allow_private_destinations, settings.base_url)


def run(settings: Settings, action: Callable[[Routing], Any]) -> Any:
    async def go(store: Store) -> Any:
        return await action(await routing_for(settings, store))

    return _cli().with_store(settings, go)


# -- destinations ------------------------------------------------------------------------------


def cmd_destination_add(args: argparse.Namespace, settings: Settings) -> int:
    body: dict[str, Any] = {"name": args.name, "type": args.type}
    for key in ("url", "api_key", "team", "priority", "api_url"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.label:
        body["labels"] = args.label
    destination: Destination = run(settings, lambda routing: routing.add_destination(body))
    print(f"Added destination {destination.name} ({destination.kind}).")
    if destination.kind == "webhook":
        print("Signing secret (shown only now; receivers verify webhook-signature with it):")
        print(destination.secret)
    print(f"Send it a test message: scorelet destination test {destination.name}")
    return 0


def cmd_destination_list(args: argparse.Namespace, settings: Settings) -> int:
    found: list[Destination] = run(settings, lambda routing: routing.store.destinations())
    if args.json:
        _cli().print_json([d.public() for d in found])
    elif not found:
        print("No destinations yet. Add one: scorelet destination add NAME --type slack --url URL")
    for destination in found if not args.json else []:
        data = destination.public()
        state = "" if data["enabled"] else f"  DISABLED: {data['disabled_reason']}"
        print(f"{destination.name:<24} {destination.kind:<8} {data['url']}{state}")
    return 0


def cmd_destination_show(args: argparse.Namespace, settings: Settings) -> int:
    found: Destination = run(settings, lambda routing: routing.destination(args.name))
    data = found.public()
    if args.json:
        _cli().print_json(data)
    else:
        for key, value in data.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"{key:>16}: {'-' if shown in (None, '') else shown}")
    return 0


def cmd_destination_remove(args: argparse.Namespace, settings: Settings) -> int:
    run(settings, lambda routing: routing.store.remove_destination(args.name))
    print(f"Removed destination {args.name!r} and its deliveries.")
    return 0


def cmd_destination_enable(args: argparse.Namespace, settings: Settings) -> int:
    async def enable(routing: Routing) -> Destination:
        await routing.destination(args.name)
        return await routing.store.enable_destination(args.name)

    run(settings, enable)
    print(f"Destination {args.name!r} is enabled: its waiting deliveries go out again.")
    return 0


def cmd_destination_test(args: argparse.Namespace, settings: Settings) -> int:
    answer = run(settings, lambda routing: routing.test(args.name))
    status = f"HTTP {answer.status}" if answer.status is not None else "no answer"
    if answer.ok:
        print(f"The receiver took the test message: {status}.")
    else:
        print(f"The test message failed: {answer.error}", file=sys.stderr)
    if answer.body:
        print(f"It answered: {answer.body[:500]}")
    return 0 if answer.ok else 1


# -- rules -------------------------------------------------------------------------------------


def rule_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"name": args.name}
    if args.touchpoint:
        body["touchpoints"] = args.touchpoint
    for key in ("score", "group", "comment_matches", "tag", "wait_for_comment"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.has_comment:
        body["has_comment"] = True
    if args.context:
        body["context"] = dict(args.context)
    if args.event:
        body["events"] = args.event
    if args.notify:
        body["notify"] = args.notify
    if args.add_tag:
        body["add_tags"] = args.add_tag
    return body


def describe_rule(rule: Rule) -> str:
    data = rule.public()
    conditions = []
    if rule.touchpoints:
        conditions.append("touchpoint " + "|".join(rule.touchpoints))
    if rule.score:
        conditions.append(f"score {rule.score[0]}..{rule.score[1]}")
    if rule.group:
        conditions.append(rule.group)
    if rule.has_comment:
        conditions.append("has a comment")
    if rule.comment_matches:
        conditions.append(f"comment matches /{rule.comment_matches}/")
    conditions += [f"{k}={v}" for k, v in rule.context]
    if rule.tag:
        conditions.append(f"tagged {rule.tag}")
    when = "on " + "|".join(data["events"])
    if rule.notify:
        action = "notify " + ", ".join(rule.notify)
        if rule.wait_for_comment:
            action += f" (waits up to {rule.wait_for_comment}s for the comment)"
    else:
        action = "tag " + ", ".join(rule.add_tags)
    return f"{rule.name}: {' and '.join(conditions) or 'every rating'} {when} -> {action}"


def cmd_rule_add(args: argparse.Namespace, settings: Settings) -> int:
    rule: Rule = run(settings, lambda routing: routing.add_rule(rule_body(args)))
    print(f"Added rule {describe_rule(rule)}")
    if rule.add_tags:
        print(f"Tag the ratings already stored: scorelet rule backfill {rule.name}")
    return 0


def cmd_rule_list(args: argparse.Namespace, settings: Settings) -> int:
    found: list[Rule] = run(settings, lambda routing: routing.store.rules())
    if args.json:
        _cli().print_json([rule.public() for rule in found])
    elif not found:
        print("No rules yet. Add one: scorelet rule add NAME --score 1..2 --notify DESTINATION")
    for rule in found if not args.json else []:
        print(describe_rule(rule))
    return 0


def cmd_rule_show(args: argparse.Namespace, settings: Settings) -> int:
    rule: Rule = run(settings, lambda routing: routing.rule(args.name))
    if args.json:
        _cli().print_json(rule.public())
    else:
        print(describe_rule(rule))
    return 0


def cmd_rule_remove(args: argparse.Namespace, settings: Settings) -> int:
    run(settings, lambda routing: routing.store.remove_rule(args.name))
    print(f"Removed rule {args.name!r} (tags it added stay on their ratings).")
    return 0


def cmd_rule_backfill(args: argparse.Namespace, settings: Settings) -> int:
    since = _cli().instant(args.since, "--since")
    tty = sys.stderr.isatty()

    async def backfill(routing: Routing) -> tuple[int, int]:
        total = 0
        for touchpoint in routing.store.touchpoints():
            counts, _ = await routing.store.counts(touchpoint.id, since, None)
            total += sum(counts.values())

        def progress(seen: int, tagged: int) -> None:
            if tty:
                width = 30
                done = min(width, width * seen // total) if total else width
                bar = "#" * done + "." * (width - done)
                print(
                    f"\r[{bar}] {seen:,}/{total:,} ratings, {tagged:,} tagged",
                    end="",
                    file=sys.stderr,
                )

        try:
            return await routing.backfill(args.name, since, progress)
        finally:
            if tty:
                print(file=sys.stderr)

    seen, tagged = run(settings, backfill)
    print(f"Rule {args.name!r} looked at {seen:,} ratings and tagged {tagged:,}.")
    return 0


# -- tags --------------------------------------------------------------------------------------


def cmd_tag(args: argparse.Namespace, settings: Settings) -> int:
    response_id = _cli().response_id(args.id)

    async def tag(routing: Routing) -> Any:
        action = routing.add_tag if args.add else routing.remove_tag
        return await action(response_id, args.tag)

    stored = run(settings, tag)
    names = ", ".join(t.name for t in stored.tags) or "none"
    verb = "Tagged" if args.add else "Untagged"
    print(f"{verb} rating {response_id}: its tags are now {names}.")
    return 0


# -- deliveries --------------------------------------------------------------------------------


def cmd_deliveries_list(args: argparse.Namespace, settings: Settings) -> int:
    found: list[Delivery] = run(
        settings, lambda routing: routing.deliveries(args.state, args.destination, args.limit)
    )
    if args.json:
        _cli().print_json([d.public() for d in found])
    elif not found:
        print("No deliveries" + (f" in state {args.state}." if args.state else " yet."))
    for delivery in found if not args.json else []:
        what = f"rating {delivery.response_id}" if delivery.kind == "rating" else "digest"
        line = (
            f"{delivery.id}  {delivery.state:<9} {delivery.destination:<20} {what}"
            f"  attempts {delivery.attempts}"
        )
        if delivery.state in ("pending", "failed"):
            line += f"  next {iso(delivery.due_at)}"
            if delivery.held:
                line += " (waiting for the comment)"
        if delivery.last_error:
            line += f"  last error: {delivery.last_error}"
        print(line)
    return 0


def cmd_deliveries_retry(args: argparse.Namespace, settings: Settings) -> int:
    if (args.id is None) == (not args.all_dead):
        raise _cli().CliError("give a delivery ID or --all-dead")
    ids = None if args.all_dead else [args.id]
    found: list[Delivery] = run(settings, lambda routing: routing.store.retry_deliveries(ids))
    print(
        f"{len(found)} deliver{'y' if len(found) == 1 else 'ies'} will be sent again now"
        " (by the running server)."
    )
    return 0


# -- digests -----------------------------------------------------------------------------------


def cmd_digest_add(args: argparse.Namespace, settings: Settings) -> int:
    body: dict[str, Any] = {"name": args.name, "destination": args.destination}
    body |= {"every": args.every, "tz": args.tz}
    if args.at:
        body["at"] = args.at
    if args.touchpoint:
        body["touchpoints"] = args.touchpoint
    digest: Digest = run(settings, lambda routing: routing.add_digest(body))
    print(
        f"Added digest {digest.name}: every {digest.every} at {digest.at} ({digest.tz}) to"
        f" {digest.destination}; the first covers the period after {digest.last_period}."
    )
    return 0


def cmd_digest_list(args: argparse.Namespace, settings: Settings) -> int:
    found: list[Digest] = run(settings, lambda routing: routing.store.digests())
    if args.json:
        _cli().print_json([d.public() for d in found])
    elif not found:
        print("No digests yet. Add one: scorelet digest add weekly --destination D --every week")
    for digest in found if not args.json else []:
        tps = ", ".join(digest.touchpoints) or "every touchpoint"
        print(
            f"{digest.name}: every {digest.every} at {digest.at} ({digest.tz}) to"
            f" {digest.destination}, {tps}; last sent {digest.last_period or '-'}"
        )
    return 0


def cmd_digest_remove(args: argparse.Namespace, settings: Settings) -> int:
    run(settings, lambda routing: routing.store.remove_digest(args.name))
    print(f"Removed digest {args.name!r}.")
    return 0


# -- the parsers -------------------------------------------------------------------------------


def add_parsers(commands: Any, command: Command, key_value: Callable[[str], Any]) -> None:
    destination = commands.add_parser(
        "destination",
        help="add, list, show, test or remove where notifications go",
        description="Destinations receive what notify rules and digests send: a Slack incoming"
        " webhook, a Linear team, or any URL as a signed webhook (Standard Webhooks).",
    )
    dest = destination.add_subparsers(title="destination commands", metavar="ACTION", required=True)
    add = command(
        dest,
        "add",
        cmd_destination_add,
        "add a destination",
        "Add a destination. Its URL must resolve to public addresses (unless"
        " SCORELET_ALLOW_PRIVATE_DESTINATIONS=1). A webhook's signing secret is printed once.",
    )
    add.add_argument("name", help="a short name rules refer to, e.g. support-fires")
    add.add_argument("--type", required=True, choices=("slack", "webhook", "linear"))
    add.add_argument("--url", help="slack: the incoming webhook URL; webhook: the receiver's URL")
    add.add_argument("--api-key", dest="api_key", metavar="KEY", help="linear: a personal API key")
    add.add_argument("--team", metavar="TEAM_ID", help="linear: the team's id")
    add.add_argument(
        "--priority",
        type=int,
        metavar="0-4",
        help="linear: 0 none, 1 urgent, 2 high, 3 medium, 4 low",
    )
    add.add_argument(
        "--label",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="linear: a label to put on each issue (repeatable)",
    )
    add.add_argument(
        "--api-url",
        dest="api_url",
        metavar="URL",
        help="linear: the GraphQL endpoint (default Linear's; for proxies and tests)",
    )
    listing = command(dest, "list", cmd_destination_list, "list destinations (secrets masked)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = command(dest, "show", cmd_destination_show, "show one destination (secrets masked)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    remove = command(
        dest,
        "remove",
        cmd_destination_remove,
        "remove a destination no rule or digest uses, with its deliveries",
    )
    remove.add_argument("name")
    test = command(
        dest,
        "test",
        cmd_destination_test,
        "send a clearly marked test message and print the receiver's answer",
        "Send a test message now (Slack and webhooks get a [TEST] message; for Linear"
        " the key and team are checked without creating an issue) and print what the"
        " receiver answered. Exit status 1 if it failed.",
    )
    test.add_argument("name")
    enable = command(
        dest,
        "enable",
        cmd_destination_enable,
        "send to a destination again after its receiver answered 410 Gone",
    )
    enable.add_argument("name")

    rule = commands.add_parser(
        "rule",
        help="add, list, show, remove or backfill rules",
        description="Rules match ratings and either tag them or notify destinations.",
    )
    rules = rule.add_subparsers(title="rule commands", metavar="ACTION", required=True)
    add = command(
        rules,
        "add",
        cmd_rule_add,
        "add a tagging or notify rule",
        "Add a rule. Every condition given must hold. Tagging rules (--add-tag) run on every"
        " change of a rating unless --event says otherwise, in the transaction that stores it;"
        " notify rules (--notify) fire when a rating is created unless --event says otherwise,"
        " and their deliveries are written in that same transaction. Patterns are RE2,"
        " case-insensitive and Unicode-aware.",
    )
    add.add_argument("name", help="e.g. fires or billing-tag")
    add.add_argument(
        "--touchpoint", action="extend", nargs="+", metavar="SLUG", help="only these (repeatable)"
    )
    add.add_argument("--score", metavar="MIN..MAX", help="a score range such as 1..2")
    add.add_argument(
        "--group", choices=GROUPS, help="NPS detractor/passive/promoter, CSAT satisfied/unsatisfied"
    )
    add.add_argument("--has-comment", action="store_true", help="only ratings with a comment")
    add.add_argument(
        "--comment-matches", metavar="REGEX", help='comment pattern, e.g. "refund|invoice|charged"'
    )
    add.add_argument(
        "--context",
        action="extend",
        nargs="+",
        type=key_value,
        metavar="KEY=VALUE",
        help="only ratings with this context, e.g. team=billing (repeatable)",
    )
    add.add_argument("--tag", metavar="TAG", help="only ratings carrying this tag")
    add.add_argument(
        "--event",
        action="append",
        choices=EVENTS,
        help="when the rule runs (repeatable); see above for the defaults",
    )
    add.add_argument(
        "--wait-for-comment",
        metavar="DURATION",
        help="hold notifications up to this long for the comment, e.g. 5m",
    )
    action = add.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--notify",
        action="extend",
        nargs="+",
        metavar="DESTINATION",
        help="send matching ratings there (repeatable)",
    )
    action.add_argument(
        "--add-tag",
        action="extend",
        nargs="+",
        metavar="TAG",
        help='tag matching ratings, e.g. "Billing" (repeatable)',
    )
    listing = command(rules, "list", cmd_rule_list, "list rules")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = command(rules, "show", cmd_rule_show, "show a rule")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    remove = command(rules, "remove", cmd_rule_remove, "remove a rule")
    remove.add_argument("name")
    backfill = command(
        rules,
        "backfill",
        cmd_rule_backfill,
        "apply a tagging rule to ratings already stored, with a progress bar",
    )
    backfill.add_argument("name")
    backfill.add_argument("--since", metavar="TIME", help="only ratings from this time on")

    tag = commands.add_parser("tag", help="add or remove a tag on one rating by hand")
    tags = tag.add_subparsers(title="tag commands", metavar="ACTION", required=True)
    for name, add_it in (("add", True), ("remove", False)):
        sub = command(tags, name, cmd_tag, f"{name} a tag on a rating")
        sub.add_argument("id", metavar="RESPONSE_ID", help="the rating's id")
        sub.add_argument("tag", metavar="TAG", help='e.g. "Bug report"')
        sub.set_defaults(add=add_it)

    deliveries = commands.add_parser(
        "deliveries",
        help="list the outbox or send deliveries again",
        description="Every notification is a delivery: pending, failed (will retry), delivered,"
        " or dead (gave up after the retry schedule; its last error is kept).",
    )
    outbox = deliveries.add_subparsers(title="deliveries commands", metavar="ACTION", required=True)
    listing = command(outbox, "list", cmd_deliveries_list, "list deliveries, newest first")
    listing.add_argument("--state", choices=("pending", "delivered", "failed", "dead"))
    listing.add_argument("--destination", metavar="NAME")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    retry = command(
        outbox, "retry", cmd_deliveries_retry, "send a delivery (or every dead one) again"
    )
    retry.add_argument("id", nargs="?", metavar="ID", help="the delivery's id")
    retry.add_argument("--all-dead", action="store_true", help="every dead delivery")

    digest = commands.add_parser("digest", help="add, list or remove periodic summaries")
    digests = digest.add_subparsers(title="digest commands", metavar="ACTION", required=True)
    add = command(
        digests,
        "add",
        cmd_digest_add,
        "add a weekly, monthly or quarterly digest",
        "Each period, send each touchpoint's score with its interval and count, the change"
        " against the period before (marked when the intervals don't overlap) and the top"
        " tags. Each period is sent once, even across restarts; the first is the next one.",
    )
    add.add_argument("name")
    add.add_argument("--destination", required=True, metavar="NAME", help="a Slack or webhook one")
    add.add_argument("--every", required=True, choices=EVERY)
    add.add_argument(
        "--touchpoint", action="extend", nargs="+", metavar="SLUG", help="default: all"
    )
    add.add_argument("--tz", default="UTC", metavar="ZONE", help="e.g. Europe/Berlin (default UTC)")
    add.add_argument(
        "--at",
        metavar='"mon 09:00"',
        help='when: "mon 09:00" (weekly, the default) or "09:00" on the first day',
    )
    listing = command(digests, "list", cmd_digest_list, "list digests")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = command(digests, "remove", cmd_digest_remove, "remove a digest")
    remove.add_argument("name")
