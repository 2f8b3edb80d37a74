"""The widget runtime and the per-touchpoint loaders that pull it in, built in memory.

The runtime is read once, minified by rjsmin (the only build step, run at
start, so the file in `widget/` stays the readable source), and kept
with its gzip bytes, ETag and SRI hash: serving it is a lookup, never a file
read. A loader is a few hundred bytes of script carrying one touchpoint's
config; it loads the runtime from its content-hashed URL with `integrity`, so a
browser caches the runtime forever and re-checks only the small loader.

All wording lives in one table, `widget/strings.json` (strings.py), by name.
The runtime carries none of it; each loader carries the widget's strings in the
one language its widget will speak, chosen from what the server can know (the
page's override and `lang` when `mount` sends them, the touchpoint's locale,
`Accept-Language`). A widget that finds it needs another language, from the
page's `lang` under a plain script tag, asks for the loader again in it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rcssmin  # type: ignore[import-untyped]  # no type hints shipped; one function used
import rjsmin  # type: ignore[import-untyped]
import zopfli.gzip  # type: ignore[import-untyped]

from scorelet.eligibility import Seen, decide
from scorelet.strings import (
    DEFAULT_LANGUAGE,
    WIDGET,
    accepted_languages,
    choose_language,
    load_table,
)
from scorelet.touchpoints import Touchpoint

RUNTIME_FILE = "scorelet.js"
# The widget's styles, minified into the runtime where it says %CSS%.
STYLES_FILE = "scorelet.css"
# What the browser needs of a touchpoint; thresholds stay on the server, and origins
# reach only the loader's own check (see loader_source).
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


@dataclass(frozen=True, slots=True)
class Asset:
    """Script bytes ready to serve, plain and gzipped, with the hash behind their ETags."""

    body: bytes
    gzipped: bytes
    tag: str

    @classmethod
    def of(cls, text: str, thorough: bool = False) -> Asset:
        """`thorough`: gzip with Zopfli, 1-2% smaller than zlib's best but some 20 ms for the
        runtime; worth it once at start for the script every page loads, not per request."""
        body = text.encode()
        # 64 bits: ample to tell one version of a script from another.
        tag = hashlib.blake2b(body, digest_size=8).hexdigest()
        gzipped = zopfli.gzip.compress(body) if thorough else gzip.compress(body, 9, mtime=0)
        return cls(body, gzipped, tag)

    def etag(self, gzipped: bool) -> str:
        return f'"{self.tag}.gz"' if gzipped else f'"{self.tag}"'


@dataclass(frozen=True, slots=True)
class Runtime:
    asset: Asset
    integrity: str
    strings: Mapping[str, Mapping[str, str]]  # the widget's, per language, for loaders

    @property
    def path(self) -> str:
        """The content-addressed URL path, safe to cache forever."""
        return f"/widget.{self.asset.tag}.js"


def widget_dir() -> Path:
    """`scorelet/_widget` inside an installed wheel, else the repository's `widget/`."""
    installed = Path(__file__).parent / "_widget"
    return installed if installed.is_dir() else Path(__file__).parents[2] / "widget"


def minify(source: str) -> str:
    """The runtime as served: rjsmin's output (comments and needless whitespace gone).

    rjsmin tokenizes JavaScript as it is (strings, template literals, regex
    literals, comments anywhere, the line breaks automatic semicolon insertion
    needs), so the readable source may be written in any style.
    """
    minified: str = rjsmin.jsmin(source)
    return minified


def load_styles(directory: Path | None = None) -> str:
    """The widget's CSS, minified by rcssmin, for the runtime's one template literal."""
    css: str = rcssmin.cssmin((directory or widget_dir()).joinpath(STYLES_FILE).read_text("utf-8"))
    if any(char in css for char in "`\\$"):
        raise ValueError(f"{STYLES_FILE} may not hold backticks, backslashes or '$'")
    return css


def load_runtime(directory: Path | None = None) -> Runtime:
    directory = directory or widget_dir()
    table = load_table(directory)
    strings = {language: {name: text[name] for name in WIDGET} for language, text in table.items()}
    source = (directory / RUNTIME_FILE).read_text(encoding="utf-8")
    source = source.replace("%LANGS%", "|".join(table)).replace("%CSS%", load_styles(directory))
    asset = Asset.of(minify(source), thorough=True)
    # SHA-256: one of the three digests Subresource Integrity requires every browser to
    # check, as binding as SHA-384 here and 21 bytes shorter in every loader.
    digest = b64encode(hashlib.sha256(asset.body).digest()).decode()
    return Runtime(asset, f"sha256-{digest}", strings)


@functools.cache
def runtime() -> Runtime:
    """The runtime shipped with this installation, read on first use (at app start)."""
    return load_runtime()


def loader_config(
    touchpoint: Touchpoint,
    token: str,
    strings: Mapping[str, Mapping[str, str]],
    decision: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The touchpoint's public settings the widget needs; unset texts are left out.

    `bounds` are where the middle and the top group of scores start, so the
    widget asks the follow-up question that fits the score; `prompts` are the
    touchpoint's own questions per group, if it has any. `trigger` names the
    event the widget waits for (`Scorelet("track", NAME)`). `e` is the
    eligibility answer ({show, reason, detail, next_eligible_at}): for the
    identity the loader was asked for, or, without one, for anyone anonymous
    when the touchpoint asks identified people only; the widget renders only
    when it says show.
    """
    public: Mapping[str, Any] = touchpoint.public()
    config = {k: public[k] for k in LOADER_FIELDS if public.get(k) is not None}
    if not touchpoint.cooldown_days:
        del config["cooldown_days"]
    config["bounds"] = list(touchpoint.group_bounds)
    if any(touchpoint.comment_prompts):
        config["prompts"] = list(touchpoint.comment_prompts)
    policy = touchpoint.policy
    if policy.event is not None:
        config["trigger"] = policy.event
    if decision is None and policy.require_identity:
        anonymous = decide(policy, touchpoint.slug, None, {}, Seen(), (), 0, 0.0, policy.event)
        decision = anonymous.public()
    if decision is not None and not decision.get("show"):
        # Nothing will render: the widget needs only what its scorelet:skip event says.
        return {"slug": touchpoint.slug, "e": dict(decision), "token": token}
    if decision is not None:
        config["e"] = dict(decision)
    config["token"] = token
    needed = needed_strings(touchpoint)
    config["strings"] = {
        language: {name: text for name, text in words.items() if name in needed}
        for language, words in strings.items()
    }
    return config


def needed_strings(touchpoint: Touchpoint) -> frozenset[str]:
    """The strings this touchpoint's widget reads: its scale's option names, and only the
    default texts the touchpoint doesn't replace with its own. Every loader is smaller for
    it, and most by a third."""
    scale, nps = touchpoint.scale, touchpoint.metric == "nps"
    needed = {"send", "skip", "failed", "retry", "close"}
    if not touchpoint.question:
        needed.add("nps_question" if nps else "csat_question")
    if scale.name == "stars":
        needed |= {"one_star", "stars"}
    elif scale.name.startswith("smileys"):
        needed |= {f"face_{n}" for n in range(1, 6)}
    else:
        needed.add("out_of")
        if not nps:  # a CSAT number scale's ends
            needed |= {"face_1", "face_5"}
    if nps and not (touchpoint.low_label and touchpoint.high_label):
        needed |= {"nps_low", "nps_high"}
    if not touchpoint.comment_prompt and not all(touchpoint.comment_prompts):
        needed |= {"prompt_low", "prompt_neutral", "prompt_high"}
    if not touchpoint.thank_you:
        needed.add("thank_you")
    return frozenset(needed)


def origin_guard(touchpoint: Touchpoint) -> str:
    """Loader code that renders nothing on a page whose origin the touchpoint doesn't list.

    The server would refuse every rating from there, so a widget that renders
    and takes a click could only ever fail. It warns once, naming the page's
    origin and the command that allows it (the list given replaces the old one,
    so the command repeats it). The hosted page, on Scorelet's own origin, is
    always allowed. Touchpoints without origins get no guard at all.
    """
    if not touchpoint.origins:
        return ""
    origins = json.dumps(list(touchpoint.origins))
    warning = (
        '"Scorelet: "+o+" may not use the touchpoint "+c.slug+", so the widget is not shown.'
        ' To allow it: scorelet touchpoint update "+c.slug+" --origin "'
        '+A.concat(o).join(" --origin ")'
    )
    return (
        f"var o=location.origin,A={origins};if(!A.includes(o)&&o!=new URL(s.src).origin){{"
        f"(S.o=S.o||{{}})[c.slug]||console.warn({warning});S.o[c.slug]=1;return}}"
    )


def loader_source(runtime: Runtime, config: Mapping[str, Any], guard: str = "") -> str:
    """The per-touchpoint script: queue a mount, then fetch the runtime once per page."""
    data = json.dumps(config, ensure_ascii=False, separators=(",", ":"))
    return (
        "(function(w,d,c){try{var s=d.currentScript,"
        "S=w.Scorelet=w.Scorelet||function(){(S.q=S.q||[]).push(arguments)};"
        f"{guard}"
        'S("load",c,s);if(!S.v&&!S.l){S.l=1;var r=d.createElement("script");'
        f'r.src=new URL("{runtime.path}",s.src);r.integrity="{runtime.integrity}";'
        'r.crossOrigin="";d.head.append(r)}}'
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
    languages of strings.json, so they multiply the keys by ten at most.
    """

    def __init__(self, runtime: Runtime, limit: int = MAX_CACHED_LOADERS) -> None:
        self.runtime = runtime
        self.limit = limit
        self._assets: dict[tuple[str, Touchpoint, str], Asset] = {}

    def language(
        self, touchpoint: Touchpoint, override: str, page: str, accept_language: str
    ) -> str:
        wanted = [override, touchpoint.locale, page, *accepted_languages(accept_language)]
        return choose_language(wanted, self.runtime.strings)

    def get(self, token: str, touchpoint: Touchpoint, language: str = DEFAULT_LANGUAGE) -> Asset:
        key = (token, touchpoint, language)
        asset = self._assets.get(key)
        if asset is None:
            if len(self._assets) >= self.limit:
                del self._assets[next(iter(self._assets))]
            asset = self._assets[key] = self._build(token, touchpoint, language, None)
        return asset

    def personal(
        self, token: str, touchpoint: Touchpoint, language: str, decision: Mapping[str, Any]
    ) -> Asset:
        """A loader for one identified person, carrying their eligibility answer: built per
        request and never cached (here or by a browser), as the answer changes when they
        are shown the widget or answer it. Only what the widget acts on travels: `show`,
        and for a "no" the `reason` and `next_eligible_at` its `scorelet:skip` event
        carries (the sentence is in GET /api/v1/eligibility)."""
        fields = ("show",) if decision.get("show") else ("show", "reason", "next_eligible_at")
        return self._build(token, touchpoint, language, {k: decision.get(k) for k in fields})

    def _build(
        self,
        token: str,
        touchpoint: Touchpoint,
        language: str,
        decision: Mapping[str, Any] | None,
    ) -> Asset:
        strings = {language: self.runtime.strings[language]}
        config = loader_config(touchpoint, token, strings, decision)
        return Asset.of(loader_source(self.runtime, config, origin_guard(touchpoint)))
