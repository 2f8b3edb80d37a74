"""The docs can't rot: their examples run, their shown answers hold, their links resolve.

A shell example is runnable when the line before its fence is `<!-- run -->`
(GitHub shows nothing of the comment):

    <!-- run -->
    ```sh
    curl -si http://127.0.0.1:8000/healthz
    ```

Every runnable block of a page runs in order in one bash session
(`set -euo pipefail`, so `KEY=$(...)` carries over and a failing command fails
the page), in a fresh data directory that is the session's working directory,
against a real `scorelet serve` started there; `http://127.0.0.1:8000` and
`http://localhost:8000` in the examples are the test server's address, and
`scorelet` is this environment's. `curl` fails on an HTTP error status unless
the page shows that status as the answer.

A ```json or ```http block right after a runnable one (blank lines between at
most) is the answer it shows. A status line (`HTTP/1.1 201 Created`, from
`curl -i`) must be the status of the block's last response; every JSON key
shown must be in the JSON the block printed last, nested objects too. Values
aren't compared: ids, times and tokens differ on every run.

Examples that can't run here (Docker, systemd, proxies, Slack, Linear,
addresses on the internet) stay unmarked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import preloaded
from conftest import clean_env

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = "<!-- run -->"
SHOWN = ("json", "http")
BASE_URLS = ("http://127.0.0.1:8000", "http://localhost:8000")
STATUS_LINE = re.compile(r"^HTTP/[\d.]+ (\d{3})\b", re.MULTILINE)
PAGE_SECONDS = 60


@dataclass(frozen=True)
class Block:
    """A fenced block: where it starts (1-based), its info string, its text."""

    line: int
    info: str
    text: str
    runnable: bool


@dataclass(frozen=True)
class Example:
    block: Block
    shown: Block | None


def blocks(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text().splitlines()
    n = 0
    while n < len(lines):
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", lines[n])
        if not fence:
            n += 1
            continue
        start, marker, info = n, fence.group(2), fence.group(3)
        n += 1
        body: list[str] = []
        while n < len(lines) and not lines[n].strip().startswith(marker):
            body.append(lines[n])
            n += 1
        before = [line for line in lines[:start] if line.strip()]
        runnable = bool(before) and before[-1].strip() == RUN
        found.append(Block(start + 1, info, "\n".join(body) + "\n", runnable))
        n += 1
    return found


def examples(page: Path) -> list[Example]:
    """The runnable blocks of a page, each with the answer shown right after it, if any."""
    found = blocks(page)
    lines = page.read_text().splitlines()
    result: list[Example] = []
    for i, block in enumerate(found):
        if not block.runnable:
            continue
        assert block.info == "sh", f"{page.name}:{block.line}: a runnable block is ```sh"
        shown = None
        if i + 1 < len(found) and found[i + 1].info in SHOWN:
            after = block.line + block.text.count("\n") + 1  # the line after the closing fence
            between = lines[after : found[i + 1].line - 1]
            if not any(line.strip() for line in between):
                shown = found[i + 1]
        result.append(Example(block, shown))
    return result


def shown_answer(page: Path, shown: Block) -> tuple[int | None, Any]:
    """The status and JSON a page shows as an answer (either may be absent)."""
    text, status = shown.text, None
    if shown.info == "http":
        match = STATUS_LINE.match(text)
        assert match, f"{page.name}:{shown.line}: an http block starts with its status line"
        status = int(match.group(1))
        text = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    if not text.strip():
        return status, None
    try:
        return status, json.loads(text)
    except json.JSONDecodeError as error:
        where = f"{page.name}:{shown.line}"
        raise AssertionError(f"{where}: the JSON shown isn't JSON: {error}") from None


def printed_answer(output: str, status: int | None) -> tuple[int | None, Any]:
    """The status of the last response `curl -i` printed, and the last JSON printed."""
    got = None
    if status is not None:
        statuses = list(STATUS_LINE.finditer(output))
        assert statuses, f"no status line printed (use curl -i):\n{output}"
        got = int(statuses[-1].group(1))
        output = output[statuses[-1].start() :]
        output = re.split(r"\r?\n\r?\n", output, maxsplit=1)[1] if "\n" in output else ""
    if not output.strip():
        return got, None
    return got, last_json(output)


def last_json(output: str) -> Any:
    """The last JSON document in `output`: curl prints answers back to back, amid text."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := next_bracket(output, at)) >= 0:
        try:
            document, at = decoder.raw_decode(output, start)
            found.append(document)
        except json.JSONDecodeError:
            at = start + 1
    assert found, f"no JSON printed:\n{output}"
    return found[-1]


def next_bracket(text: str, at: int) -> int:
    starts = [i for i in (text.find("{", at), text.find("[", at)) if i >= 0]
    return min(starts, default=-1)


def missing_keys(shown: Any, got: Any, path: str = "") -> list[str]:
    """Keys the shown JSON has and the printed one lacks, as dotted paths."""
    if isinstance(shown, dict):
        if not isinstance(got, dict):
            return [path or "(the top)"]
        missing = [f"{path}{key}" for key in shown if key not in got]
        for key, value in shown.items():
            if key in got:
                missing += missing_keys(value, got[key], f"{path}{key}.")
        return missing
    if isinstance(shown, list) and shown and isinstance(got, list) and got:
        return missing_keys(shown[0], got[0], f"{path}0.")
    return []


def script(page: Path, found: list[Example], url: str, out: Path) -> str:
    """The page's runnable blocks as one bash script, each block's output in its own files."""
    lines = [
        "set -euo pipefail",
        'curl() { if [ -n "${DOCS_HTTP_ERRORS:-}" ]; then command curl "$@";'
        ' else command curl --fail-with-body "$@"; fi; }',
    ]
    for n, example in enumerate(found):
        text = example.block.text
        for base in BASE_URLS:
            text = text.replace(base, url)
        status = shown_answer(page, example.shown)[0] if example.shown else None
        errors = "1" if status is not None and status >= 400 else ""
        lines += [
            f"echo {n} > {out}/at",
            f"DOCS_HTTP_ERRORS={errors}",
            "{",
            text.rstrip("\n"),
            f"}} > {out}/{n}.out 2> {out}/{n}.err",
        ]
    lines.append(f"echo done > {out}/at")
    return "\n".join(lines) + "\n"


@contextmanager
def serve(home: Path, bin_dir: Path) -> Iterator[str]:
    """`scorelet serve` in a fresh data directory under `home`, as the docs start it."""
    log = (home / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "scorelet", "serve", "--port", "0"],
        cwd=home,
        env=session_env(home, bin_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    lock = home / "scorelet-data" / "serve.lock"
    deadline = time.monotonic() + 20
    try:
        while True:
            url = written_url(lock)
            if url:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            assert process.poll() is None, (home / "serve.log").read_text()
            assert time.monotonic() < deadline, "scorelet serve did not start"
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def written_url(lock: Path) -> str | None:
    """The address a starting server wrote into its lock file, once it has."""
    try:
        written = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    url = written.get("url") if isinstance(written, dict) else None
    return url if isinstance(url, str) else None


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A `scorelet` for the sessions' PATH, preloaded (preloaded.py): the pages run dozens."""
    home = tmp_path_factory.mktemp("bin")
    sock = home / "scorelet.sock"
    process = subprocess.Popen(
        [sys.executable, preloaded.__file__, str(sock)],
        cwd=home,
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        preloaded.client(sock, home)
        yield home
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


def session_env(home: Path, bin_dir: Path) -> dict[str, str]:
    """The examples' environment: no SCORELET_* of this machine, this venv's `scorelet`."""
    dirs = [str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    return clean_env(HOME=str(home), PATH=os.pathsep.join(dirs), LC_ALL="C.UTF-8")


RUNNABLE = [page for page in PAGES if examples(page)]


def test_the_docs_have_runnable_examples() -> None:
    names = {page.name for page in RUNNABLE}
    assert {"README.md", "api.md", "cli.md", "polling.md"} <= names, names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_example_against_a_local_server_is_marked_runnable(page: Path) -> None:
    """An example that talks to the local server can run here, so it must."""
    unmarked = [
        block.line
        for block in blocks(page)
        if block.info == "sh" and not block.runnable and any(b in block.text for b in BASE_URLS)
    ]
    assert unmarked == [], f"{page.name}: mark these with {RUN}: lines {unmarked}"


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda page: page.name)
def test_the_examples_run_and_answer_as_shown(page: Path, tmp_path: Path, bin_dir: Path) -> None:
    found = examples(page)
    out = tmp_path / "out"
    out.mkdir()
    with serve(tmp_path, bin_dir) as url:
        ran = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script(page, found, url, out)],
            cwd=tmp_path,
            env=session_env(tmp_path, bin_dir),
            capture_output=True,
            text=True,
            timeout=PAGE_SECONDS,
            check=False,
        )
    at = (out / "at").read_text().strip() if (out / "at").exists() else "done"
    assert at != "done" or ran.returncode == 0, f"{page.name}: bash failed: {ran.stderr}"
    if at != "done":
        failed = found[int(at)].block
        output = (out / f"{at}.out").read_text() + (out / f"{at}.err").read_text()
        raise AssertionError(
            f"{page.name}:{failed.line}: the example failed (exit {ran.returncode}):\n"
            f"{failed.text}\n--- its output:\n{output}{ran.stderr}"
        )
    for n, example in enumerate(found):
        if example.shown is None:
            continue
        where = f"{page.name}:{example.shown.line}"
        status, shown = shown_answer(page, example.shown)
        got_status, got = printed_answer((out / f"{n}.out").read_text(), status)
        assert got_status == status, f"{where}: shows {status}, the server answered {got_status}"
        if shown is not None:
            assert got is not None, f"{where}: shows JSON, the example printed none"
            missing = missing_keys(shown, got)
            assert missing == [], f"{where}: the answer lacks the keys {missing}: {got!r:.2000}"


def outside_code(page: Path) -> str:
    return re.sub(r"^(`{3,}|~{3,}).*?^\1", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lowercased, punctuation dropped, - for spaces."""
    found: set[str] = set()
    text = outside_code(page)
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        found.add(slug)
    return found


def links(page: Path) -> list[str]:
    """Every link and image target of a page, outside code."""
    text = re.sub(r"`[^`\n]*`", "", outside_code(page))
    found = re.findall(r"\]\(([^)\s]+)\)", text)
    found += re.findall(r'<(?:img|a)\b[^>]*?\b(?:src|href)="([^"]+)"', text)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_and_image_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        if path.startswith("/"):
            resolved = ROOT / path.lstrip("/")
        else:
            resolved = (page.parent / path) if path else page
        checked = resolved.suffix == ".md" and bool(anchor)
        if not resolved.exists() or (checked and anchor not in anchors(resolved)):
            broken.append(target)
    assert broken == [], f"{page.name} links to what isn't there: {broken}"


def test_every_docs_page_is_on_the_readme_map() -> None:
    readme = (ROOT / "README.md").read_text()
    unlisted = [p.name for p in PAGES[1:] if f"(docs/{p.name})" not in readme]
    assert unlisted == [], f"README.md's map of the docs misses {unlisted}"
