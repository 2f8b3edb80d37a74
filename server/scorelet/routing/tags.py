"""What a tag name may be: short human words such as "Billing" or "Bug report". Pure."""

from __future__ import annotations

import unicodedata
from typing import Any

MAX_TAG = 40
MAX_TAGS_PER_RULE = 10
# Letters and digits of any script, for JSON Schema: `\p{L}\p{N}`, which every validator
# reads alike, where `\w` is ASCII in ECMA-262 and any letter or digit in Python.
WORD = r"\p{L}\p{N}_"
TAG_PATTERN = rf"^[{WORD}.&/+#-](?:[{WORD} .&/+#-]{{0,{MAX_TAG - 2}}}[{WORD}.&/+#-])?$"


class TagError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_tag(value: Any, field: str = "tag") -> str:
    """A tag: 1-40 characters of letters, digits, spaces and `-_.&/+#`, trimmed, NFC.

    Tags are shown in listings, CSV cells, query strings and Slack messages,
    so control characters, commas and quotes are kept out of them.
    """
    if not isinstance(value, str):
        raise TagError(field, f"{field} must be a string")
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        raise TagError(field, f"{field} must not be empty")
    if len(text) > MAX_TAG:
        raise TagError(field, f"{field} is longer than {MAX_TAG} characters")
    for char in text:
        if not (char.isalnum() or char in " -_.&/+#"):
            raise TagError(
                field,
                f"{field} may hold letters, digits, spaces and - _ . & / + # (not {char!r})",
            )
    return text
