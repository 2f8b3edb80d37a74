"""Instants: ISO 8601 or epoch seconds in, ISO 8601 UTC out."""

from __future__ import annotations

import pytest

from scorelet.timeutil import iso, parse_instant

# Anchors everyone can check: 1e9 s is 2001-09-09T01:46:40Z, 1.7e9 s is 2023-11-14T22:13:20Z.
BILLION = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2001-09-09", BILLION - (1 * 3600 + 46 * 60 + 40)),
        ("2001-09-09T01:46:40Z", BILLION),
        ("2001-09-09T01:46:40+00:00", BILLION),
        ("2001-09-09T03:46:40+02:00", BILLION),
        ("2001-09-08T20:16:40-05:30", BILLION),
        ("2001-09-09T01:46:40", BILLION),  # no zone means UTC
        ("2001-09-09 01:46:40", BILLION),
        ("2001-09-09T01:46:40.250Z", BILLION + 0.25),
        ("2023-11-14T22:13:20Z", 1_700_000_000),
        ("1970-01-01", 0),
    ],
)
def test_parse_instant_reads_iso_8601(text: str, epoch: float) -> None:
    assert parse_instant(text) == epoch


@pytest.mark.parametrize(
    ("text", "epoch"),
    [("1000000000", BILLION), ("1000000000.5", BILLION + 0.5), ("0", 0)],
)
def test_parse_instant_reads_epoch_seconds(text: str, epoch: float) -> None:
    assert parse_instant(text) == epoch


def test_parse_instant_ignores_surrounding_space() -> None:
    assert parse_instant("  2001-09-09T01:46:40Z\n") == BILLION


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "2026-11-01T25:00:00Z",
        "nan",
        "inf",
        "1e9",
        "12:30",
        "2026-11-01T09:30:00+25:00",
        "\ud800",
    ],
)
def test_parse_instant_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant(text)


@pytest.mark.parametrize(
    "text",
    [
        "-86400",
        "-1",
        "1969-12-31T23:59:59Z",
        "0001-01-01",
        "9999-01-01",
        "9999-12-31T23:59:59-12:00",
    ],
)
def test_parse_instant_refuses_instants_outside_1970_to_9999(text: str) -> None:
    with pytest.raises(ValueError, match=r"outside 1970-01-01 \.\. 9999-01-01"):
        parse_instant(text)


def test_iso_formats_utc_with_milliseconds_and_z() -> None:
    assert iso(BILLION) == "2001-09-09T01:46:40.000Z"
    assert iso(BILLION + 0.25) == "2001-09-09T01:46:40.250Z"
    assert iso(0) == "1970-01-01T00:00:00.000Z"


def test_iso_and_parse_instant_round_trip() -> None:
    assert parse_instant(iso(1_700_000_000.125)) == 1_700_000_000.125
