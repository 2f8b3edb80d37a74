"""The hosted rating page's HTML, for email and SMS links: built as escaped strings.

Every page works without JavaScript (plain forms that POST back to the same
URL) and carries no inline script or style, so it runs under a strict
Content-Security-Policy. Wording comes from the one string table (strings.py),
so the page and the widget speak alike, by name.
A GET never records anything: link scanners and mail prefetchers only GET.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

from scorelet.brand import NO_BRAND, Brand
from scorelet.scales import Scale
from scorelet.strings import DEFAULT_LANGUAGE, accepted_languages, table
from scorelet.strings import choose_language as pick_language
from scorelet.touchpoints import Touchpoint

PAGES_DIR = Path(__file__).parent / "pages"


def is_faces(scale: Scale) -> bool:
    return scale.name.startswith("smileys")


GROUPS = ("low", "neutral", "high")  # the follow-up prompts' names, by score group


@dataclass(frozen=True, slots=True)
class Words:
    """One language's wording, by name (the widget's strings and the page's own)."""

    lang: str
    strings: Mapping[str, str]

    def __getitem__(self, name: str) -> str:
        return self.strings[name]

    def label(self, scale: Scale, score: int) -> str:
        """The accessible name of a score, as the widget says it ("4 stars", "Satisfied")."""
        if scale.name == "stars":
            return self["one_star" if score < 2 else "stars"].replace("{n}", str(score))
        if is_faces(scale):
            return self[f"face_{score + 1 if scale.high == 3 else score}"]
        return self["out_of"].replace("{n}", str(score)).replace("{m}", str(scale.high))

    def question(self, touchpoint: Touchpoint) -> str:
        if touchpoint.question:
            return touchpoint.question
        return self["nps_question" if touchpoint.metric == "nps" else "csat_question"]


def choose_language(locale: str | None, accept_language: str) -> str:
    """The touchpoint's locale if we speak it, else the browser's first one we do, else en."""
    return pick_language([locale, *accepted_languages(accept_language)])


def words(lang: str) -> Words:
    strings = table()
    return Words(lang, strings.get(lang, strings[DEFAULT_LANGUAGE]))


@dataclass(frozen=True, slots=True)
class Assets:
    """What every page of this install shares: the URLs it loads, the install's brand."""

    css: str
    js: str
    runtime: str
    integrity: str
    install_brand: Brand = NO_BRAND

    def brand(self, touchpoint: Touchpoint | None) -> Brand:
        """The touchpoint's branding, with the install's where it sets none."""
        return touchpoint.brand.over(self.install_brand) if touchpoint else self.install_brand


def document(
    lang: str, title: str, body: str, assets: Assets, brand: Brand, mount: bool = False
) -> str:
    """The page around `body`: who it is from (the brand) in its title and above the card."""
    scripts = f'<script src="{assets.js}" defer></script>'
    if mount:
        scripts = (
            f'<script src="{assets.runtime}" integrity="{assets.integrity}"'
            f' crossorigin="anonymous" defer></script>{scripts}'
        )
    style = f"<style>{brand.style}</style>\n" if brand.style else ""
    icon = escape(brand.logo) if brand.logo else "data:,"
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f'<link rel="icon" href="{icon}">\n'
        f"<title>{escape(title)}{escape(' · ' + brand.name) if brand.name else ''}</title>\n"
        f'<link rel="stylesheet" href="{assets.css}">\n{style}{scripts}\n</head>\n'
        f'<body>\n{masthead(brand)}<main class="card">\n{body}\n</main>\n</body>\n</html>\n'
    )


def masthead(brand: Brand) -> str:
    """The product's logo and name over the card, so an email link's page says whose it is."""
    if not brand.name and not brand.logo:
        return ""
    logo = (
        f'<img src="{escape(brand.logo)}" alt="{escape(brand.name or "")}" height="32">'
        if brand.logo
        else ""
    )
    name = f"<span>{escape(brand.name)}</span>" if brand.name else ""
    return f'<header class="brand">{logo}{name}</header>\n'


def comment_prompt(touchpoint: Touchpoint, w: Words, score: int) -> str:
    """The follow-up question for this score: the touchpoint's, else the built-in one."""
    return touchpoint.comment_prompt_for(score) or w["prompt_" + GROUPS[touchpoint.group(score)]]


def scale_form(
    action: str,
    touchpoint: Touchpoint,
    w: Words,
    selected: int | None,
    button: str,
    heading: bool = False,
) -> str:
    """The scale as radio buttons and one submit button: the no-JavaScript way to rate.
    With `heading`, the question is the page's level-one heading (inside its legend)."""
    scale = touchpoint.scale
    kind = "stars" if scale.name == "stars" else "faces" if is_faces(scale) else "numbers"
    options = []
    for score in scale.points:
        checked = " checked" if score == selected else ""
        label = w.label(scale, score)
        shown = "★" if kind == "stars" else label if kind == "faces" else str(score)
        options.append(
            f'<input type="radio" name="score" value="{score}" id="s{score}"{checked}>'
            f'<label for="s{score}" title="{escape(label)}">'
            f'<span aria-hidden="true">{escape(shown)}</span>'
            f'<span class="sr">{escape(label)}</span></label>'
        )
    ends = ""
    if touchpoint.metric == "nps" or touchpoint.low_label or touchpoint.high_label:
        low = touchpoint.low_label or (w["nps_low"] if touchpoint.metric == "nps" else "")
        high = touchpoint.high_label or (w["nps_high"] if touchpoint.metric == "nps" else "")
        ends = f'<p class="ends"><span>{escape(low)}</span><span>{escape(high)}</span></p>'
    question = escape(w.question(touchpoint))
    legend = f"<h1>{question}</h1>" if heading else question
    return (
        f'<form method="post" action="{escape(action)}" class="rate">'
        f"<fieldset><legend>{legend}</legend>"
        f'<div class="scale {kind}">{"".join(options)}</div>{ends}</fieldset>'
        f'<button type="submit" class="primary">{escape(button)}</button></form>'
    )


def change_links(action: str, touchpoint: Touchpoint, w: Words, current: int | None) -> str:
    links = []
    for score in touchpoint.scale.points:
        label = w.label(touchpoint.scale, score)
        mark = ' aria-current="true"' if score == current else ""
        links.append(f'<a href="{escape(action)}?score={score}"{mark}>{escape(label)}</a>')
    return (
        f'<nav class="change"><p>{escape(w["change"])}</p>'
        f'<div class="links">{"".join(links)}</div></nav>'
    )


def rating_page(
    action: str,
    token: str,
    touchpoint: Touchpoint,
    w: Words,
    assets: Assets,
    current: int | None,
    notice: str | None = None,
) -> str:
    """`GET /r/{token}`: the widget, mounted by script over a plain form that works without it."""
    fallback = scale_form(action, touchpoint, w, current, w["send"])
    note = f'<p class="notice" role="alert">{escape(notice)}</p>' if notice else ""
    # The widget shows the question over the form; the page's heading names it for those
    # who move by headings, without showing it twice.
    heading = f'<h1 class="sr">{escape(w.question(touchpoint))}</h1>'
    body = f'{heading}{note}<div class="mount" data-token="{escape(token)}">{fallback}</div>'
    brand = assets.brand(touchpoint)
    return document(w.lang, w.question(touchpoint), body, assets, brand, mount=notice is None)


def confirm_page(
    action: str,
    touchpoint: Touchpoint,
    w: Words,
    assets: Assets,
    chosen: int,
    current: int | None,
) -> str:
    """`GET /r/{token}?score=N`: the choice from the email, preselected; only a POST saves it."""
    label = w.label(touchpoint.scale, chosen)
    parts = [f'<p class="lead">{escape(w["chosen"].format(label=label))}</p>']
    if current is not None and current != chosen:
        current_label = w.label(touchpoint.scale, current)
        parts.append(f'<p class="muted">{escape(w["current"].format(label=current_label))}</p>')
    parts.append(scale_form(action, touchpoint, w, chosen, w["confirm"], heading=True))
    brand = assets.brand(touchpoint)
    return document(w.lang, w.question(touchpoint), "".join(parts), assets, brand)


def thanks_page(
    action: str,
    touchpoint: Touchpoint,
    w: Words,
    assets: Assets,
    response_id: str,
    score: int,
    comment: str | None,
    comment_saved: bool = False,
) -> str:
    """After a POST: the thank-you, the comment box, and links to change the score."""
    label = w.label(touchpoint.scale, score)
    prompt = comment_prompt(touchpoint, w, score)
    thanks = touchpoint.thank_you or w["thank_you"]
    saved = f'<p class="muted">{escape(w["saved"])}</p>' if comment_saved else ""
    body = (
        f'<div role="status"><h1>{escape(thanks)}</h1></div>'
        f'<p class="lead">{escape(w["current"].format(label=label))}</p>{saved}'
        f'<form method="post" action="{escape(action)}" class="comment">'
        f'<input type="hidden" name="id" value="{escape(response_id)}">'
        f'<label for="comment">{escape(prompt)}</label>'
        f'<textarea id="comment" name="comment" maxlength="2000" rows="4">'
        f"{escape(comment or '')}</textarea>"
        f'<button type="submit" class="primary">{escape(w["send"])}</button></form>'
        f"{change_links(action, touchpoint, w, score)}"
    )
    return document(w.lang, thanks, body, assets, assets.brand(touchpoint))


def message_page(
    w: Words, assets: Assets, title_key: str, body_key: str, touchpoint: Touchpoint | None
) -> str:
    """An expired, broken or paused link: say so kindly; nothing else is on the page."""
    title = w[title_key]
    body = f'<h1>{escape(title)}</h1><p class="lead">{escape(w[body_key])}</p>'
    return document(w.lang, title, body, assets, assets.brand(touchpoint))
