"""Field rules shared by the API, the CLI and the Python helpers."""

from __future__ import annotations

from typing import Any

import pytest

from scorelet.errors import Problem
from scorelet.validation import (
    MAX_COMMENT,
    MAX_CONTEXT_KEY,
    MAX_CONTEXT_KEYS,
    MAX_CONTEXT_VALUE,
    MAX_ORIGINS,
    check_context,
    check_int,
    check_locale,
    check_optional_text,
    check_origin,
    check_origins,
    check_slug,
    check_subject,
    check_text,
    check_uuid,
    only_fields,
    require,
)


def _refused(code: str, field: str, fn: Any, *args: Any, **kwargs: Any) -> Problem:
    with pytest.raises(Problem) as caught:
        fn(*args, **kwargs)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert 400 <= caught.value.status < 500
    return caught.value


# -- slugs ----------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["a", "checkout", "q3-nps", "0", "a" * 64, "a-b-c"])
def test_good_slugs_are_accepted(slug: str) -> None:
    assert check_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    ["", "-a", "a-", "Checkout", "check_out", "check out", "a" * 65, "é", "checkout\n", "a/b"],
)
def test_bad_slugs_are_refused(slug: str) -> None:
    _refused("invalid_value", "slug", check_slug, slug)


@pytest.mark.parametrize("slug", [None, 5, ["a"]])
def test_non_string_slug_is_a_wrong_type(slug: Any) -> None:
    _refused("wrong_type", "slug", check_slug, slug)


# -- text -------------------------------------------------------------------------------


def test_text_within_limit_is_returned_unchanged() -> None:
    assert check_text("Great, thanks 👍", "comment", 20) == "Great, thanks 👍"


def test_text_longer_than_limit_is_too_long() -> None:
    assert check_text("x" * MAX_COMMENT, "comment", MAX_COMMENT)
    _refused("too_long", "comment", check_text, "x" * (MAX_COMMENT + 1), "comment", MAX_COMMENT)


@pytest.mark.parametrize("text", ["a\x00b", "a\x07", "a\x1bb", "a\x7f", "a\x85b", "tab\nnewline"])
def test_control_characters_are_refused_on_one_line(text: str) -> None:
    _refused("invalid_text", "question", check_text, text, "question", 100)


@pytest.mark.parametrize("text", ["line one\nline two", "a\r\nb", "col\tcol"])
def test_multiline_text_allows_newlines_and_tabs(text: str) -> None:
    assert check_text(text, "comment", 100, multiline=True) == text


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "\x1b[31mred"])
def test_multiline_text_still_refuses_other_controls(text: str) -> None:
    _refused("invalid_text", "comment", check_text, text, "comment", 100, multiline=True)


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udc00\ud800"])
def test_lone_surrogates_are_refused(text: str) -> None:
    _refused("invalid_text", "comment", check_text, text, "comment", 100, multiline=True)


@pytest.mark.parametrize("value", [5, None, b"bytes", ["a"]])
def test_non_string_text_is_a_wrong_type(value: Any) -> None:
    _refused("wrong_type", "comment", check_text, value, "comment", 100)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_optional_text_treats_blank_as_unset(value: str | None) -> None:
    assert check_optional_text(value, "question", 100) is None


def test_optional_text_still_validates_what_is_set() -> None:
    assert check_optional_text(" hi ", "question", 100) == " hi "
    _refused("too_long", "question", check_optional_text, "x" * 101, "question", 100)


def test_subject_must_not_be_blank_or_too_long() -> None:
    assert check_subject("conv-42") == "conv-42"
    _refused("invalid_value", "subject", check_subject, "  ")
    _refused("too_long", "subject", check_subject, "x" * 201)
    _refused("invalid_text", "subject", check_subject, "a\nb")


# -- context ------------------------------------------------------------------------------


def test_context_is_a_copy_of_a_small_string_map() -> None:
    given = {"agent": "alice", "team.name": "t-1", "plan_v2": ""}
    checked = check_context(given)
    assert checked == given
    assert checked is not given


def test_context_of_twenty_keys_is_accepted_but_not_twenty_one() -> None:
    twenty = {f"k{i}": "v" for i in range(MAX_CONTEXT_KEYS)}
    assert len(check_context(twenty)) == MAX_CONTEXT_KEYS
    _refused("too_many_context_keys", "context", check_context, {**twenty, "one-more": "v"})


def test_context_key_length_limit() -> None:
    assert check_context({"k" * MAX_CONTEXT_KEY: "v"})
    problem = _refused(
        "bad_context_key",
        f"context.{'k' * MAX_CONTEXT_KEY}",  # the key, cut to the longest allowed
        check_context,
        {"k" * (MAX_CONTEXT_KEY + 1): "v"},
    )
    assert problem.field is not None
    assert len(problem.field) == len("context.") + MAX_CONTEXT_KEY


@pytest.mark.parametrize("key", ["", "a b", "agent\n", "ägent", "a/b", "a:b"])
def test_malformed_context_keys_are_refused(key: str) -> None:
    with pytest.raises(Problem) as caught:
        check_context({key: "v"})
    assert caught.value.code == "bad_context_key"


@pytest.mark.parametrize("key", ["since", "until", "by", "interval", "tz", "token", "subject"])
def test_reserved_context_keys_are_refused(key: str) -> None:
    _refused("bad_context_key", f"context.{key}", check_context, {key: "v"})


def test_context_value_length_limit() -> None:
    assert check_context({"agent": "x" * MAX_CONTEXT_VALUE})
    _refused("too_long", "context.agent", check_context, {"agent": "x" * (MAX_CONTEXT_VALUE + 1)})


@pytest.mark.parametrize("value", [1, None, True, ["a"], {"a": "b"}])
def test_context_values_must_be_strings(value: Any) -> None:
    _refused("wrong_type", "context.agent", check_context, {"agent": value})


def test_context_value_with_control_characters_is_refused() -> None:
    _refused("invalid_text", "context.agent", check_context, {"agent": "a\nb"})


@pytest.mark.parametrize("value", [[], "agent=alice", None, 3])
def test_context_must_be_an_object(value: Any) -> None:
    _refused("wrong_type", "context", check_context, value)


# -- origins ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("HTTPS://Shop.Example.COM", "https://shop.example.com"),
        ("  https://shop.example.com  ", "https://shop.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("http://shop.example.com:443", "http://shop.example.com:443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),  # as browsers send it
    ],
)
def test_origins_are_normalised_to_what_browsers_send(given: str, normal: str) -> None:
    assert check_origin(given) == normal


@pytest.mark.parametrize(
    "value",
    [
        "shop.example.com",
        "ftp://shop.example.com",
        "https://",
        "https://shop.example.com/path",
        "https://shop.example.com?q=1",
        "https://shop.example.com#top",
        "https://user@shop.example.com",
        "https://:pw@shop.example.com",
        "https://shop.example.com:99999",
        "https://shop.example.com:port",
        "javascript:alert(1)",
        "http://shop.example*",
        "https://-shop.example",
        "https://shop_1.example",
        "http://[::g]:3000",
    ],
)
def test_non_origins_are_refused(value: str) -> None:
    _refused("invalid_value", "origins", check_origin, value)


def test_origins_list_is_normalised_and_deduplicated_in_order() -> None:
    origins = check_origins(["https://b.example", "https://A.example/", "https://b.example:443"])
    assert origins == ("https://b.example", "https://a.example")


def test_origins_must_be_a_list_of_at_most_fifty() -> None:
    _refused("wrong_type", "origins", check_origins, "https://a.example")
    _refused("wrong_type", "origins", check_origins, [5])
    many = [f"https://s{i}.example" for i in range(MAX_ORIGINS + 1)]
    assert len(check_origins(many[:MAX_ORIGINS])) == MAX_ORIGINS
    _refused("invalid_value", "origins", check_origins, many)


# -- locale, integers, UUIDs -------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "pt-BR", "zh-Hant-TW", "fil", "es-419"])
def test_language_tags_are_accepted(locale: str) -> None:
    assert check_locale(locale) == locale


def test_no_locale_is_none() -> None:
    assert check_locale(None) is None


@pytest.mark.parametrize(
    "locale", ["", "e", "EN", "english", "en_US", "en-", "en\n", 5, "en-" + "-".join(["abc"] * 9)]
)
def test_bad_locales_are_refused(locale: Any) -> None:
    _refused("invalid_value", "locale", check_locale, locale)


def test_check_int_accepts_bounds_inclusive() -> None:
    assert check_int(0, "score", 0, 10) == 0
    assert check_int(10, "score", 0, 10) == 10


@pytest.mark.parametrize("value", [-1, 11])
def test_check_int_refuses_out_of_range(value: int) -> None:
    _refused("out_of_range", "score", check_int, value, "score", 0, 10)


@pytest.mark.parametrize("value", [True, False, 4.0, 4.5, "4", None])
def test_check_int_refuses_bools_floats_and_strings(value: Any) -> None:
    _refused("wrong_type", "score", check_int, value, "score", 0, 10)


def test_check_uuid_normalises_case() -> None:
    value = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    assert check_uuid(value) == value.lower()


@pytest.mark.parametrize(
    "value",
    [
        "not-a-uuid",
        "",
        "3f2504e04f8911d39a0c0305e82c3301",
        "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
        "urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "3f2504e0-4f89-11d3-9a0c-0305e82c330g",
    ],
)
def test_check_uuid_refuses_other_forms(value: str) -> None:
    _refused("invalid_value", "id", check_uuid, value)


@pytest.mark.parametrize("value", [5, None, ["x"]])
def test_check_uuid_refuses_non_strings(value: Any) -> None:
    _refused("wrong_type", "id", check_uuid, value)


# -- body helpers --------------------------------------------------------------------------


def test_only_fields_names_the_unknown_field() -> None:
    only_fields({"score": 1, "token": "t"}, frozenset({"score", "token"}))
    _refused("unknown_field", "scroe", only_fields, {"scroe": 1}, frozenset({"score"}))


def test_require_treats_null_as_missing() -> None:
    assert require({"score": 0}, "score") == 0
    _refused("missing_field", "score", require, {}, "score")
    _refused("missing_field", "score", require, {"score": None}, "score")
