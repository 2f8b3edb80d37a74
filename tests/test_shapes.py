"""Request bodies from typed definitions: what is refused, and the schema published for it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from scorelet.errors import Problem
from scorelet.shapes import Shape, about


@dataclass(frozen=True, slots=True)
class Lifetime:
    name: str = field(metadata=about("what it is called"))
    ttl: str | int | None = field(
        default=None, metadata=about("how long", expects="a duration or seconds", minimum=1)
    )
    count: int | None = field(default=None, metadata=about("how many"))


LIFETIME = Shape(Lifetime, "Lifetime")


@pytest.mark.parametrize("ttl", ["14d", 60, None])
def test_a_field_of_two_types_takes_either(ttl: str | int | None) -> None:
    assert LIFETIME.decode({"name": "a", "ttl": ttl}) == Lifetime("a", ttl)


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"name": "a", "ttl": True}, "ttl", "ttl must be a duration or seconds"),
        ({"name": "a", "ttl": 1.5}, "ttl", "ttl must be a duration or seconds"),
        ({"name": "a", "count": False}, "count", "count must be an integer"),
        ({"name": "a", "count": "3"}, "count", "count must be an integer"),
        ({"ttl": 3}, "name", "name is required"),
        ({"name": "a", "size": 3}, "size", "unknown field 'size'"),
    ],
)
def test_a_wrong_body_is_refused_naming_the_field(
    body: dict[str, object], field: str, detail: str
) -> None:
    with pytest.raises(Problem) as refused:
        LIFETIME.decode(body)
    assert (refused.value.status, refused.value.field, refused.value.detail) == (422, field, detail)


def test_the_schema_lists_every_type_a_field_takes() -> None:
    assert LIFETIME.schema() == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "what it is called"},
            "ttl": {"type": ["string", "integer", "null"], "minimum": 1, "description": "how long"},
            "count": {"type": ["integer", "null"], "description": "how many"},
        },
        "required": ["name"],
        "additionalProperties": False,
    }
