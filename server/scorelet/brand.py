"""Branding for the hosted rating page: product name, logo and accent colour. No I/O.

A customer trusts a link from an email when the page it opens says whose it
is. Branding is set for the whole install (SCORELET_BRAND_*) and per
touchpoint; a touchpoint's own values win, field by field.

The page's Content-Security-Policy stays strict: the accent colour goes into
one small inline style sheet allowed by its hash, and it must be a plain
`#rgb`/`#rrggbb` colour, so nothing else can ride along; the logo's origin is
added to `img-src` for that page only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from scorelet.validation import DNS_HOST

MAX_NAME = 80
MAX_LOGO_URL = 500
LOGO_REFUSED = " \"'<>;,\\"
# The same, for JSON Schema: the characters a logo URL may hold after its host.
LOGO_TAIL = r"[\x21\x23-\x26\x28-\x2b\x2d-\x3a\x3d\x3f-\x5b\x5d-\x7e]"
ACCENT = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


class BrandError(ValueError):
    """A branding value that can't be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_accent(value: str, field: str = "brand_accent") -> str:
    if not ACCENT.fullmatch(value):
        raise BrandError(field, f"{field} must be a colour like #1d4ed8 or #c0f")
    return value.lower()


def check_logo(value: str, field: str = "brand_logo") -> str:
    """An absolute http(s) URL with nothing that could end a CSP source or an attribute:
    a host name or IP address (no `*`, which `img-src` would read as a wildcard), no
    credentials, printable ASCII but for quotes, brackets, `;`, `,` and `\\`."""
    wrong = BrandError(
        field, f"{field} must be an http(s) URL of an image, like https://example.com/logo.svg"
    )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:  # a bracketed host that is no IPv6 address, a port that is none
        raise wrong from None
    host = parts.hostname or ""
    if (
        len(value) > MAX_LOGO_URL
        or parts.scheme not in ("http", "https")
        or not (DNS_HOST.fullmatch(host) or (":" in host and f"[{host}]" in parts.netloc))
        or parts.username is not None
        or any(c in value for c in LOGO_REFUSED)
        or any(ord(c) < 0x21 or ord(c) > 0x7E for c in value)
    ):
        raise wrong
    return value


def _hex6(accent: str) -> str:
    digits = accent[1:]
    return "".join(c * 2 for c in digits) if len(digits) == 3 else digits


def _luminance(accent: str) -> float:
    def channel(text: str) -> float:
        c = int(text, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    digits = _hex6(accent)
    r, g, b = (channel(digits[i : i + 2]) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def on_accent(accent: str) -> str:
    """White or near-black, whichever reads better on the accent (WCAG contrast)."""
    light = _luminance(accent)
    white = 1.05 / (light + 0.05)
    black = (light + 0.05) / (_luminance("#111827") + 0.05)
    return "#fff" if white >= black else "#111827"


@dataclass(frozen=True, slots=True)
class Brand:
    name: str | None = None
    logo: str | None = None
    accent: str | None = None

    def over(self, base: Brand) -> Brand:
        """This brand's values, with `base` (the install's) where this one has none."""
        return Brand(self.name or base.name, self.logo or base.logo, self.accent or base.accent)

    @property
    def style(self) -> str | None:
        """The page's inline style sheet for the accent, or None without one."""
        if not self.accent:
            return None
        fg = on_accent(self.accent)
        return (
            f":root{{--accent:{self.accent};--on-accent:{fg};"
            f"--scorelet-accent:{self.accent};--scorelet-on-accent:{fg}}}"
        )

    @property
    def style_hash(self) -> str | None:
        """The CSP source that allows `style`, e.g. 'sha256-...'."""
        if self.style is None:
            return None
        digest = base64.b64encode(hashlib.sha256(self.style.encode()).digest()).decode()
        return f"'sha256-{digest}'"

    @property
    def logo_origin(self) -> str | None:
        """Where the logo comes from, for the page's img-src."""
        if not self.logo:
            return None
        parts = urlsplit(self.logo)
        return f"{parts.scheme}://{parts.netloc}"


NO_BRAND = Brand()
