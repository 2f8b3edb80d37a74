"""The `scorelet` command, run in-process against a real data directory."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import LiveServer, init_data
from scorelet.cli import main
from scorelet.config import Settings, resolve_secrets
from scorelet.store import NewResponse, Store
from scorelet.tokens import EmbedClaims, Signer, SubjectClaims


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    code = main(
        [*argv[:2], "--data", str(data), *argv[2:]]
        if argv[0] in ("touchpoint", "key", "responses")
        else [argv[0], "--data", str(data), *argv[1:]]
    )
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    init_data(tmp_path / "data")
    return tmp_path / "data"


def stored_key_hash(data: Path, key_id: str) -> str:
    async def read() -> str:
        store = await Store.open(data / "scorelet.sqlite3")
        try:
            key = store.api_key(key_id)
            assert key is not None
            return key.hash
        finally:
            await store.close()

    return asyncio.run(read())


def signer(data: Path) -> Signer:
    return Signer(resolve_secrets(Settings(data_dir=data)).secrets)


def test_add_prints_a_script_tag_whose_token_names_the_touchpoint(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out, _ = run(
        capsys,
        data,
        "touchpoint",
        "add",
        "checkout",
        "--metric",
        "csat",
        "--question",
        "How was checkout?",
    )
    assert code == 0
    assert "checkout (CSAT, stars 1-5)" in out
    match = re.search(r'<script src="http://127\.0\.0\.1:8000/s/([^"]+)\.js" async></script>', out)
    assert match
    assert signer(data).verify(match[1]) == EmbedClaims("checkout", 1)


def test_embed_uses_the_public_url(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    run(capsys, data, "touchpoint", "add", "q4", "--metric", "nps")
    code, out, _ = run(capsys, data, "embed", "q4", "--base-url", "https://feedback.example.com/")
    assert code == 0
    assert re.fullmatch(
        r'<script src="https://feedback\.example\.com/s/e\.[^"]+\.js" async></script>\n', out
    )


def test_list_show_update_and_remove(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    run(
        capsys,
        data,
        "touchpoint",
        "add",
        "support",
        "--metric",
        "csat",
        "--scale",
        "smileys3",
        "--origin",
        "https://help.example.com",
    )
    code, out, _ = run(capsys, data, "touchpoint", "list")
    assert (code, out) == (0, "support (CSAT, smileys3 1-3)\n")
    code, out, _ = run(
        capsys,
        data,
        "touchpoint",
        "update",
        "support",
        "--question",
        "All sorted?",
        "--pause",
        "--cooldown-days",
        "7",
    )
    assert code == 0
    assert "paused" in out
    code, out, _ = run(capsys, data, "touchpoint", "show", "support", "--json")
    shown = json.loads(out)
    assert (shown["question"], shown["active"], shown["cooldown_days"]) == ("All sorted?", False, 7)
    assert shown["origins"] == ["https://help.example.com"]
    code, out, _ = run(
        capsys, data, "touchpoint", "update", "support", "--clear-origins", "--resume"
    )
    code, out, _ = run(capsys, data, "touchpoint", "show", "support")
    assert "any (no origins configured)" in out
    code, _, err = run(capsys, data, "touchpoint", "remove", "support")
    assert code == 1
    assert "--yes" in err
    code, out, _ = run(capsys, data, "touchpoint", "remove", "support", "--yes")
    assert code == 0
    assert run(capsys, data, "touchpoint", "list")[1].startswith("No touchpoints yet")


def test_rotate_token_revokes_the_old_embed_token(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    run(capsys, data, "touchpoint", "add", "q1", "--metric", "nps")
    _, before, _ = run(capsys, data, "embed", "q1")
    code, out, _ = run(capsys, data, "touchpoint", "update", "q1", "--rotate-token")
    assert code == 0
    _, after, _ = run(capsys, data, "embed", "q1")
    assert before != after
    assert after.strip() in out
    token = re.search(r"/s/([^\"]+)\.js", after)
    assert token
    assert signer(data).verify(token[1]) == EmbedClaims("q1", 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("touchpoint", "add", "Bad Slug", "--metric", "csat"), "slug"),
        (("touchpoint", "add", "x", "--metric", "nps", "--scale", "stars"), "0-10"),
        (("touchpoint", "add", "x", "--metric", "csat", "--scale", "numeric:99"), "numeric"),
        (("touchpoint", "add", "x", "--metric", "csat", "--satisfied-from", "1"), "satisfied_from"),
        (("touchpoint", "add", "x", "--metric", "csat", "--origin", "shop.example"), "origin"),
        (("touchpoint", "show", "ghost"), "no touchpoint is named 'ghost'"),
        (("touchpoint", "update", "ghost", "--question", "q"), "ghost"),
        (("embed", "ghost"), "ghost"),
        (("token", "ghost", "--subject", "c1"), "ghost"),
        (("score", "ghost"), "ghost"),
        (("key", "revoke", "deadbeef"), "no active API key"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(
    capsys: pytest.CaptureFixture[str], data: Path, argv: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, data, *argv)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("scorelet: error")
    assert message in err


def test_duplicate_touchpoint_is_refused(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert run(capsys, data, "touchpoint", "add", "dup", "--metric", "csat")[0] == 0
    code, _, err = run(capsys, data, "touchpoint", "add", "dup", "--metric", "csat")
    assert code == 1
    assert "exists" in err


def test_update_without_changes_says_so(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    run(capsys, data, "touchpoint", "add", "same", "--metric", "csat")
    code, _, err = run(capsys, data, "touchpoint", "update", "same")
    assert code == 1
    assert "nothing to change" in err


def test_keys_are_shown_once_and_stored_hashed(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out, err = run(capsys, data, "key", "create", "--scope", "read", "--name", "grafana")
    assert code == 0
    key = out.strip()
    assert key.startswith("slk_")
    assert "shown only now" in err
    code, listed, _ = run(capsys, data, "key", "list")
    assert key not in listed
    key_id = key.split("_")[1]
    assert key_id in listed
    assert "grafana" in listed
    assert "active" in listed
    stored = stored_key_hash(data, key_id)
    assert key not in stored
    assert len(stored) == 64
    assert run(capsys, data, "key", "revoke", key_id)[0] == 0
    code, listed, _ = run(capsys, data, "key", "list", "--json")
    assert json.loads(listed)[0]["revoked_at"] is not None


def test_token_binds_subject_context_and_expiry(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    run(capsys, data, "touchpoint", "add", "support-chat", "--metric", "csat")
    before = time.time()
    code, out, _ = run(
        capsys,
        data,
        "token",
        "support-chat",
        "--subject",
        "conv_8812",
        "--context",
        "agent=alice",
        "--context",
        "team=billing",
        "--ttl",
        "2h",
    )
    assert code == 0
    claims = signer(data).verify(out.strip())
    assert isinstance(claims, SubjectClaims)
    assert (claims.touchpoint, claims.subject) == ("support-chat", "conv_8812")
    assert dict(claims.context) == {"agent": "alice", "team": "billing"}
    assert before + 7200 - 2 <= claims.expires_at <= time.time() + 7200 + 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--ttl", "forever"), "duration"),
        (("--ttl", "400d"), "366 days"),
        (("--context", "since=x"), "reserved"),
    ],
)
def test_token_refuses_bad_options(
    capsys: pytest.CaptureFixture[str], data: Path, extra: tuple[str, ...], message: str
) -> None:
    run(capsys, data, "touchpoint", "add", "chat", "--metric", "csat")
    code, _, err = run(capsys, data, "token", "chat", "--subject", "c1", *extra)
    assert code == 1
    assert message in err


def test_score_prints_human_and_json(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    run(capsys, data, "touchpoint", "add", "empty", "--metric", "nps")
    code, out, _ = run(capsys, data, "score", "empty")
    assert (code, out) == (0, "empty: no responses yet, so no NPS.\n")
    code, out, _ = run(capsys, data, "score", "empty", "--json", "--since", "2026-01-01")
    body = json.loads(out)
    assert (body["metric"], body["responses"], body["score"]) == ("nps", 0, None)
    code, _, err = run(capsys, data, "score", "empty", "--since", "last tuesday")
    assert code == 1
    assert "--since" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["serve"],
        ["touchpoint", "add"],
        ["touchpoint", "update"],
        ["key", "create"],
        ["token"],
        ["score"],
        ["embed"],
    ],
)
def test_every_command_has_help(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scorelet", *argv, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "usage: scorelet" in result.stdout
    assert len(result.stdout) > 200


def test_no_command_prints_help_and_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scorelet"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "first steps" in result.stdout


def test_embed_token_prints_only_the_token(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    run(capsys, data, "touchpoint", "add", "bare", "--metric", "csat")
    code, out, _ = run(capsys, data, "embed", "bare", "--token")
    assert code == 0
    assert signer(data).verify(out.strip()) == EmbedClaims("bare", 1)


@pytest.mark.parametrize("value", ["0", "6"])
def test_satisfied_from_off_the_scale_names_the_scales_range(
    capsys: pytest.CaptureFixture[str], data: Path, value: str
) -> None:
    code, _, err = run(
        capsys, data, "touchpoint", "add", "shop", "--metric", "csat", "--satisfied-from", value
    )
    assert code == 1
    assert err == (
        "scorelet: error (satisfied_from): satisfied_from must be between 2 and 5 on stars\n"
    )


def test_responses_show_and_delete_one_rating(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    run(capsys, data, "touchpoint", "add", "help", "--metric", "csat")

    async def rate() -> str:
        store = await Store.open(Settings(data_dir=data).database)
        try:
            touchpoint = store.touchpoint("help")
            assert touchpoint is not None
            await store.record_response(NewResponse(touchpoint.id, 5, None, None))
            spam = await store.record_response(NewResponse(touchpoint.id, 1, "buy now", None))
        finally:
            await store.close()
        return spam.response.id

    spam = asyncio.run(rate())
    code, out, _ = run(capsys, data, "responses", "show", spam, "--json")
    assert code == 0
    assert json.loads(out)["comment"] == "buy now"
    code, out, _ = run(capsys, data, "responses", "delete", spam)
    assert code == 0
    assert f"Deleted rating {spam} (score 1 on help)" in out
    code, _, err = run(capsys, data, "responses", "delete", spam)
    assert (code, err) == (1, "scorelet: error (id): no response has this id\n")
    code, _, err = run(capsys, data, "responses", "show", "12")
    assert code == 1
    assert "'12' is not a rating id" in err
    code, out, _ = run(capsys, data, "score", "help", "--json")
    assert json.loads(out)["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}


def test_follow_up_prompts_per_group_and_branding_from_the_cli(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, _, err = run(
        capsys,
        data,
        "touchpoint",
        "add",
        "chat",
        "--metric",
        "csat",
        "--comment-prompt-for",
        "low=What went wrong?",
        "--brand-name",
        "Acme",
        "--brand-accent",
        "#C026D3",
    )
    assert code == 0, err
    run(capsys, data, "touchpoint", "update", "chat", "--comment-prompt-for", "high=What was best?")
    code, out, _ = run(capsys, data, "touchpoint", "show", "chat", "--json")
    shown = json.loads(out)
    assert shown["comment_prompts"] == {
        "low": "What went wrong?",
        "neutral": None,
        "high": "What was best?",
    }
    assert (shown["brand_name"], shown["brand_accent"], shown["brand_logo"]) == (
        "Acme",
        "#c026d3",
        None,
    )
    run(capsys, data, "touchpoint", "update", "chat", "--comment-prompt-for", "low=")
    _, out, _ = run(capsys, data, "touchpoint", "show", "chat")
    assert "low: (widget default); neutral: (widget default); high: What was best?" in out
    assert "(install default)" in out
    code, _, err = run(
        capsys, data, "touchpoint", "update", "chat", "--comment-prompt-for", "promoter=Why?"
    )
    assert code == 1
    assert "comment_prompts.promoter" in err
    assert "low, neutral, high" in err


def test_score_json_is_the_apis_body_window_and_filters_included(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    tp = server.add_touchpoint()
    with server.client() as client:
        for score, agent in ((5, "alice"), (2, "bob"), (4, "alice")):
            body = {"token": tp["embed_token"], "score": score, "context": {"agent": agent}}
            client.post("/api/v1/responses", json=body)
    data = server.settings.data_dir
    for extra, params in (
        ([], {}),
        (["--since", "2026-01-01T00:00:00Z", "--until", "2999-01-01"], {}),
        (["--filter", "agent=alice"], {"agent": "alice"}),
    ):
        capsys.readouterr()
        assert main(["score", tp["slug"], "--json", "--data", str(data), *extra]) == 0
        cli = json.loads(capsys.readouterr().out)
        query = dict(params)
        if extra[:1] == ["--since"]:
            query |= {"since": "2026-01-01T00:00:00Z", "until": "2999-01-01"}
        with server.reader() as reader:
            api = reader.get(f"/api/v1/touchpoints/{tp['slug']}/score", params=query).json()
        assert cli == api
        assert {"since", "until", "filters"} <= set(cli)
