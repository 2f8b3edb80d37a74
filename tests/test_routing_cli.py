"""`scorelet destination|rule|tag|deliveries|digest`, run in-process on a real data directory."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from backends import database_args, open_store
from receivers import SlackReceiver, WebhookReceiver, receiving
from scorelet.cli import main
from scorelet.store import NewResponse

ON_EVERY_BACKEND = True
KINDS: dict[Path, str] = {}  # which backend each test's data directory is on


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv[:2], *database_args(KINDS[data], data), *argv[2:]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> Path:
    monkeypatch.setenv("SCORELET_ALLOW_PRIVATE_DESTINATIONS", "1")
    data = tmp_path / "data"
    where = database_args(backend, data)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", "--no-demos", *where]) == 0
    assert main(["touchpoint", "add", "checkout", "--metric", "csat", *where]) == 0
    KINDS[data] = backend
    return data


def rate(data: Path, score: int, comment: str | None) -> str:
    import asyncio

    async def go() -> str:
        store = await open_store(KINDS[data], data)
        try:
            tp = store.touchpoint("checkout")
            assert tp is not None
            new = NewResponse(tp.id, score, comment, None)
            return (await store.record_response(new)).response.id
        finally:
            await store.close()

    return asyncio.run(go())


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["destination", "add"],
        ["destination", "test"],
        ["rule", "add"],
        ["rule", "backfill"],
        ["tag", "add"],
        ["deliveries", "list"],
        ["deliveries", "retry"],
        ["digest", "add"],
    ):
        with pytest.raises(SystemExit) as done:
            main([*argv, "--help"])
        assert done.value.code == 0
        assert "usage: scorelet " + " ".join(argv) in capsys.readouterr().out


def test_destinations_rules_tags_and_deliveries_from_the_command_line(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    with receiving(WebhookReceiver) as hook, receiving(SlackReceiver) as slack:
        code, out, _ = run(
            capsys, data, "destination", "add", "hook", "--type", "webhook", "--url", hook.url
        )
        assert code == 0
        secret = next(line for line in out.splitlines() if line.startswith("whsec_"))
        hook.secret = secret
        assert (
            run(capsys, data, "destination", "add", "fires", "--type", "slack", "--url", slack.url)[
                0
            ]
            == 0
        )
        code, out, _ = run(capsys, data, "destination", "list", "--json")
        assert secret not in out
        assert {d["name"] for d in json.loads(out)} == {"hook", "fires"}
        code, out, _ = run(capsys, data, "destination", "test", "hook")
        assert (code, "HTTP 204" in out) == (0, True)
        assert hook.payloads[0]["type"] == "test"
        code, out, _ = run(capsys, data, "destination", "test", "fires")
        assert "It answered: ok" in out
        assert "[TEST]" in slack.messages[0]["text"]

        code, _, err = run(
            capsys, data, "rule", "add", "bad", "--comment-matches", "(a", "--add-tag", "X"
        )
        assert code == 1
        assert err.count("\n") == 1
        assert "(comment_matches)" in err
        code, _, err = run(capsys, data, "rule", "add", "lost", "--notify", "nowhere")
        assert code == 1
        assert "no destination is named 'nowhere'" in err
        code, out, _ = run(
            capsys,
            data,
            "rule",
            "add",
            "lows",
            "--score",
            "1..2",
            "--notify",
            "hook",
            "fires",
            "--wait-for-comment",
            "5m",
        )
        assert code == 0
        assert "notify hook, fires" in out
        assert json.loads(run(capsys, data, "rule", "list", "--json")[1])[0]["notify"] == [
            "hook",
            "fires",
        ]

        rating = rate(data, 1, None)
        code, out, _ = run(capsys, data, "deliveries", "list", "--state", "pending")
        assert out.count(rating) == 2
        assert "waiting for the comment" in out
        code, out, _ = run(capsys, data, "tag", "add", rating, "Refund")
        assert "its tags are now Refund" in out
        code, out, _ = run(capsys, data, "tag", "remove", rating, "Refund")
        assert "its tags are now none" in out

        rate(data, 5, "slow slow page")
        rate(data, 2, "fine")
        code, out, _ = run(
            capsys, data, "rule", "add", "speed", "--comment-matches", "slow", "--add-tag", "Speed"
        )
        assert "scorelet rule backfill speed" in out
        code, out, _ = run(capsys, data, "rule", "backfill", "speed")
        assert "looked at 3 ratings and tagged 1" in out

        code, out, err = run(capsys, data, "deliveries", "retry")
        assert code == 1
        assert "--all-dead" in err
        code, out, _ = run(
            capsys,
            data,
            "digest",
            "add",
            "weekly",
            "--destination",
            "fires",
            "--every",
            "week",
            "--tz",
            "Europe/Berlin",
        )
        assert "every week at mon 09:00 (Europe/Berlin)" in out
        code, _, err = run(
            capsys,
            data,
            "digest",
            "add",
            "bad",
            "--destination",
            "fires",
            "--every",
            "month",
            "--at",
            "mon 09:00",
        )
        assert code == 1
        assert "(at)" in err
        code, _, err = run(capsys, data, "destination", "remove", "fires")
        assert code == 1
        assert "used by lows, digest weekly" in err
