"""Hostile input against every public endpoint and the CLI, over real HTTP.

Each case must be refused with a precise 4xx problem+json (the CLI: exit 1 or
2 and one line on stderr), write nothing, and leave the server healthy. This
extends tests/test_api_errors.py with attacks rather than mistakes: replayed
and cross-purpose tokens, retired secrets, hostile origins, unicode tricks,
numbers JSON can spell but Python shouldn't trust, and bodies that are too
big or too slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LiveServer, init_data, run_server
from scorelet.cli import main
from scorelet.store import Store
from scorelet.tokens import Signer
from test_serve import serving

BODY_TIMEOUT = 1.0
RETIRED_SECRET = "a-secret-we-rotated-out-long-ago"


@dataclass
class Env:
    server: LiveServer
    signer: Signer
    csat: dict[str, Any]
    nps: dict[str, Any]
    shop: dict[str, Any]
    paused: dict[str, Any]
    old_token: str  # an embed token revoked by rotating its touchpoint's token
    response_id: str  # rated on `csat` with its embed token
    subject_response: str  # rated on `csat` for subject "conv-1"
    other_subject_token: str  # for subject "conv-2"

    @property
    def token(self) -> str:
        return str(self.csat["embed_token"])


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory.mktemp("hostile"), body_timeout=BODY_TIMEOUT)


@pytest.fixture(scope="module")
def env(hostile_server: LiveServer) -> Env:
    server = hostile_server
    signer = Signer(server.settings.secrets)
    csat = server.add_touchpoint(metric="csat")
    rotated = server.add_touchpoint(metric="csat")
    paused = server.add_touchpoint(metric="csat")
    with server.admin() as admin:
        assert admin.patch(f"/api/v1/touchpoints/{rotated['slug']}", json={"rotate_token": True})
        assert admin.patch(f"/api/v1/touchpoints/{paused['slug']}", json={"active": False})
    subject_token = signer.mint_subject(csat["slug"], "conv-1", {"agent": "a"}, 4_000_000_000)
    with server.client() as client:
        rated = client.post("/api/v1/responses", json={"token": csat["embed_token"], "score": 4})
        subject = client.post("/api/v1/responses", json={"token": subject_token, "score": 2})
    assert (rated.status_code, subject.status_code) == (201, 201)
    return Env(
        server=server,
        signer=signer,
        csat=csat,
        nps=server.add_touchpoint(metric="nps"),
        shop=server.add_touchpoint(origins=["https://shop.example.com"]),
        paused=paused,
        old_token=rotated["embed_token"],
        response_id=rated.json()["id"],
        subject_response=subject.json()["id"],
        other_subject_token=signer.mint_subject(csat["slug"], "conv-2", {}, 4_000_000_000),
    )


# -- sending requests -------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    content_type: str
    body: dict[str, Any]


def via_httpx(env: Env, **request: Any) -> Answer:
    with env.server.client() as client:
        response = client.request(**request)
    return Answer(response.status_code, response.headers.get("content-type", ""), response.json())


def via_socket(env: Env, head: bytes, body: Iterator[bytes] | bytes = b"") -> Answer:
    """Send raw bytes (the body may be a generator, sent until the server stops reading).

    The body goes out from a thread while this one reads, so the answer is read
    as soon as it comes, before the reset that closing an unread upload causes.
    """
    port = int(env.server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:

        def send() -> None:
            try:
                sock.sendall(head)
                for chunk in [body] if isinstance(body, bytes) else body:
                    sock.sendall(chunk)
            except OSError:
                pass  # the server stopped reading and answered: that is the point

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
                more = sock.recv(65536)
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass  # whatever arrived before the reset is still parsed below
        finally:
            with contextlib.suppress(OSError):  # already reset by the server
                sock.shutdown(socket.SHUT_RDWR)
            sender.join()
    head_text, _, payload = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return Answer(int(lines[0].split()[1]), headers.get("content-type", ""), json.loads(payload))


def _expected_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return 1 << 40


def post(path: str, body: Callable[[Env], Any], **headers: str) -> Callable[[Env], Answer]:
    return lambda env: via_httpx(env, method="POST", url=path, json=body(env), headers=headers)


def submit(body: Callable[[Env], Any], **headers: str) -> Callable[[Env], Answer]:
    return post("/api/v1/responses", body, **headers)


def raw_submit(content: bytes, content_type: str = "application/json") -> Callable[[Env], Answer]:
    return lambda env: via_httpx(
        env,
        method="POST",
        url="/api/v1/responses",
        content=content,
        headers={"content-type": content_type},
    )


def patch(response: Callable[[Env], str], body: Callable[[Env], Any]) -> Callable[[Env], Answer]:
    return lambda env: via_httpx(
        env, method="PATCH", url=f"/api/v1/responses/{response(env)}", json=body(env)
    )


def read(path: str, key: Callable[[Env], str | None]) -> Callable[[Env], Answer]:
    def send(env: Env) -> Answer:
        value = key(env)
        headers = {"authorization": value} if value is not None else {}
        return via_httpx(env, method="GET", url=path, headers=headers)

    return send


def slow_loris(env: Env) -> Answer:
    """Declare a body, send a few bytes of it, then stall past the body time limit."""

    def trickle() -> Iterator[bytes]:
        yield b'{"tok'
        time.sleep(BODY_TIMEOUT * 2.5)
        yield b"en"

    head = (
        b"POST /api/v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 400\r\n\r\n"
    )
    return via_socket(env, head, trickle())


def chunked_trickle(env: Env) -> Answer:
    """Chunked encoding, one byte a while: no Content-Length to refuse up front."""

    def trickle() -> Iterator[bytes]:
        for _ in range(4):
            yield b"1\r\n{\r\n"
            time.sleep(BODY_TIMEOUT)

    head = (
        b"POST /api/v1/impressions HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    return via_socket(env, head, trickle())


HUNDRED_MB = 100 * 1024 * 1024
sent_bytes: dict[str, int] = {}


def hundred_mb_chunked(env: Env) -> Answer:
    """A 100 MB chunked body: refused once 16 KB have arrived, the rest never read."""
    block = b"x" * 65536
    frame = b"%x\r\n" % len(block) + block + b"\r\n"

    def body() -> Iterator[bytes]:
        sent_bytes["chunked"] = 0
        while sent_bytes["chunked"] < HUNDRED_MB:
            sent_bytes["chunked"] += len(block)
            yield frame

    head = (
        b"POST /api/v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    return via_socket(env, head, body())


def hundred_mb_declared(env: Env) -> Answer:
    head = (
        b"POST /api/v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % HUNDRED_MB
    )
    return via_socket(env, head, b'{"token": "')


def subject(env: Env, slug: str, name: str, expires: int = 4_000_000_000) -> str:
    return env.signer.mint_subject(slug, name, {}, expires)


# (name, send, status, code, field)
Case = tuple[str, Callable[[Env], Answer], int, str, str | None]

CASES: list[Case] = [
    # forged, replayed and cross-purpose tokens
    (
        "token signed with a rotated-out secret",
        submit(lambda e: {"token": Signer([RETIRED_SECRET]).mint_embed(e.csat["slug"], 1)}),
        403,
        "bad_token",
        "token",
    ),
    (
        "embed token revoked by --rotate-token",
        submit(lambda e: {"token": e.old_token, "score": 4}),
        403,
        "token_revoked",
        "token",
    ),
    (
        "embed payload behind the subject prefix",
        submit(lambda e: {"token": "s." + e.token[2:], "score": 4}),
        403,
        "bad_token",
        "token",
    ),
    (
        "an API key used as a token",
        submit(lambda e: {"token": e.server.admin_key, "score": 4}),
        403,
        "bad_token",
        "token",
    ),
    (
        "a token used as an API key",
        read("/api/v1/touchpoints", lambda e: f"Bearer {e.token}"),
        401,
        "bad_api_key",
        None,
    ),
    (
        "token with a NUL byte",
        submit(lambda e: {"token": e.token + "\u0000", "score": 4}),
        403,
        "bad_token",
        "token",
    ),
    (
        "token with non-ASCII look-alikes",
        submit(lambda e: {"token": e.token.replace("e.", "\u0435.", 1), "score": 4}),
        403,
        "bad_token",
        "token",
    ),
    (
        "a 5000-character token",
        submit(lambda e: {"token": "e." + "A" * 5000}),
        403,
        "bad_token",
        "token",
    ),
    (
        "paused touchpoint",
        submit(lambda e: {"token": e.paused["embed_token"], "score": 4}),
        403,
        "touchpoint_inactive",
        "token",
    ),
    (
        "expired subject token",
        submit(lambda e: {"token": subject(e, e.csat["slug"], "conv-9", 1), "score": 4}),
        403,
        "token_expired",
        "token",
    ),
    (
        "subject token for a touchpoint that never existed",
        submit(lambda e: {"token": subject(e, "nowhere", "conv-9"), "score": 4}),
        404,
        "touchpoint_not_found",
        "token",
    ),
    (
        "client id that belongs to another touchpoint",
        submit(lambda e: {"token": e.nps["embed_token"], "score": 9, "id": e.response_id}),
        409,
        "id_conflict",
        "id",
    ),
    # replayed PATCH
    (
        "PATCH another subject's rating",
        patch(
            lambda e: e.subject_response, lambda e: {"token": e.other_subject_token, "comment": "x"}
        ),
        403,
        "token_mismatch",
        "token",
    ),
    (
        "PATCH a rating of another touchpoint",
        patch(lambda e: e.response_id, lambda e: {"token": e.shop["embed_token"], "comment": "x"}),
        403,
        "token_mismatch",
        "token",
    ),
    (
        "PATCH a rating that doesn't exist",
        patch(lambda e: str(uuid.uuid4()), lambda e: {"token": e.token, "comment": "x"}),
        404,
        "response_not_found",
        "id",
    ),
    (
        "PATCH that tries to change the score",
        patch(lambda e: e.response_id, lambda e: {"token": e.token, "comment": "x", "score": 1}),
        422,
        "unknown_field",
        "score",
    ),
    (
        "PATCH with an id in braces",
        patch(lambda e: "{" + e.response_id + "}", lambda e: {"token": e.token, "comment": "x"}),
        422,
        "invalid_value",
        "id",
    ),
    # origins
    (
        "submit from another origin",
        submit(
            lambda e: {"token": e.shop["embed_token"], "score": 4}, origin="https://evil.example"
        ),
        403,
        "origin_not_allowed",
        "origin",
    ),
    (
        "impression from another origin",
        post(
            "/api/v1/impressions",
            lambda e: {"token": e.shop["embed_token"]},
            origin="https://shop.example.com.evil.example",
        ),
        403,
        "origin_not_allowed",
        "origin",
    ),
    (
        "submit from a sandboxed frame (Origin: null)",
        submit(lambda e: {"token": e.shop["embed_token"], "score": 4}, origin="null"),
        403,
        "origin_not_allowed",
        "origin",
    ),
    (
        "submit from the allowed host over plain http",
        submit(
            lambda e: {"token": e.shop["embed_token"], "score": 4}, origin="http://shop.example.com"
        ),
        403,
        "origin_not_allowed",
        "origin",
    ),
    # numbers
    ("score NaN", raw_submit(b'{"token": "x", "score": NaN}'), 400, "malformed_json", None),
    ("score -Infinity", raw_submit(b'{"score": -Infinity}'), 400, "malformed_json", None),
    (
        "score 1e400 (a float infinity)",
        lambda e: via_httpx(
            e,
            method="POST",
            url="/api/v1/responses",
            content=b'{"token": "%s", "score": 1e400}' % e.token.encode(),
            headers={"content-type": "application/json"},
        ),
        422,
        "wrong_type",
        "score",
    ),
    ("score 4.5", submit(lambda e: {"token": e.token, "score": 4.5}), 422, "wrong_type", "score"),
    ("score -0.0", submit(lambda e: {"token": e.token, "score": -0.0}), 422, "wrong_type", "score"),
    (
        "score with 5000 digits",
        raw_submit(b'{"score": ' + b"9" * 5000 + b"}"),
        400,
        "malformed_json",
        None,
    ),
    (
        "score 2**63",
        submit(lambda e: {"token": e.token, "score": 2**63}),
        422,
        "score_out_of_range",
        "score",
    ),
    (
        "score null",
        submit(lambda e: {"token": e.token, "score": None}),
        422,
        "missing_field",
        "score",
    ),
    (
        "score an object",
        submit(lambda e: {"token": e.token, "score": {"$gt": 0}}),
        422,
        "wrong_type",
        "score",
    ),
    # unicode and control characters
    (
        "comment with a C1 control (U+0085)",
        submit(lambda e: {"token": e.token, "score": 4, "comment": "a\u0085b"}),
        422,
        "invalid_text",
        "comment",
    ),
    (
        "comment with an escape sequence (ESC)",
        submit(lambda e: {"token": e.token, "score": 4, "comment": "\u001b[2J"}),
        422,
        "invalid_text",
        "comment",
    ),
    (
        "context value with a NUL",
        submit(lambda e: {"token": e.token, "score": 4, "context": {"plan": "pro\u0000"}}),
        422,
        "invalid_text",
        "context.plan",
    ),
    (
        "context value with a lone surrogate",
        lambda e: via_httpx(
            e,
            method="POST",
            url="/api/v1/responses",
            content=b'{"token": "%s", "score": 4, "context": {"plan": "\\udfff"}}'
            % e.token.encode(),
            headers={"content-type": "application/json"},
        ),
        422,
        "invalid_text",
        "context.plan",
    ),
    (
        "context key in Cyrillic",
        submit(lambda e: {"token": e.token, "score": 4, "context": {"\u0430gent": "a"}}),
        422,
        "bad_context_key",
        None,
    ),
    (
        "empty context key",
        submit(lambda e: {"token": e.token, "score": 4, "context": {"": "a"}}),
        422,
        "bad_context_key",
        None,
    ),
    (
        "PATCH comment of 2001 emoji",
        patch(lambda e: e.response_id, lambda e: {"token": e.token, "comment": "👍" * 2001}),
        422,
        "too_long",
        "comment",
    ),
    # bodies
    ("empty body", raw_submit(b""), 400, "malformed_json", None),
    ("body is JSON null", raw_submit(b"null"), 400, "malformed_json", None),
    ("body is a bare string", raw_submit(b'"score"'), 400, "malformed_json", None),
    (
        "text/plain that isn't JSON",
        raw_submit(b"score=4", "text/plain"),
        400,
        "malformed_json",
        None,
    ),
    (
        "XML body",
        raw_submit(b"<score>4</score>", "application/xml"),
        415,
        "unsupported_media_type",
        None,
    ),
    (
        "1,500 context keys under the size limit",
        lambda e: via_httpx(
            e,
            method="POST",
            url="/api/v1/responses",
            json={"token": e.token, "score": 4, "context": {str(i): "" for i in range(1500)}},
        ),
        422,
        "too_many_context_keys",
        "context",
    ),
    (
        "10k context keys over the size limit",
        submit(
            lambda e: {"token": e.token, "score": 4, "context": {str(i): "" for i in range(10_000)}}
        ),
        413,
        "body_too_large",
        None,
    ),
    ("a 100 MB body declared up front", hundred_mb_declared, 413, "body_too_large", None),
    ("a 100 MB chunked body", hundred_mb_chunked, 413, "body_too_large", None),
    ("slow-loris body", slow_loris, 408, "body_timeout", None),
    ("slow-loris chunked impression", chunked_trickle, 408, "body_timeout", None),
    # read and admin endpoints
    (
        "read key on an admin endpoint",
        lambda e: via_httpx(
            e,
            method="POST",
            url="/api/v1/touchpoints",
            json={"slug": "x", "metric": "csat"},
            headers={"authorization": f"Bearer {e.server.read_key}"},
        ),
        403,
        "insufficient_scope",
        None,
    ),
    (
        "API key with its secret part changed",
        read("/api/v1/touchpoints", lambda e: "Bearer " + e.server.read_key[:-4] + "AAAA"),
        401,
        "bad_api_key",
        None,
    ),
    (
        "Basic auth instead of a bearer key",
        read("/api/v1/touchpoints", lambda e: "Basic " + e.server.read_key),
        401,
        "bad_api_key",
        None,
    ),
    (
        "score query with a filter that is SQL",
        lambda e: via_httpx(
            e,
            method="GET",
            url=f"/api/v1/touchpoints/{e.csat['slug']}/score?agent'%20OR%201=1--=1",
            headers={"authorization": f"Bearer {e.server.read_key}"},
        ),
        400,
        "bad_query",
        None,
    ),
    (
        "widget runtime under a made-up hash",
        lambda e: via_httpx(e, method="GET", url="/widget.0123456789abcdef.js"),
        404,
        "widget_not_found",
        None,
    ),
]


def stored(env: Env) -> tuple[Any, ...]:
    """Everything a refused request could have changed, as the API reports it."""
    with env.server.reader() as reader:
        touchpoints = reader.get("/api/v1/touchpoints").json()["touchpoints"]
        scores = reader.get("/api/v1/scores").json()["touchpoints"]
        listed = [
            reader.get(f"/api/v1/touchpoints/{tp['slug']}/responses").json()["responses"]
            for tp in touchpoints
        ]
    return (
        [(tp["slug"], tp["embed_token"], tp["active"]) for tp in touchpoints],
        [(s["touchpoint"], s["distribution"], s["impressions"]) for s in scores],
        [(r["id"], r["score"], r["comment"], r["context"]) for page in listed for r in page],
    )


@pytest.mark.parametrize(
    ("send", "status", "code", "field"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_hostile_request_is_a_precise_problem_and_writes_nothing(
    env: Env, send: Callable[[Env], Answer], status: int, code: str, field: str | None
) -> None:
    before = stored(env)
    answer = send(env)
    assert answer.status == status, answer.body
    assert answer.content_type == "application/problem+json"
    assert answer.body["code"] == code
    assert answer.body["status"] == status
    assert answer.body["detail"]
    if field is not None:
        assert answer.body.get("field") == field
    assert stored(env) == before
    with env.server.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"


def test_the_hostile_table_has_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_100_mb_body_is_cut_off_early_and_never_buffered(env: Env) -> None:
    before = rss_kib()  # the server runs in this process
    answer = hundred_mb_chunked(env)
    assert answer.status == 413
    assert sent_bytes["chunked"] < HUNDRED_MB // 4  # the server stopped reading long before
    assert rss_kib() - before < 32 * 1024


def test_a_token_signed_with_the_older_of_two_secrets_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    new, old = "the-new-secret-0123456789", "the-old-secret-0123456789"
    monkeypatch.setenv("SCORELET_SECRET", old)
    init_data(data)
    assert main(["touchpoint", "add", "checkout", "--metric", "csat", "--data", str(data)]) == 0
    token = Signer([old]).mint_embed("checkout", 1)
    with serving(data, {"SCORELET_SECRET": f"{new},{old}"}) as (_, url):
        assert (
            httpx.post(url + "/api/v1/responses", json={"token": token, "score": 5}).status_code
            == 201
        )
    with serving(data, {"SCORELET_SECRET": new}) as (_, url):
        refused = httpx.post(url + "/api/v1/responses", json={"token": token, "score": 5})
    assert refused.status_code == 403
    assert refused.json()["code"] == "bad_token"


# -- the CLI ------------------------------------------------------------------------------

CLI_CASES: list[tuple[str, list[str], str]] = [
    ("slug with spaces", ["touchpoint", "add", "Bad Slug", "--metric", "csat"], "slug"),
    ("slug with a NUL", ["touchpoint", "add", "a\x00b", "--metric", "csat"], "slug"),
    (
        "scale with SQL",
        ["touchpoint", "add", "x", "--metric", "csat", "--scale", "stars;--"],
        "scale",
    ),
    (
        "numeric scale of 1000",
        ["touchpoint", "add", "x", "--metric", "csat", "--scale", "numeric:1000"],
        "scale",
    ),
    (
        "javascript: origin",
        ["touchpoint", "add", "x", "--metric", "csat", "--origin", "javascript:alert(1)"],
        "origin",
    ),
    (
        "question with an escape sequence",
        ["touchpoint", "add", "x", "--metric", "csat", "--question", "\x1b[2Jhi"],
        "question",
    ),
    (
        "satisfied-from off the scale",
        ["touchpoint", "add", "x", "--metric", "csat", "--satisfied-from", "9"],
        "satisfied",
    ),
    (
        "cooldown of -1 days",
        ["touchpoint", "add", "x", "--metric", "csat", "--cooldown-days", "-1"],
        "cooldown",
    ),
    ("token ttl of 9999 days", ["token", "{slug}", "--subject", "c", "--ttl", "9999d"], "duration"),
    (
        "token with a reserved context key",
        ["token", "{slug}", "--subject", "c", "--context", "since=1"],
        "reserved",
    ),
    ("token with an empty subject", ["token", "{slug}", "--subject", " "], "subject"),
    ("score since nonsense", ["score", "{slug}", "--since", "yesterday-ish"], "--since"),
    ("revoke an unknown key", ["key", "revoke", "deadbeef"], "deadbeef"),
    ("embed an unknown touchpoint", ["embed", "no-such-touchpoint"], "no-such-touchpoint"),
    ("metric that doesn't exist", ["touchpoint", "add", "x", "--metric", "ces"], "metric"),
]


def cli_state(database: Path) -> tuple[Any, ...]:
    """What the CLI could have changed, read through the storage interface."""

    async def read() -> tuple[Any, ...]:
        store = await Store.open(database)
        try:
            return (
                store.touchpoints(),
                [store.totals(tp.id) for tp in store.touchpoints()],
                store.api_keys(),
            )
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("argv", "mention"), [pytest.param(c[1], c[2], id=c[0]) for c in CLI_CASES]
)
def test_hostile_cli_input_is_one_clear_line_and_writes_nothing(
    env: Env, capsys: pytest.CaptureFixture[str], argv: list[str], mention: str
) -> None:
    database = env.server.settings.database
    args = [arg.replace("{slug}", env.csat["slug"]) for arg in argv]
    before = cli_state(database)
    capsys.readouterr()
    try:
        status = main([*args, "--data", str(database.parent)])
    except SystemExit as exit:  # argparse refuses a bad choice itself
        status = exit.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert status in (1, 2)
    assert mention.lower() in err.lower()
    assert "Traceback" not in err
    assert cli_state(database) == before
    with env.server.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"


# -- the hosted page: answers people with HTML, so its own table -------------------------

FORM = {"content-type": "application/x-www-form-urlencoded"}


def page(method: str, token: Callable[[Env], str], **request: Any) -> Callable[[Env], Any]:
    def send(env: Env) -> Any:
        with env.server.client() as client:
            return client.request(method, f"/r/{token(env)}", **request)

    return send


def live(env: Env) -> str:
    return subject(env, env.csat["slug"], "conv-hosted")


HOSTED_CASES: list[tuple[str, Callable[[Env], Any], int]] = [
    ("forged token", page("GET", lambda e: "s.e30.forged"), 404),
    ("embed token on the hosted page", page("GET", lambda e: e.token), 404),
    ("expired subject token", page("GET", lambda e: subject(e, e.csat["slug"], "c", 1)), 410),
    ("paused touchpoint", page("GET", lambda e: subject(e, e.paused["slug"], "c")), 403),
    ("one-click score off the scale", page("GET", live, params={"score": "99"}), 400),
    ("one-click score as a float", page("GET", live, params={"score": "4.0"}), 400),
    ("one-click score with a NUL", page("GET", live, params={"score": "4\x00"}), 400),
    ("form POST with a forged token", page("POST", lambda e: "s.x.y", data={"score": "4"}), 404),
    ("form POST with score 6", page("POST", live, data={"score": "6"}, headers=FORM), 400),
    ("form POST with score NaN", page("POST", live, data={"score": "NaN"}, headers=FORM), 400),
    (
        "form POST with a comment holding ESC",
        page("POST", live, data={"score": "4", "comment": "\x1b[2J"}, headers=FORM),
        400,
    ),
    (
        "form POST over the size limit",
        page("POST", live, content=b"score=4&comment=" + b"x" * 20_000, headers=FORM),
        400,
    ),
    (
        "form POST commenting on another subject's rating",
        lambda e: page(
            "POST", live, data={"id": e.subject_response, "comment": "mine now"}, headers=FORM
        )(e),
        400,
    ),
]


@pytest.mark.parametrize(
    ("send", "status"), [pytest.param(c[1], c[2], id=c[0]) for c in HOSTED_CASES]
)
def test_hostile_hosted_page_requests_store_nothing(
    env: Env, send: Callable[[Env], Any], status: int
) -> None:
    """A refusal page or the form again with a notice (4xx), strict headers, nothing written."""
    before = stored(env)
    response = send(env)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert stored(env) == before
    with env.server.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"
