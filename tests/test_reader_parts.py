"""The pieces readers are declared with: country names to ISO codes (counted, never guessed),
event times in each unit, dotted and ``*`` paths, key/value arrays as plain fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breachdesk.sources.countries import country_code
from breachdesk.sources.paths import flatten_kv, path_getter, values_getter
from breachdesk.sources.times import TimeUnit, bounds


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("United States", "US"),  # pycountry's name
        ("united states", "US"),
        ("  Germany ", "DE"),
        ("Russia", "RU"),  # GeoIP spelling
        ("South Korea", "KR"),  # pycountry's common name, CLDR's name
        ("Myanmar (Burma)", "MM"),  # CLDR (GA4)
        ("Congo - Kinshasa", "CD"),  # CLDR (GA4)
        ("Côte d’Ivoire", "CI"),  # CLDR, typographic apostrophe
        ("Côte d'Ivoire", "CI"),  # ISO, plain apostrophe
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Czech Republic", "CZ"),
        ("Bosnia & Herzegovina", "BA"),
        ("Trinidad and Tobago", "TT"),
        ("St. Kitts & Nevis", "KN"),
        ("Hong Kong", "HK"),
        ("Macau", "MO"),
        ("The Netherlands", "NL"),
        ("US", "US"),  # a code stays a code
        ("de", "DE"),
        ("uk", "GB"),
        ("(not set)", ""),  # GA4's "not known": no country, not unmapped
        ("", ""),
    ],
)
def test_country_names_map_to_iso_codes(value: str, code: str) -> None:
    assert country_code(value) == code


@pytest.mark.parametrize(
    "value", ["Atlantis", "Narnia", "Deutschland", "Korea", "Virgin Islands", "Kosovo"]
)
def test_a_name_no_list_knows_is_unmapped_not_guessed(value: str) -> None:
    """Ambiguous or foreign-language names are not resolved to a nearest match; Kosovo has no
    ISO 3166-1 code (XK is user-assigned)."""
    assert country_code(value) is None


def test_time_units() -> None:
    assert bounds([1714560000, 1714560000123, "x", None], TimeUnit.EPOCH) == (
        1714560000.0,
        1714560000.123,
    )
    assert bounds(["1714560000123456", 1714560001000000, "abc"], TimeUnit.MICROS) == (
        1714560000.123456,
        1714560001.0,
    )
    assert bounds(
        ["2024-05-01 12:00:00.500000", "2024-05-01T13:00:00Z", "2024-05-01T15:00:00+02:00", "no"],
        TimeUnit.ISO,
    ) == (1714564800.5, 1714568400.0)
    assert bounds(["never"], TimeUnit.ISO) is None


def test_paths() -> None:
    bag = {
        "a": {"b": {"c": 1}},
        "x.y": "literal",
        "x": {"y": "nested"},
        "groups": {"company": "o1", "team": ["t1", None, "t2"], "none": None},
        "list": [1, 2],
    }
    assert path_getter("a.b.c")(bag) == 1
    assert path_getter("a.b.d")(bag) is None
    assert path_getter("a.b.c.d")(bag) is None
    assert path_getter("x.y")(bag) == "literal"  # the whole path as a key wins
    assert path_getter("groups.*")(bag) == ["o1", "t1", "t2"]
    assert path_getter("list.*")(bag) is None
    assert path_getter("missing.*")(bag) is None
    assert values_getter(["a", "list"])(bag) == (bag["a"], [1, 2])
    assert values_getter(["a.b.c", "nope"])(bag) == (1, None)


@pytest.mark.parametrize("count", range(12))
def test_top_level_values_come_in_the_order_asked(count: int) -> None:
    names = [f"k{i}" for i in range(count)]
    every = {name: i for i, name in enumerate(names)}
    assert values_getter(names)(every) == tuple(range(count))
    assert values_getter(names[::-1])(every) == tuple(range(count))[::-1]
    some = {name: i for i, name in enumerate(names) if i % 2}
    assert values_getter(names)(some) == tuple(i if i % 2 else None for i in range(count))


def test_key_value_arrays_become_objects() -> None:
    row = {
        "event_params": [
            {"key": "page_location", "value": {"string_value": "https://a.example/"}},
            {"key": "ga_session_id", "value": {"string_value": None, "int_value": "1714560000"}},
            {"key": "big", "value": {"int_value": "9223372036854775807"}},
            {"key": "ratio", "value": {"double_value": 0.5, "float_value": None}},
            {"key": "empty", "value": {"string_value": None, "int_value": None}},
            "not a pair",
            {"no_key": 1},
        ],
        "user_properties": [
            {"key": "plan", "value": {"string_value": "pro", "set_timestamp_micros": "1"}}
        ],
        "other": [{"key": "stays", "value": {"string_value": "a list"}}],
    }
    flat = flatten_kv(row, ("event_params", "user_properties"))
    assert flat["event_params"] == {
        "page_location": "https://a.example/",
        "ga_session_id": 1714560000,
        "big": 9223372036854775807,
        "ratio": 0.5,
        "empty": None,
    }
    assert flat["user_properties"] == {"plan": "pro"}
    assert isinstance(flat["other"], list)


@given(st.lists(st.tuples(st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers()))))
def test_flattening_keeps_the_last_value_of_each_key(pairs: list[tuple[str, object]]) -> None:
    items = [
        {"key": k, "value": {"int_value": str(v)} if isinstance(v, int) else {"string_value": v}}
        for k, v in pairs
    ]
    flat = flatten_kv({"p": items}, ("p",))["p"]
    assert flat == {k: v for k, v in pairs}
