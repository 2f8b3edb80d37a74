"""`scorelet copy`: everything moves between SQLite and PostgreSQL, either way, and again.

A source is filled over HTTP as users fill it (touchpoints with branding
and prompts, a rotated token, a deleted touchpoint, keys, ratings with
comments, subjects and context, impressions); after the copy the target,
served by a real `scorelet serve`, answers every read exactly as the source
does, accepts the source's tokens and keys, and refuses what the source
refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import pty
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import database_args, open_store
from conftest import Clock, clean_env, run_server, scorelet_command
from postgres import database_for, new_database
from scorelet.cli import main
from scorelet.copying import copy_everything
from scorelet.routing.destinations import NewDestination
from scorelet.routing.rules import parse_rule
from scorelet.store import NewResponse, ResponseQuery, Store
from scorelet.store.records import Digest, Identity, IssueLink, Outcome
from scorelet.touchpoints import new_touchpoint_fields

SINCE = int(time.time()) - 10 * 86400  # the ratings span the last six days
READS = [
    "/api/v1/touchpoints",
    "/api/v1/scores",
    "/api/v1/touchpoints/{slug}",
    "/api/v1/touchpoints/{slug}/score",
    "/api/v1/touchpoints/{slug}/score?since={since}&filter=plan:pro",
    "/api/v1/touchpoints/{slug}/series?since={since}&interval=day&tz=America/New_York",
    "/api/v1/touchpoints/{slug}/breakdown?by=plan",
    "/api/v1/touchpoints/{slug}/breakdown?by=agent",
    "/api/v1/touchpoints/{slug}/responses?format=ndjson",
    "/api/v1/touchpoints/{slug}/responses?format=csv",
]
SLUGS = ("checkout", "support")


@dataclass
class Source:
    data: Path
    read_key: str
    admin_key: str
    revoked_key: str
    old_token: str  # checkout's embed token before its rotation
    token: str  # checkout's embed token now
    subject_token: str


def fill(data: Path) -> Source:
    """A source database with everything a copy must carry, made over HTTP."""
    clock = Clock()
    servers = run_server(data, clock=clock)
    server = next(servers)
    try:
        checkout = server.add_touchpoint(
            slug="checkout",
            metric="csat",
            brand_name="Acme",
            comment_prompts={"low": "What went wrong?"},
        )
        server.add_touchpoint(slug="support", metric="nps")
        legacy = server.add_touchpoint(slug="legacy")
        with server.admin() as admin:
            assert admin.delete(f"/api/v1/touchpoints/{legacy['slug']}").status_code == 204
            rotated = admin.patch("/api/v1/touchpoints/checkout", json={"rotate_token": True})
        assert rotated.status_code == 200
        token = rotated.json()["embed_token"]
        with server.client(server.mint_key) as minting:
            minted = minting.post(
                "/api/v1/tokens",
                json={"touchpoint": "support", "subject": "chat-1", "context": {"agent": "ann"}},
            )
        assert minted.status_code == 201
        subject_token = minted.json()["token"]
        with server.client() as client:
            for day in range(6):
                for n in range(5):
                    body: dict[str, Any] = {
                        "token": token,
                        "score": 1 + (day + n) % 5,
                        "context": {"plan": "pro" if n % 2 else "free"},
                        "shown": n < 3,
                    }
                    if n == 4:
                        body["comment"] = f"=day {day}: not great"
                    assert client.post("/api/v1/impressions", json={"token": token}).status_code
                    assert client.post("/api/v1/responses", json=body).status_code == 201
                for n in range(3):
                    chat = client.post(
                        "/api/v1/tokens",
                        json={"touchpoint": "support", "subject": f"chat-{day}-{n}"},
                        headers={"authorization": f"Bearer {server.mint_key}"},
                    ).json()["token"]
                    posted = client.post(
                        "/api/v1/responses", json={"token": chat, "score": (day * 3 + n) % 11}
                    )
                    assert posted.status_code == 201
                clock.advance(-86400)
            assert (
                client.post(
                    "/api/v1/responses", json={"token": subject_token, "score": 9}
                ).status_code
                == 201
            )
        where = database_args("sqlite", data)
        revoked = cli_out("key", "create", "--scope", "read", "--name", "gone", *where)
        cli_out("key", "revoke", revoked.split("_")[1], *where)
        return Source(
            data,
            server.read_key,
            server.admin_key,
            revoked,
            checkout["embed_token"],
            token,
            subject_token,
        )
    finally:
        servers.close()  # stops the server


def cli_out(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue().strip()


def reads(url: str, key: str) -> dict[str, str]:
    """Every read the source answers, as text (with its own address left out)."""
    answers = {}
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}) as client:
        for slug in SLUGS:
            for path in READS:
                response = client.get(path.format(slug=slug, since=SINCE))
                assert response.status_code == 200, (path, response.text)
                answers[path.format(slug=slug, since=SINCE)] = response.text.replace(url, "")
    return answers


@contextlib.contextmanager
def served(data: Path, env: dict[str, str]) -> Iterator[str]:
    from test_serve import serving

    with serving(data, env) as (_, url):
        yield url


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return fill(tmp_path_factory.mktemp("source") / "data")


def test_sqlite_to_postgres_carries_everything(source: Source, tmp_path: Path) -> None:
    url = new_database()
    out = cli_out("copy", "--data", str(source.data), "--to", url)
    assert "Copied 2 touchpoints, 4 API keys, 49 ratings (0 were there already)" in out
    assert "equal to a recount" in out
    target = tmp_path / "target"
    env = {"SCORELET_DATABASE_URL": url}
    with served(source.data, {}) as before, served(target, env) as after:
        assert reads(after, source.read_key) == reads(before, source.read_key)
        with httpx.Client(base_url=after) as client:
            # The source's tokens and keys work; what it refused stays refused.
            rated = client.post("/api/v1/responses", json={"token": source.token, "score": 5})
            assert rated.status_code == 201
            old = client.post("/api/v1/responses", json={"token": source.old_token, "score": 5})
            assert old.status_code == 403
            assert old.json()["code"] == "token_revoked"
            again = client.post(
                "/api/v1/responses", json={"token": source.subject_token, "score": 3}
            )
            assert again.status_code == 200  # the conversation's copied rating, replaced
            assert (
                again.json()["id"]
                in reads(after, source.read_key)[
                    "/api/v1/touchpoints/support/responses?format=ndjson"
                ]
            )
            revoked = client.get(
                "/api/v1/touchpoints", headers={"authorization": f"Bearer {source.revoked_key}"}
            )
            assert revoked.status_code == 401
            recreated = client.post(
                "/api/v1/touchpoints",
                json={"slug": "legacy", "metric": "csat"},
                headers={"authorization": f"Bearer {source.admin_key}"},
            )
        assert recreated.status_code == 201
        payload = recreated.json()["embed_token"].split(".")[1]
        # The deleted one's tokens stay dead: the new one's token is version 2.
        assert json.loads(base64.urlsafe_b64decode(payload + "==")) == ["legacy", 2]


def test_copying_again_changes_nothing_and_a_foreign_target_needs_merge(
    source: Source, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_database()
    cli_out("copy", "--data", str(source.data), "--to", url)
    again = cli_out("copy", "--data", str(source.data), "--to", url)
    assert "0 ratings (49 were there already)" in again
    target = tmp_path / "target"
    database_for(target, url)
    where = database_args("postgres", target)
    cli_out("touchpoint", "add", "mine", "--metric", "csat", *where)
    capsys.readouterr()
    assert main(["copy", "--data", str(source.data), "--to", url]) == 1
    err = capsys.readouterr().err
    assert "touchpoint 'mine'" in err
    assert "--merge" in err
    merged = cli_out("copy", "--data", str(source.data), "--to", url, "--merge")
    assert "0 ratings (49 were there already)" in merged
    slugs = cli_out("touchpoint", "list", *where)
    assert all(slug in slugs for slug in ("mine", "checkout", "support"))


def test_postgres_to_sqlite_round_trips(source: Source, tmp_path: Path) -> None:
    url = new_database()
    cli_out("copy", "--data", str(source.data), "--to", url)
    back = tmp_path / "back"
    pg = tmp_path / "pg"
    database_for(pg, url)
    out = cli_out("copy", "--data", str(back), "--from", url)
    assert "49 ratings" in out
    with served(source.data, {}) as before, served(back, {}) as after:
        assert reads(after, source.read_key) == reads(before, source.read_key)
        rated = httpx.post(f"{after}/api/v1/responses", json={"token": source.token, "score": 4})
        assert rated.status_code == 201


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "mysql://db/scorelet"], "must be a PostgreSQL URL"),
        (["--to", "{data}"], "the same database"),
        ([], "one of the arguments --to --from is required"),
        (["--to", "{data}", "--from", "x"], "not allowed with argument"),
    ],
)
def test_a_copy_that_cannot_work_says_why_and_changes_nothing(
    source: Source, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = cli_out("export", "checkout", "--data", str(source.data))
    argv = ["copy", "--data", str(source.data), *(a.format(data=source.data) for a in args)]
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse refuses a bad combination itself
        status = int(exit.code or 0)
    assert status in (1, 2)
    assert says in capsys.readouterr().err
    assert cli_out("export", "checkout", "--data", str(source.data)) == before


def test_a_copy_shows_progress_on_a_terminal_only(source: Source, tmp_path: Path) -> None:
    url = new_database()
    command = scorelet_command("copy", "--data", str(source.data), "--to", url)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command, env=clean_env(), stdin=terminal, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    output = b""
    with contextlib.suppress(OSError):  # the terminal closes when the copy exits
        while chunk := os.read(controller, 4096):
            output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    assert b"copying ratings" in output
    assert "█".encode() in output
    piped = subprocess.run(
        scorelet_command("copy", "--data", str(source.data), "--to", url),
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "copying ratings" not in piped.stderr + piped.stdout
    assert "0 ratings (49 were there already)" in piped.stdout


async def routing_contents(store: Store) -> dict[str, Any]:
    """Destinations, rules, digests and every rating's tags and issues, as the store reads
    them (ids and the target's own times left out)."""
    ratings = {}
    for touchpoint in store.touchpoints():
        async for page in store.iter_responses(ResponseQuery(touchpoint.id)):
            ratings |= {r.id: (r.tags, r.issues) for r in page}
    return {
        "destinations": [
            (d.name, d.kind, d.url, d.secret, d.team, d.priority, d.labels)
            for d in await store.destinations()
        ],
        "rules": await store.rules(),
        "digests": [replace(d, id=0, created_at=0.0) for d in await store.digests()],
        "ratings": ratings,
        "counts": [await store.by_tag(tp.id) for tp in store.touchpoints()],
    }


@pytest.mark.parametrize("kinds", [("sqlite", "postgres"), ("postgres", "sqlite")])
async def test_tags_issues_rules_destinations_and_digests_go_across(
    kinds: tuple[str, str], tmp_path: Path
) -> None:
    for name in ("source", "target"):
        (tmp_path / name).mkdir()
    source = await open_store(kinds[0], tmp_path / "source")
    target = await open_store(kinds[1], tmp_path / "target")
    try:
        tp = await source.create_touchpoint(
            new_touchpoint_fields({"slug": "checkout", "metric": "csat"})
        )
        await source.create_destination(
            NewDestination("tickets", "linear", "https://linear.example", "lin_key", "SUP", 2)
        )
        await source.create_destination(
            NewDestination("hook", "webhook", "https://hooks.example", "whsec_x", labels=("a",))
        )
        await source.create_rule(parse_rule({"name": "lows", "score": "1..2", "notify": ["hook"]}))
        await source.create_rule(
            parse_rule({"name": "slow", "comment_matches": "slow|late", "add_tags": ["Speed"]})
        )
        weekly = Digest(
            0, "weekly", "hook", "week", ("checkout",), "UTC", "mon 09:00", "2026-W1", 0
        )
        await source.create_digest(weekly)
        for score, comment in [(1, "slow page"), (2, "late"), (5, None), (4, "fine")]:
            await source.record_response(NewResponse(tp.id, score, comment, None))
        listed = await source.list_responses(ResponseQuery(tp.id), 10)
        await source.add_tag(listed[0].id, "Praise")
        (claimed, _) = await source.claim_deliveries(10, 30)
        issue = IssueLink("tickets", "SUP-7", "https://linear.example/SUP-7")
        await source.finish_delivery(claimed.delivery.id, Outcome("delivered", 200, issue=issue))
        carried = await routing_contents(source)
        annotations = carried["ratings"].values()
        assert (sum(len(t) for t, _ in annotations), sum(len(i) for _, i in annotations)) == (3, 1)
        first = await copy_everything(source, target)
        assert first.routing == 5
        assert await routing_contents(target) == carried
        again = await copy_everything(source, target)
        assert (again.routing, again.ratings) == (0, 0)
        assert await routing_contents(target) == await routing_contents(source)
    finally:
        await target.close()
        await source.close()


def test_people_accounts_settings_and_policies_go_across_both_ways_and_once(
    tmp_path: Path,
) -> None:
    """What when-to-ask and the dashboard keep: a person's traits, ratings and displays, the
    touchpoint's policy, accounts and the global throttle, SQLite -> PostgreSQL -> SQLite."""
    now = time.time()

    async def fill(store: Store) -> None:
        checkout = await store.create_touchpoint(
            new_touchpoint_fields(
                {"slug": "checkout", "metric": "csat", "recontact_days": 30, "sample": 50}
            )
        )
        ann = Identity("ann", {"plan": "pro"})
        await store.record_impression(checkout.id, ann)
        await store.record_dismissal(checkout.id, ann)
        await store.record_impression(checkout.id, ann)
        await store.record_response(
            NewResponse(checkout.id, 4, "ok", None, identity=ann, shown=True)
        )
        await store.save_setting("recontact-days", "14")
        await store.create_user("ana@example.com", "admin", "hash")

    async def held(store: Store) -> tuple[Any, ...]:
        checkout = store.touchpoint("checkout")
        assert checkout is not None
        history = await store.history("ann")
        return (
            (checkout.recontact_days, checkout.sample),
            store.settings(),
            [(u.email, u.role, u.password_hash) for u in await store.users()],
            history.person and (history.person.id, dict(history.person.traits)),
            [(r.score, r.person) for r in history.responses],
            [(d.kind, d.at) for d in history.displays],
            store.totals(checkout.id),
        )

    async def run() -> None:
        (tmp_path / "source").mkdir()
        (tmp_path / "back").mkdir()
        source = await open_store("sqlite", tmp_path / "source", clock=lambda: now)
        target = await open_store("postgres", tmp_path / "pg")
        back = await open_store("sqlite", tmp_path / "back")
        try:
            await fill(source)
            await source.maintain()
            expected = await held(source)
            assert expected[3] == ("ann", {"plan": "pro"})
            assert len(expected[5]) == 3
            for _ in range(2):  # a second copy changes nothing
                await copy_everything(source, target, merge=True)
                assert await held(target) == expected
            for _ in range(2):
                await copy_everything(target, back, merge=True)
                assert await held(back) == expected
        finally:
            for store in (source, target, back):
                await store.close()

    asyncio.run(run())
