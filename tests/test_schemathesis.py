"""Schemathesis against the live `/openapi.json`, with every check: zero failures.

The schemathesis command runs as a user would run it, with tests/schemathesis.toml
(which says why each of its few exceptions exists), against a real server over HTTP
with an admin key, so the authenticated endpoints are exercised too. Its phases
(coverage, fuzzing, stateful) send what the schema allows and what it doesn't:
the server must take the one, refuse the other with a documented 4xx, answer in
the schema's shapes and headers, and never fail. A fixed seed keeps the run the
same from one machine to the next; rate limits are off for this server, as the
flood is the test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import LiveServer, run_server

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 20
SEED = 20261202


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    for server in run_server(tmp_path_factory.mktemp("schemathesis"), rate_limit=False):
        server.add_touchpoint(slug="checkout", metric="csat")
        server.add_touchpoint(slug="loyalty", metric="nps")
        yield server


def test_the_api_keeps_to_its_schema_under_every_check(fuzzed: LiveServer, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{fuzzed.url}/openapi.json",
        "-H",
        f"Authorization: Bearer {fuzzed.admin_key}",
        # Server-sent events never end, so there is no answer to check; they have own tests.
        "--exclude-path-regex",
        "/stream$",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert cases is not None, report[-4000:]
    assert int(cases[1]) == int(cases[2]) > 1000, report[-4000:]  # every case passed
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None, report[-4000:]
    assert int(tested[1]) >= 50, report[-4000:]  # every operation but the stream
