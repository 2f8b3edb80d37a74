"""The widget runtime and the per-touchpoint loaders that pull it in, built in memory.

The runtime is read once, trimmed of whole-line comments and indentation (the
only build step, so the file in `widget/` stays the readable source), and kept
with its gzip bytes, ETag and SRI hash: serving it is a lookup, never a file
read. A loader is a few hundred bytes of script carrying one touchpoint's
config; it loads the runtime from its content-hashed URL with `integrity`, so a
browser caches the runtime forever and re-checks only the small loader.

The runtime speaks English only; a loader also carries the strings of the one
other language its widget will speak, chosen from what the server can know
(the page's override and `lang` when `mount` sends them, the touchpoint's
locale, `Accept-Language`). A widget that finds it needs another language, from
the page's `lang` under a plain script tag, asks for the loader again in it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from base64 import b64encode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scorelet.touchpoints import Touchpoint

RUNTIME_FILE = "scorelet.js"
# Every language but English (which the runtime carries). A loader carries the one language
# its widget will speak, so the runtime holds no strings a page doesn't use.
LOCALES_FILE = "locales.json"
BUILT_IN = "en"
# What the browser needs of a touchpoint; origins and thresholds stay on the server.
LOADER_FIELDS = (
    "slug",
    "metric",
    "scale",
    "min",
    "max",
    "question",
    "low_label",
    "high_label",
    "comment_prompt",
    "thank_you",
    "locale",
    "cooldown_days",
)
MAX_CACHED_LOADERS = 2048
_COMMENT_LINE = re.compile(r"^\s*//.*\n", re.MULTILINE)
_COMMENT_BLOCK = re.compile(r"^\s*/\*.*?\*/\n", re.MULTILINE | re.DOTALL)
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)
_PUNCTUATION = frozenset("=(){}[],;:?<>&|+-*/!.%^~")


@dataclass(frozen=True, slots=True)
class Asset:
    """Script bytes ready to serve, plain and gzipped, with the hash behind their ETags."""

    body: bytes
    gzipped: bytes
    tag: str

    @classmethod
    def of(cls, text: str) -> Asset:
        body = text.encode()
        tag = hashlib.blake2b(body, digest_size=12).hexdigest()
        return cls(body, gzip.compress(body, 9, mtime=0), tag)

    def etag(self, gzipped: bool) -> str:
        return f'"{self.tag}.gz"' if gzipped else f'"{self.tag}"'


@dataclass(frozen=True, slots=True)
class Runtime:
    asset: Asset
    integrity: str
    locales: Mapping[str, str]

    @property
    def path(self) -> str:
        """The content-addressed URL path, safe to cache forever."""
        return f"/widget.{self.asset.tag}.js"


def widget_dir() -> Path:
    """`scorelet/_widget` inside an installed wheel, else the repository's `widget/`."""
    installed = Path(__file__).parent / "_widget"
    return installed if installed.is_dir() else Path(__file__).parents[2] / "widget"


def trim(source: str) -> str:
    """The runtime as served: no comment lines, no indentation, no spaces around punctuation.

    Strings and template literals are copied untouched. This is safe for
    `widget/scorelet.js` as written: its regex literals hold no quotes and no
    spaces, and its comments sit on lines of their own. Line breaks stay
    except after `{ ; , (`, so automatic semicolon insertion is unchanged.
    """
    text = _INDENT.sub("", _COMMENT_LINE.sub("", _COMMENT_BLOCK.sub("", source)))
    out: list[str] = []
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if char in "'\"`":
            j = i + 1
            while text[j] != char:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif char == " ":
            j = i
            while j < end and text[j] == " ":
                j += 1
            before, after = out[-1][-1] if out else "", text[j] if j < end else ""
            joined = before == after and before in "+-/"
            if joined or not (before in _PUNCTUATION or after in _PUNCTUATION):
                out.append(" ")
            i = j
        elif char == "\n" and out and out[-1][-1] in "{;,(":
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def load_runtime(directory: Path | None = None) -> Runtime:
    directory = directory or widget_dir()
    asset = Asset.of(trim((directory / RUNTIME_FILE).read_text(encoding="utf-8")))
    digest = b64encode(hashlib.sha384(asset.body).digest()).decode()
    locales = json.loads((directory / LOCALES_FILE).read_text(encoding="utf-8"))
    return Runtime(asset, f"sha384-{digest}", locales)


@functools.cache
def runtime() -> Runtime:
    """The runtime shipped with this installation, read on first use (at app start)."""
    return load_runtime()


def accepted_languages(header: str) -> list[str]:
    """The languages of an `Accept-Language` header, in the order given, without q=0 ones."""
    tags = []
    for part in header.split(","):
        tag, _, params = part.partition(";")
        if params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            tags.append(tag.strip())
    return tags


def choose_language(locales: Mapping[str, str], wanted: Iterable[str | None]) -> str | None:
    """The language the widget will speak, if the loader must carry it.

    `wanted` is in the widget's own order: an override from the page (`l`), the
    touchpoint's locale, the page's `lang` (`p`), then the browser's languages.
    The first one Scorelet speaks wins; English is in the runtime, so it needs none.
    """
    for tag in wanted:
        language = str(tag or "")[:2].lower()
        if language == BUILT_IN:
            return None
        if language in locales:
            return language
    return None


def loader_config(
    touchpoint: Mapping[str, Any], token: str, strings: Mapping[str, str]
) -> dict[str, Any]:
    """The touchpoint's public settings the widget needs; unset texts are left out."""
    config = {k: touchpoint[k] for k in LOADER_FIELDS if touchpoint.get(k) is not None}
    config["token"] = token
    if strings:
        config["strings"] = dict(strings)
    return config


def loader_source(runtime: Runtime, config: Mapping[str, Any]) -> str:
    """The per-touchpoint script: queue a mount, then fetch the runtime once per page."""
    data = json.dumps(config, ensure_ascii=False, separators=(",", ":"))
    return (
        "(function(w,d,c){try{var s=d.currentScript,"
        "S=w.Scorelet=w.Scorelet||function(){(S.q=S.q||[]).push(arguments)};"
        'S("load",c,s);if(!S.v&&!S.l){S.l=1;var r=d.createElement("script");'
        f'r.src=new URL("{runtime.path}",s.src).href;r.integrity="{runtime.integrity}";'
        'r.crossOrigin="anonymous";r.async=!0;d.head.appendChild(r)}}'
        'catch(e){console.warn("Scorelet:",e)}})'
        f"(window,document,{data});\n"
    )


def unavailable_source(message: str) -> str:
    """What a bad token gets: one console warning, nothing rendered, nothing thrown."""
    text = json.dumps(f"Scorelet: {message}. The widget is not shown.")
    return f"try{{console.warn({text})}}catch(e){{}}\n"


class Loaders:
    """Loader assets by token, touchpoint state and language, so a busy page costs no JSON
    or gzip work.

    A touchpoint edit is a new key; the cache is bounded (oldest out first)
    because subject tokens are one per conversation. Languages are the few
    `locales` names, so they multiply the keys by ten at most.
    """

    def __init__(self, runtime: Runtime, limit: int = MAX_CACHED_LOADERS) -> None:
        self.runtime = runtime
        self.limit = limit
        self._assets: dict[tuple[str, Touchpoint, str | None], Asset] = {}

    def language(
        self, touchpoint: Touchpoint, override: str, page: str, accept_language: str
    ) -> str | None:
        wanted = [override, touchpoint.locale, page, *accepted_languages(accept_language)]
        return choose_language(self.runtime.locales, wanted)

    def get(self, token: str, touchpoint: Touchpoint, language: str | None = None) -> Asset:
        key = (token, touchpoint, language)
        asset = self._assets.get(key)
        if asset is None:
            if len(self._assets) >= self.limit:
                del self._assets[next(iter(self._assets))]
            strings = {language: self.runtime.locales[language]} if language else {}
            config = loader_config(touchpoint.public(), token, strings)
            asset = self._assets[key] = Asset.of(loader_source(self.runtime, config))
        return asset
