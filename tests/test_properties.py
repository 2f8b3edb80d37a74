"""Property-based tests (hypothesis) for scoring and for request validation.

Scoring: the figures agree with a recount from individual ratings, move the
right way when one rating is added, ignore empty buckets, and are always
JSON without NaN. Validation: every check either returns the value or raises
a 422 `Problem` naming the field, never anything else; and over real HTTP no
JSON body at all makes the submit endpoint answer 5xx or store a bad row.
"""

from __future__ import annotations

import json
import math
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import LiveServer, run_server
from scorelet.errors import Problem
from scorelet.scales import parse_scale
from scorelet.scoring import round1, summarize, summarize_csat, summarize_nps, wilson
from scorelet.series import SeriesError, buckets, zone
from scorelet.timeutil import EARLIEST, LATEST, iso, parse_instant
from scorelet.tokens import Signer, TokenError
from scorelet.validation import (
    MAX_CONTEXT_KEYS,
    check_context,
    check_text,
    check_uuid,
    only_fields,
)

NPS = parse_scale("nps")
ratings_5 = st.lists(st.integers(1, 5), max_size=300)
ratings_nps = st.lists(st.integers(0, 10), max_size=300)


# -- scoring -------------------------------------------------------------------------------


@settings(database=None)
@given(ratings=ratings_5, satisfied_from=st.integers(1, 5))
def test_csat_equals_a_recount_of_individual_ratings(
    ratings: list[int], satisfied_from: int
) -> None:
    body = summarize_csat(parse_scale("stars"), satisfied_from, Counter(ratings))
    if not ratings:
        assert body["score"] is body["mean"] is None
        return
    satisfied = sum(1 for r in ratings if r >= satisfied_from)
    assert body["satisfied"] == satisfied
    assert body["score"] == round1(100 * satisfied / len(ratings))
    assert body["mean"] == round(sum(ratings) / len(ratings), 2)


@settings(database=None)
@given(ratings=ratings_nps)
def test_nps_equals_a_recount_of_individual_ratings(ratings: list[int]) -> None:
    body = summarize_nps(NPS, Counter(ratings))
    if not ratings:
        assert body["score"] is None
        return
    promoters = sum(1 for r in ratings if r >= 9)
    detractors = sum(1 for r in ratings if r <= 6)
    assert body["score"] == round1(100 * (promoters - detractors) / len(ratings))
    assert body["passives"]["count"] == sum(1 for r in ratings if r in (7, 8))


@settings(database=None)
@given(ratings=ratings_nps, extra=st.integers(0, 10))
def test_one_more_rating_moves_nps_the_right_way(ratings: list[int], extra: int) -> None:
    before = summarize_nps(NPS, Counter(ratings))["score"]
    after = summarize_nps(NPS, Counter([*ratings, extra]))["score"]
    if before is None:
        assert after in (100.0, 0.0, -100.0)
    elif extra >= 9:
        assert after >= before
    elif extra <= 6:
        assert after <= before


@settings(database=None)
@given(ratings=ratings_5, extra=st.integers(1, 5))
def test_one_more_rating_moves_csat_the_right_way(ratings: list[int], extra: int) -> None:
    stars = parse_scale("stars")
    before = summarize_csat(stars, 4, Counter(ratings))["score"]
    after = summarize_csat(stars, 4, Counter([*ratings, extra]))["score"]
    if before is not None:
        assert (after >= before) if extra >= 4 else (after <= before)


@settings(database=None)
@given(
    ratings=st.lists(st.integers(0, 10), min_size=1, max_size=200),
    empty=st.sets(st.integers(0, 10)),
)
def test_empty_buckets_change_nothing_and_bodies_are_strict_json(
    ratings: list[int], empty: set[int]
) -> None:
    counts = Counter(ratings)
    padded = {**{point: 0 for point in empty}, **counts}
    body = summarize("nps", NPS, None, counts)
    assert summarize("nps", NPS, None, padded) == body
    json.dumps(body, allow_nan=False)


@settings(database=None)
@given(points=st.integers(3, 10), data=st.data())
def test_any_numeric_scale_gives_a_bounded_csat(points: int, data: st.DataObject) -> None:
    scale = parse_scale(f"numeric:{points}")
    ratings = data.draw(st.lists(st.integers(1, points), max_size=100))
    body = summarize("csat", scale, points - 1, Counter(ratings))
    assert list(body["distribution"]) == [str(p) for p in range(1, points + 1)]
    if ratings:
        assert 0 <= body["interval"]["low"] <= body["score"] <= body["interval"]["high"] <= 100


@settings(database=None)
@given(successes=st.integers(0, 500), failures=st.integers(0, 500), k=st.integers(2, 20))
def test_more_of_the_same_evidence_narrows_the_wilson_interval(
    successes: int, failures: int, k: int
) -> None:
    n = successes + failures
    if n == 0:
        return
    small, large = wilson(successes, n), wilson(successes * k, n * k)
    assert small is not None
    assert large is not None
    assert large[1] - large[0] <= small[1] - small[0] + 1e-12


# -- validation ----------------------------------------------------------------------------


def outcome(check: Any, *args: Any) -> tuple[Any, Problem | None]:
    """What a check returns, or the Problem it raises (anything else fails the test)."""
    try:
        return check(*args), None
    except Problem as problem:
        return None, problem


def _acceptable(text: str, limit: int, multiline: bool) -> bool:
    allowed = {"\n", "\r", "\t"} if multiline else set()
    return len(text) <= limit and all(
        unicodedata.category(c) != "Cs" and (unicodedata.category(c) != "Cc" or c in allowed)
        for c in text
    )


@settings(database=None)
@given(text=st.text(st.characters(codec=None), max_size=60), multiline=st.booleans())
def test_check_text_accepts_exactly_the_clean_strings(text: str, multiline: bool) -> None:
    result, problem = outcome(check_text, text, "comment", 40, multiline)
    if problem is None:
        assert result == text
        assert _acceptable(text, 40, multiline)
    else:
        assert (problem.status, problem.field) == (422, "comment")
        assert not _acceptable(text, 40, multiline)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(database=None)
@given(value=json_values | st.dictionaries(st.text(max_size=50), json_values, max_size=30))
def test_check_context_returns_a_small_string_map_or_a_422(value: Any) -> None:
    context, problem = outcome(check_context, value)
    if problem is not None:
        assert problem.status == 422
        assert problem.field is not None
        assert problem.field.startswith("context")
        return
    assert context == value
    assert len(context) <= MAX_CONTEXT_KEYS
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in context.items())


@settings(database=None)
@given(value=st.uuids().map(str) | st.text(max_size=40) | json_scalars)
def test_check_uuid_returns_the_canonical_form_or_a_422(value: Any) -> None:
    result, problem = outcome(check_uuid, value)
    if problem is not None:
        assert (problem.status, problem.field) == (422, "id")
        return
    assert result == str(uuid.UUID(result))
    assert result == value.lower()


@settings(database=None)
@given(
    body=st.dictionaries(st.sampled_from(["token", "score", "comment", "x", "scroe"]), st.none())
)
def test_only_fields_refuses_exactly_the_unknown_names(body: dict[str, None]) -> None:
    allowed = frozenset({"token", "score", "comment"})
    _, problem = outcome(only_fields, body, allowed)
    if problem is None:
        assert set(body) <= allowed
    else:
        assert problem.field in set(body) - allowed


@settings(database=None)
@given(text=st.text(max_size=200) | st.text(alphabet="eAs._-0123456789abcXYZ", max_size=120))
def test_any_text_is_a_token_or_a_token_error(text: str) -> None:
    signer = Signer(["property-secret-0123456789"])
    with pytest.raises(TokenError, match=r"token|signature|payload") as error:
        signer.verify(text)
    assert error.value.code == "bad_token"


@settings(database=None)
@given(position=st.integers(2, 30), replacement=st.sampled_from("AbZ0_-"))
def test_changing_a_token_payload_character_breaks_it(position: int, replacement: str) -> None:
    signer = Signer(["property-secret-0123456789"])
    token = signer.mint_subject("checkout", "conv-1", {"agent": "alice"}, 4_000_000_000)
    forged = token[:position] + replacement + token[position + 1 :]
    if forged == token:
        return
    with pytest.raises(TokenError):
        signer.verify(forged)


# -- over HTTP: any JSON body -----------------------------------------------------------------


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory.mktemp("properties"), rate_limit=False)


@pytest.fixture(scope="module")
def http(open_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=open_server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def token(open_server: LiveServer) -> str:
    return str(open_server.add_touchpoint(metric="csat", scale="stars")["embed_token"])


field_values = {
    "score": st.integers(-(10**20), 10**20) | json_values,
    "comment": st.text(max_size=40) | json_values,
    "context": st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=5)
    | json_values,
    "id": st.uuids().map(str) | json_values,
}


@st.composite
def submissions(draw: st.DrawFn, token: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if draw(st.integers(0, 9)):  # mostly a valid token, sometimes junk
        body["token"] = token
    else:
        body["token"] = draw(json_values)
    for name, values in field_values.items():
        if draw(st.booleans()):
            body[name] = draw(values)
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
    return body


@settings(
    database=None,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_submission_body_gives_a_5xx_or_a_bad_row(
    open_server: LiveServer, http: httpx.Client, token: str, data: st.DataObject
) -> None:
    body = data.draw(submissions(token))
    encoded = json.dumps(body, allow_nan=True)  # NaN and Infinity included on purpose
    response = http.post(
        "/api/v1/responses", content=encoded, headers={"content-type": "text/plain"}
    )
    assert response.status_code < 500, response.text
    if response.status_code in (200, 201):
        stored = response.json()
        assert isinstance(body["score"], int)
        assert 1 <= body["score"] <= 5
        with open_server.reader() as reader:
            shown = reader.get(f"/api/v1/responses/{stored['id']}").json()
        assert shown["score"] == body["score"]
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert 400 <= response.status_code < 500
        problem = response.json()
        assert problem["status"] == response.status_code
        assert not math.isnan(problem["status"])


# -- query windows at the edges of time -------------------------------------------------------

offsets = st.sampled_from(["", "Z", "+00:00", "+14:00", "-12:00", "+05:30", "-23:59"])
iso_instants = st.builds(
    lambda moment, offset: moment.isoformat() + offset,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    offsets,
)
edge_instants = st.sampled_from(
    [
        "0001-01-01",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31",
        "9999-12-31T23:59:59-12:00",
        "9998-12-31T23:00:00-14:00",
        "1970-01-01T00:00:00+01:00",
        "1969-12-31T23:59:59Z",
        "9999-01-01",
        "-1",
        "-999999999999",
        "999999999999",
        "253402300800",
        "253370764799.999999",
        "0",
    ]
)
epoch_instants = st.integers(-(10**12) + 1, 10**12 - 1).map(str) | st.floats(
    -1e12, 1e12, allow_nan=False
).map(lambda value: f"{value:.6f}")
instants = iso_instants | edge_instants | epoch_instants
zones = st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"])


@settings(database=None)
@given(text=instants, tz=zones, interval=st.sampled_from(["day", "week", "month"]))
def test_any_instant_parses_within_range_and_buckets_or_is_a_value_error(
    text: str, tz: str, interval: str
) -> None:
    try:
        instant = parse_instant(text)
    except ValueError:
        return
    assert EARLIEST <= instant < LATEST
    iso(instant)
    refused = []
    for since, until in ((instant, None), (None, instant), (instant, instant + 1)):
        try:
            spans = buckets(interval, zone(tz), since, until, now=instant)
        except SeriesError as error:
            refused.append(error.field)
            continue
        for start, end in spans:
            iso(start)
            iso(end)
    assert set(refused) <= {"since"}  # too many buckets: nothing else may go wrong


@st.composite
def windows(draw: st.DrawFn) -> dict[str, str]:
    params = {name: draw(instants) for name in ("since", "until") if draw(st.booleans())}
    return params


@settings(
    database=None,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(window=windows(), tz=zones, interval=st.sampled_from(["day", "week", "month"]))
def test_read_endpoints_answer_any_window_with_200_or_a_400_naming_it(
    open_server: LiveServer, window: dict[str, str], tz: str, interval: str
) -> None:
    slug = window_touchpoint(open_server)
    base = f"/api/v1/touchpoints/{slug}"
    requests = [
        (f"{base}/score", window),
        (f"{base}/series", {**window, "tz": tz, "interval": interval}),
        (f"{base}/breakdown", {**window, "by": "agent"}),
        (f"{base}/responses", window),
        ("/api/v1/scores", window),
    ]
    with open_server.reader() as client:
        for path, params in requests:
            response = client.get(path, params=params)
            assert response.status_code in (200, 400), (path, params, response.text)
            if response.status_code == 400:
                problem = response.json()
                assert problem["code"] == "bad_query"
                assert problem["field"] in params


_window_touchpoints: dict[str, str] = {}


def window_touchpoint(server: LiveServer) -> str:
    if server.url not in _window_touchpoints:
        _window_touchpoints[server.url] = server.add_touchpoint()["slug"]
    return _window_touchpoints[server.url]
