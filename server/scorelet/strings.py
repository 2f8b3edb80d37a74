"""Every word Scorelet shows the people who rate, in every language: one table.

`widget/strings.json` maps a language to its strings by name. The widget's
share (`WIDGET`) travels in each loader, as the one language that widget will
speak; the hosted page reads the rest by name too. `choose_language` is the one
place a language is picked, for the widget, the hosted page and the preview.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

FILE = "strings.json"
DEFAULT_LANGUAGE = "en"
# The names the widget runtime reads (the loader carries these, nothing else).
WIDGET = (
    "csat_question",
    "nps_question",
    "nps_low",
    "nps_high",
    *("face_1", "face_2", "face_3", "face_4", "face_5"),
    "one_star",
    "stars",
    "out_of",
    *("prompt_low", "prompt_neutral", "prompt_high"),
    "send",
    "skip",
    "thank_you",
    "failed",
    "retry",
    "close",
)


def load_table(directory: Path) -> dict[str, dict[str, str]]:
    """Every language's strings, English first; each language must name what English does."""
    table: dict[str, dict[str, str]] = json.loads((directory / FILE).read_text(encoding="utf-8"))
    english = set(table[DEFAULT_LANGUAGE])
    missing = set(WIDGET) - english
    if missing:
        raise ValueError(f"{FILE}: English lacks {sorted(missing)}")
    for language, strings in table.items():
        if set(strings) != english:
            odd = sorted(set(strings) ^ english)
            raise ValueError(f"{FILE}: {language!r} differs from English in {odd}")
    return table


@functools.cache
def table() -> Mapping[str, Mapping[str, str]]:
    """The installation's table (read once)."""
    from scorelet.widget import widget_dir  # where the widget's files are, installed or not

    return load_table(widget_dir())


def widget_strings(language: str) -> dict[str, str]:
    """The strings a widget speaking `language` carries."""
    strings = table()[language]
    return {name: strings[name] for name in WIDGET}


def accepted_languages(header: str) -> list[str]:
    """The languages of an `Accept-Language` header, in the order given, without q=0 ones."""
    tags = []
    for part in header.split(","):
        tag, _, params = part.partition(";")
        if params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            tags.append(tag.strip())
    return tags


def choose_language(wanted: Iterable[str | None], known: Iterable[str] | None = None) -> str:
    """The first of `wanted` (language tags, most wanted first) that Scorelet speaks, by its
    primary subtag ("pt-BR" is "pt"), else English."""
    speaks = set(table() if known is None else known)
    for tag in wanted:
        language = str(tag or "").strip()[:2].lower()
        if language in speaks:
            return language
    return DEFAULT_LANGUAGE
