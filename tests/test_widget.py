"""The loader and runtime routes over real HTTP: caching, integrity, bad tokens, size budget."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re

import httpx
import pytest

from conftest import LiveServer
from scorelet.widget import load_runtime, trim, widget_dir

BUDGET = 6 * 1024  # loader + runtime, gzipped, as served


def loader(server: LiveServer, **fields: object) -> tuple[dict[str, object], httpx.Response]:
    tp = server.add_touchpoint(**fields)
    with server.client() as client:
        return tp, client.get(f"/s/{tp['embed_token']}.js")


def runtime_path(script: str) -> str:
    match = re.search(r'"(/widget\.[0-9a-f]+\.js)"', script)
    assert match, script
    return match[1]


def test_loader_carries_the_touchpoint_and_the_runtime_integrity(server: LiveServer) -> None:
    tp, response = loader(server, question="How was checkout?", locale="de")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=300"
    script = response.text
    assert "How was checkout?" in script
    assert tp["embed_token"] in script
    assert "origins" not in script
    path = runtime_path(script)
    integrity = re.search(r'integrity="(sha384-[^"]+)"', script)
    assert integrity
    with server.client() as client:
        runtime = client.get(path)
    assert runtime.status_code == 200
    assert runtime.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert runtime.headers["access-control-allow-origin"] == "*"
    digest = base64.b64encode(hashlib.sha384(runtime.content).digest()).decode()
    assert integrity[1] == f"sha384-{digest}"


def test_loader_and_runtime_answer_304_to_their_etag(server: LiveServer) -> None:
    tp, first = loader(server)
    path = runtime_path(first.text)
    with server.client() as client:
        for url in (f"/s/{tp['embed_token']}.js", path, "/widget.js"):
            response = client.get(url)
            etag = response.headers["etag"]
            again = client.get(url, headers={"if-none-match": etag})
            assert again.status_code == 304, url
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert client.get(url, headers={"if-none-match": '"other"'}).status_code == 200


def test_a_touchpoint_edit_changes_the_loader_etag(server: LiveServer) -> None:
    tp, first = loader(server)
    with server.admin() as admin:
        admin.patch(f"/api/v1/touchpoints/{tp['slug']}", json={"question": "Better?"})
    with server.client() as client:
        second = client.get(f"/s/{tp['embed_token']}.js")
    assert second.headers["etag"] != first.headers["etag"]
    assert "Better?" in second.text


def test_gzip_is_served_when_accepted_and_decodes_to_the_same_bytes(server: LiveServer) -> None:
    with server.client() as client:
        plain = client.get("/widget.js", headers={"accept-encoding": "identity"})
        with client.stream("GET", "/widget.js", headers={"accept-encoding": "gzip"}) as zipped:
            raw = b"".join(zipped.iter_raw())
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(raw) == plain.content
    assert plain.headers["etag"] != zipped.headers["etag"]


def test_the_unhashed_runtime_has_a_short_cache_and_a_stale_hash_is_404(
    server: LiveServer,
) -> None:
    with server.client() as client:
        latest = client.get("/widget.js")
        stale = client.get("/widget.0123456789abcdef01234567.js")
    assert latest.headers["cache-control"] == "public, max-age=300"
    assert stale.status_code == 404
    assert stale.json()["code"] == "widget_not_found"


@pytest.mark.parametrize("mangle", ["forged", "revoked", "unknown"])
def test_a_bad_token_gets_a_script_that_only_warns(server: LiveServer, mangle: str) -> None:
    tp = server.add_touchpoint()
    token = tp["embed_token"]
    if mangle == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif mangle == "revoked":
        with server.admin() as admin:
            admin.patch(f"/api/v1/touchpoints/{tp['slug']}", json={"rotate_token": True})
    else:
        token = "nonsense"
    with server.client() as client:
        response = client.get(f"/s/{token}.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-store"
    assert response.text.count("console.warn(") == 1
    assert "createElement" not in response.text, "it must render nothing"
    assert '"load"' not in response.text
    assert "The widget is not shown." in response.text


def test_trim_keeps_strings_and_line_breaks_that_matter() -> None:
    source = 'let a = "x  y" ;\n// gone\n  return `a  b`\nlet b = a + +c - -d;\n'
    assert trim(source) == 'let a="x  y";return `a  b`\nlet b=a+ +c- -d;'


def test_runtime_ships_from_the_widget_folder() -> None:
    runtime = load_runtime()
    source = (widget_dir() / "scorelet.js").read_text(encoding="utf-8")
    assert "Scorelet" in source
    assert len(runtime.asset.body) < len(source.encode())
    assert set(runtime.locales) >= {"ja", "zh", "it"}


def test_loader_plus_runtime_fit_the_size_budget(server: LiveServer) -> None:
    tp, first = loader(
        server, question="How easy was it to pay today?", comment_prompt="What could be better?"
    )
    sizes = {}
    with server.client() as client:
        for name, url in (
            ("loader", f"/s/{tp['embed_token']}.js"),
            ("runtime", runtime_path(first.text)),
        ):
            with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as response:
                sizes[name] = len(b"".join(response.iter_raw()))
    total = sum(sizes.values())
    print(f"widget size, gzipped: loader {sizes['loader']} + runtime {sizes['runtime']} = {total}")
    assert total <= BUDGET, f"loader + runtime is {total} bytes gzipped; the budget is {BUDGET}"
