"""The loader and runtime routes over real HTTP: caching, integrity, bad tokens, size budget."""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import itertools
import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import SECRET, LiveServer
from scorelet.mint import mint_identity_token
from scorelet.strings import WIDGET, load_table
from scorelet.tokens import Signer
from scorelet.widget import load_runtime, load_styles, minify, widget_dir

BUDGET = 6 * 1024  # loader + runtime, gzipped, as served


def loader(server: LiveServer, **fields: object) -> tuple[dict[str, object], httpx.Response]:
    tp = server.add_touchpoint(**fields)
    with server.client() as client:
        return tp, client.get(f"/s/{tp['embed_token']}.js")


def config_of(script: str) -> dict[str, Any]:
    """The touchpoint config a loader passes to the runtime."""
    start = script.rindex("(window,document,") + len("(window,document,")
    config: dict[str, Any] = json.loads(script[start : script.rindex(");")])
    return config


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
    integrity = re.search(r'integrity="(sha256-[^"]+)"', script)
    assert integrity
    with server.client() as client:
        runtime = client.get(path)
    assert runtime.status_code == 200
    assert runtime.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert runtime.headers["access-control-allow-origin"] == "*"
    digest = base64.b64encode(hashlib.sha256(runtime.content).digest()).decode()
    assert integrity[1] == f"sha256-{digest}"


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


@pytest.mark.parametrize(
    ("locale", "query", "accept", "carried"),
    [
        (None, "", "", ["en"]),
        (None, "", "ja-JP,ja;q=0.9,en;q=0.8", ["ja"]),
        (None, "", "en-US,en;q=0.9,ja;q=0.8", ["en"]),
        (None, "", "ko-KR,ko;q=0.9,it;q=0.5", ["it"]),
        (None, "", "it;q=0,de-AT", ["de"]),
        ("de", "", "ja", ["de"]),
        ("en-GB", "", "ja", ["en"]),
        ("ko", "", "nl-BE,nl;q=0.9", ["nl"]),
        ("de", "?l=zh&p=fr", "ja", ["zh"]),
        ("de", "?l=&p=fr", "ja", ["de"]),
        (None, "?l=&p=pt-BR", "ja", ["pt"]),
        (None, "?l=xx&p=../../etc", "fr", ["fr"]),
    ],
)
def test_the_loader_carries_only_the_language_the_widget_will_speak(
    server: LiveServer, locale: str | None, query: str, accept: str, carried: list[str]
) -> None:
    tp = server.add_touchpoint(locale=locale) if locale else server.add_touchpoint()
    with server.client() as client:
        response = client.get(
            f"/s/{tp['embed_token']}.js{query}", headers={"accept-language": accept}
        )
    assert response.status_code == 200
    assert list(config_of(response.text)["strings"]) == carried
    assert response.headers["vary"] == "Accept-Encoding, Accept-Language"


def test_loaders_in_different_languages_have_different_etags(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    url = f"/s/{tp['embed_token']}.js"
    with server.client() as client:
        english = client.get(url, headers={"accept-language": "en"})
        japanese = client.get(url, headers={"accept-language": "ja", "if-none-match": "x"})
        again = client.get(
            url, headers={"accept-language": "ja", "if-none-match": english.headers["etag"]}
        )
    assert english.headers["etag"] != japanese.headers["etag"]
    assert again.status_code == 200, "an English copy is no good to a Japanese browser"


def test_the_runtime_knows_every_language_and_carries_none_of_their_strings() -> None:
    runtime = load_runtime()
    source = runtime.asset.body.decode()
    listed = re.search(r"LANGS=/\^\(([a-z|]+)\)\$/", source)
    assert listed, "the runtime lists the languages it may ask the loader for"
    assert set(listed[1].split("|")) == set(runtime.strings)
    assert "How satisfied are you?" not in source
    for language, strings in runtime.strings.items():
        assert tuple(strings) == WIDGET, language


def test_minify_keeps_strings_regexes_and_the_line_breaks_that_matter() -> None:
    source = (
        'let a = "x  y" ; // gone\n/* gone */ let r = / "q" +/g, t = `a  ${b} // c`\n'
        "let b = a + +c - -d\nreturn\nb\n"
    )
    expected = 'let a="x  y";let r=/ "q" +/g,t=`a  ${b} // c`\nlet b=a+ +c- -d\nreturn\nb'
    assert minify(source) == expected


def test_the_served_runtime_is_the_minified_source_with_its_styles() -> None:
    runtime = load_runtime()
    source = (widget_dir() / "scorelet.js").read_text(encoding="utf-8")
    styles = (widget_dir() / "scorelet.css").read_text(encoding="utf-8")
    served = runtime.asset.body.decode()
    source = source.replace("%LANGS%", "|".join(runtime.strings))
    assert served == minify(source.replace("%CSS%", load_styles()))
    assert "Scorelet widget. Paste" not in served, "comments are gone"
    assert "Shadow DOM" in styles
    assert "Shadow DOM" not in served
    assert ".w{all:initial;display:block;" in served
    assert gzip.decompress(runtime.asset.gzipped) == runtime.asset.body


def test_styles_that_would_break_out_of_the_template_literal_are_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "scorelet.css").write_text(".w{content:'${1}'}")
    with pytest.raises(ValueError, match="backticks"):
        load_styles(tmp_path)


def test_runtime_ships_from_the_widget_folder() -> None:
    runtime = load_runtime()
    source = (widget_dir() / "scorelet.js").read_text(encoding="utf-8")
    assert "Scorelet" in source
    assert len(runtime.asset.body) < len(source.encode())
    assert set(runtime.strings) >= {"ja", "zh", "it"}


def gzipped_size(client: httpx.Client, url: str) -> int:
    with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        return len(b"".join(response.iter_raw()))


def test_loader_plus_runtime_fit_the_size_budget_in_every_language(server: LiveServer) -> None:
    """The worst case counts: a loader carrying the bulkiest language's strings."""
    sizes = {}
    runtime_url = ""
    with server.client() as client:
        for language in load_runtime().strings:
            # Each scale, with the built-in texts or the touchpoint's own: a loader carries
            # only the strings its widget reads.
            kinds = ({"metric": "nps"}, {"scale": "smileys"}, {"scale": "stars"})
            for kind, own_words in itertools.product(kinds, (False, True)):
                words = {
                    "question": "How easy was it to pay today?",
                    "comment_prompt": "What could be better?",
                }
                tp = server.add_touchpoint(
                    **kind,
                    locale=language,
                    origins=["https://shop.example.com", "https://www.example.com"],
                    **(words if own_words else {}),
                )
                url = f"/s/{tp['embed_token']}.js"
                runtime_url = runtime_path(client.get(url).text)
                sizes[language] = max(sizes.get(language, 0), gzipped_size(client, url))
        runtime = gzipped_size(client, runtime_url)
    language, loader = max(sizes.items(), key=lambda item: item[1])
    total = loader + runtime
    print(
        f"widget size, gzipped: loader {sizes['en']} (en) to {loader} ({language})"
        f" + runtime {runtime} = {sizes['en'] + runtime} to {total}"
    )
    assert total <= BUDGET, f"loader + runtime is {total} bytes gzipped; the budget is {BUDGET}"


def test_the_docs_show_every_screenshot_that_make_py_draws() -> None:
    root = Path(__file__).parents[1]
    docs = root / "docs"
    pages = "\n".join(p.read_text() for p in [root / "README.md", *docs.glob("*.md")])
    shown = set(re.findall(r'src="/docs/screenshots/([\w-]+\.png)"', pages))
    spec = importlib.util.spec_from_file_location("make", docs / "screenshots" / "make.py")
    assert spec is not None
    assert spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    drawn = make.names()
    present = [path.name for path in (docs / "screenshots").glob("*.png")]
    assert len(drawn) == 5 + 8
    assert sorted(shown) == sorted(drawn) == sorted(present)


def identity(server: LiveServer, person: str) -> str:
    with server.client(server.mint_key) as client:
        minted = client.post("/api/v1/identities", json={"person": person})
    assert minted.status_code == 201, minted.text
    token: str = minted.json()["identity"]
    return token


def test_a_loader_asked_for_a_person_carries_the_servers_answer_and_is_never_cached(
    server: LiveServer,
) -> None:
    tp = server.add_touchpoint(recontact_days=30, cooldown_days=7)
    person = identity(server, "u-loader")
    url = f"/s/{tp['embed_token']}.js"
    with server.client() as client:
        first = client.get(url, params={"identity": person})
        assert first.headers["cache-control"] == "no-store"
        assert config_of(first.text)["e"] == {"show": True}
        assert config_of(first.text)["strings"], "it will render, so it speaks"
        rated = client.post(
            "/api/v1/responses", json={"token": tp["embed_token"], "score": 5, "identity": person}
        )
        assert rated.status_code == 201, rated.text
        again = client.get(url, params={"identity": person})
        anonymous = client.get(url)
    refused = config_of(again.text)
    assert set(refused) == {"slug", "e", "token"}, "a no carries nothing else"
    assert refused["e"]["show"] is False
    assert refused["e"]["reason"] == "answered_recently"
    next_at = datetime.fromisoformat(refused["e"]["next_eligible_at"]).timestamp()
    assert abs(next_at - (time.time() + 30 * 86400)) < 60, "30 recontact days after the answer"
    assert "e" not in config_of(anonymous.text), "anonymous: the browser's cooldown decides"
    assert config_of(anonymous.text)["cooldown_days"] == 7
    assert anonymous.headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize("case", ["forged", "expired", "embed"])
def test_a_loader_for_a_bad_identity_says_why_and_renders_nothing(
    server: LiveServer, case: str
) -> None:
    tp = server.add_touchpoint()
    signer = Signer([SECRET])
    good = mint_identity_token(signer, "u-bad").token
    given = {
        "forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "expired": mint_identity_token(signer, "u-bad", ttl="1h", now=time.time() - 7200).token,
        "embed": tp["embed_token"],
    }[case]
    with server.client() as client:
        response = client.get(f"/s/{tp['embed_token']}.js", params={"identity": given})
    assert response.status_code == 200
    e = config_of(response.text)["e"]
    assert e["show"] is False
    assert e["reason"] == ("token_expired" if case == "expired" else "bad_token")


def test_the_loader_names_its_event_and_an_identity_only_touchpoint_refuses_anonymously(
    server: LiveServer,
) -> None:
    triggered = server.add_touchpoint(trigger="event:ticket_closed")
    signed_in = server.add_touchpoint(require_identity=True)
    with server.client() as client:
        event = config_of(client.get(f"/s/{triggered['embed_token']}.js").text)
        refused = config_of(client.get(f"/s/{signed_in['embed_token']}.js").text)
    assert event["trigger"] == "ticket_closed"
    assert "e" not in event
    assert refused["e"]["reason"] == "identity_required"
    assert "strings" not in refused


def test_a_signed_in_persons_loader_plus_runtime_fit_the_budget_in_every_language(
    server: LiveServer,
) -> None:
    """Asked for a person, the loader carries the server's answer: it must still fit."""
    person = identity(server, "u-budget")
    sizes = {}
    with server.client() as client:
        for language in load_runtime().strings:
            tp = server.add_touchpoint(
                locale=language,
                question="How easy was it to pay today?",
                comment_prompt="What could be better?",
                origins=["https://shop.example.com", "https://www.example.com"],
                trigger="event:checkout_done",
            )
            url = f"/s/{tp['embed_token']}.js?identity={person}"
            runtime_url = runtime_path(client.get(url).text)
            sizes[language] = gzipped_size(client, url)
        runtime = gzipped_size(client, runtime_url)
    language, loader = max(sizes.items(), key=lambda item: item[1])
    print(f"signed-in widget, gzipped: loader {loader} ({language}) + runtime {runtime}")
    assert loader + runtime <= BUDGET


def test_one_table_names_every_string_in_every_language(tmp_path: Path) -> None:
    table = load_table(widget_dir())
    english = set(table["en"])
    assert set(WIDGET) < english, "the page's own strings are in the same table"
    assert all(set(strings) == english for strings in table.values())
    source = (widget_dir() / "scorelet.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bL\.([a-z_0-9]+)", source))
    used |= {f"prompt_{g}" for g in ("low", "neutral", "high")} | {f"face_{n}" for n in range(1, 6)}
    assert used == set(WIDGET), "the runtime reads each of the widget's strings, by name"
    broken = {**table, "de": {k: v for k, v in table["de"].items() if k != "send"}}
    (tmp_path / "strings.json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="'de' differs from English in \\['send'\\]"):
        load_table(tmp_path)
