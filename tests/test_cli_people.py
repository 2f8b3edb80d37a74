"""The `scorelet` commands for when to ask: identity, settings, people, touchpoint flags."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from backends import (
    database_args,
    database_env,
    init_directory,
    kind_of,
    open_store,
    signing_secrets,
)
from conftest import clean_env, scorelet_command
from scorelet.cli import main
from scorelet.store import NewResponse
from scorelet.store.records import Identity
from scorelet.tokens import IdentityClaims, Signer

ON_EVERY_BACKEND = True


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    groups = ("touchpoint", "settings", "people")
    at = 2 if argv[0] in groups else 1
    code = main([*argv[:at], *database_args(kind_of(data), data), *argv[at:]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path, backend: str) -> Path:
    return init_directory(tmp_path / "data", backend)


def rate(data: Path, slug: str, ratings: list[tuple[str | None, int]]) -> None:
    async def go() -> None:
        store = await open_store(kind_of(data), data)
        try:
            touchpoint = store.touchpoint(slug)
            assert touchpoint is not None
            for person, score in ratings:
                who = Identity(person, {"plan": "pro"}) if person else None
                await store.record_impression(touchpoint.id, who)
                await store.record_response(
                    NewResponse(touchpoint.id, score, None, None, identity=who, shown=True)
                )
        finally:
            await store.close()

    asyncio.run(go())


def test_identity_prints_a_signed_expiring_token_with_traits(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out, err = run(
        capsys, data, "identity", "user_1", "--trait", "plan=pro", "--trait",
        "signed_up_at=2026-01-31", "--ttl", "1h",
    )  # fmt: skip
    assert code == 0
    claims = Signer(signing_secrets(data)).verify(out.strip())
    assert isinstance(claims, IdentityClaims)
    assert (claims.person, dict(claims.traits)) == (
        "user_1",
        {"plan": "pro", "signed_up_at": "2026-01-31"},
    )
    assert "identity of 'user_1', valid until" in err
    code, out, _ = run(capsys, data, "identity", "user_1", "--json")
    assert set(json.loads(out)) == {"identity", "person", "traits", "expires_at"}


def test_identity_refuses_a_bad_trait_in_one_line(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out, err = run(capsys, data, "identity", "u", "--trait", "signed_up_at=yesterday")
    assert (code, out) == (1, "")
    assert err.startswith("scorelet: error (traits.signed_up_at): ")
    assert err.count("\n") == 1


def test_touchpoint_flags_set_and_clear_the_policy(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, _, err = run(
        capsys, data, "touchpoint", "add", "q4", "--metric", "nps", "--recontact-days", "90",
        "--redisplay-days", "7", "--max-displays", "3", "--sample", "25", "--min-days-since-signup",
        "30", "--anniversary-window", "14", "--trigger", "event:ticket_closed",
        "--require-identity", "--ignore-global-throttle",
    )  # fmt: skip
    assert code == 0, err
    _, out, _ = run(capsys, data, "touchpoint", "show", "q4", "--json")
    shown = json.loads(out)
    assert {k: shown[k] for k in ("recontact_days", "redisplay_days", "max_displays")} == {
        "recontact_days": 90,
        "redisplay_days": 7,
        "max_displays": 3,
    }
    assert (shown["sample"], shown["min_days_since_signup"], shown["anniversary_window"]) == (
        25.0,
        30,
        14,
    )
    assert (shown["trigger"], shown["require_identity"], shown["ignore_global_throttle"]) == (
        "event:ticket_closed",
        True,
        True,
    )
    code, _, _ = run(
        capsys, data, "touchpoint", "update", "q4", "--max-displays", "0",
        "--anniversary-window", "off", "--no-require-identity", "--trigger", "load",
    )  # fmt: skip
    assert code == 0
    shown = json.loads(run(capsys, data, "touchpoint", "show", "q4", "--json")[1])
    assert (shown["max_displays"], shown["anniversary_window"], shown["require_identity"]) == (
        None,
        None,
        False,
    )
    assert shown["trigger"] == "load"


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--trigger", "click", "(trigger): trigger must be load or event:NAME"),
        ("--sample", "0", "(sample): sample must be a percent from 0.01 to 100"),
        ("--recontact-days", "5000", "(recontact_days): recontact_days must be between 0 and"),
    ],
)
def test_bad_touchpoint_flags_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], data: Path, flag: str, value: str, says: str
) -> None:
    code, _, err = run(capsys, data, "touchpoint", "add", "x", "--metric", "csat", flag, value)
    assert code == 1
    assert says in err
    assert run(capsys, data, "touchpoint", "list")[1].startswith("No touchpoints yet")


def test_settings_set_and_show_the_global_throttle(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    assert run(capsys, data, "settings", "show")[1] == "recontact-days: 0 (off)\n"
    code, out, _ = run(capsys, data, "settings", "set", "recontact-days", "30")
    assert (code, out) == (
        0,
        "Set recontact-days to 30: one survey per person every 30 days across touchpoints.\n",
    )
    assert json.loads(run(capsys, data, "settings", "show", "--json")[1]) == {"recontact-days": 30}
    code, _, err = run(capsys, data, "settings", "set", "recontact-days", "-3")
    assert code == 1
    assert "recontact-days must be a whole number of days from 0 to 3650" in err


def test_people_show_export_by_group_and_forget(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    run(capsys, data, "touchpoint", "add", "q4", "--metric", "nps")
    rate(data, "q4", [("ann", 10), ("bob", 2), (None, 9), ("ann", 9)])
    code, out, _ = run(capsys, data, "people", "show", "ann")
    assert code == 0
    assert out.splitlines()[0].startswith("ann: traits plan=pro; last seen ")
    assert sum("rated q4" in line for line in out.splitlines()) == 2
    assert sum("shown q4" in line for line in out.splitlines()) == 2
    code, out, _ = run(capsys, data, "export", "q4", "--group", "promoter", "--format", "ndjson")
    exported = [(r["score"], r["person"] or "-") for r in map(json.loads, out.splitlines())]
    assert sorted(exported) == [(9, "-"), (9, "ann"), (10, "ann")]
    code, _, err = run(capsys, data, "export", "q4", "--group", "happy")
    assert (code, err.count("\n")) == (1, 1)
    assert "--group: group must be one of detractor, passive, promoter" in err
    code, out, _ = run(capsys, data, "people", "forget", "ann", "--yes")
    assert code == 0
    assert out.startswith("Erased 'ann': 2 ratings, its displays (2 counted impressions)")
    code, out, _ = run(capsys, data, "score", "q4", "--json")
    body = json.loads(out)
    assert (body["responses"], body["distribution"]["9"], body["impressions"]) == (2, 1, 2)
    assert run(capsys, data, "people", "show", "ann")[0] == 1


def test_people_forget_asks_for_yes_when_not_on_a_terminal(data: Path) -> None:
    result = subprocess.run(
        scorelet_command("people", "forget", "ann", *database_args(kind_of(data), data)),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_env(**database_env(kind_of(data), data)),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "scorelet: error: forgetting deletes the person's ratings for good; add --yes to confirm\n"
    )
