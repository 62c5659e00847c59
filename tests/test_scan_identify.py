"""The scan's identity signatures against their plain statement: the fast paths of
``scan.identify`` (string and integer ids, emails and device ids taken without the token
functions) give byte for byte what every value through the token functions gives."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.engine.reference import reference_identify
from breachdesk.engine.scan import _DEVICE_ROLE, _MAIL, _USER, identify

ROLES = (_USER, _USER, _USER, _MAIL, _DEVICE_ROLE)
EDGES = [" ", "\t", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "@", "$"]
SHAPES = st.sampled_from(
    [
        "502556",
        "9f3bfa0f94bf9e-35a0e83c1ef20f2-148d2208",
        "$device:9f3bfa0f94bf9e-35a0e83c1ef20f2",
        "$device: ",
        "$device:",
        "$device:\xa0d1\u3000",
        "$device:a@b.co",
        "Ann@Example.ORG",
        " bob@example.org ",
        "josé.000005@Example.es",
        "Straße@x.de",
        "STRASSE@X.DE",
        "e\u0301@x.org",
        "a" * 32,
        "F" * 64,
        "g" * 32,
        "a" * 33,
        "$direct",
        "",
    ]
)
STRINGS = st.one_of(
    st.text(max_size=12), st.text(alphabet=st.characters(codec="ascii"), max_size=12), SHAPES
)
# A value glued to an edge character on either side, so every trimming path is taken.
EDGED = st.builds(
    lambda head, text, tail: head + text + tail,
    st.sampled_from(["", *EDGES]),
    STRINGS,
    st.sampled_from(["", *EDGES]),
)
SCALARS = st.one_of(
    SHAPES,
    EDGED,
    st.integers(),
    st.integers(min_value=10**31, max_value=10**32),
    st.integers(min_value=-(10**31), max_value=-(10**30)),
    st.floats(allow_nan=False),
    st.sampled_from([1.0, 17.5, 100005.0]),
    st.booleans(),
    st.none(),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.just({"nested": "x"}))


@settings(max_examples=400)
@given(
    st.tuples(VALUES, VALUES, VALUES, VALUES, VALUES),
    st.sampled_from(["", "mixpanel", "posthog"]),
    st.booleans(),
)
def test_identify_equals_the_token_functions(
    raw: tuple[Any, ...], namespace: str, device_when_equal: bool
) -> None:
    assert identify(ROLES, raw, namespace, device_when_equal) == reference_identify(
        ROLES, raw, namespace, device_when_equal
    )


# few values, so that a combination often gives the same pair twice or three times
FEW = st.sampled_from(["u1", "u2", "$device:d1", "d1", " d1", "ann@x.org", "Ann@X.org", 7, "7"])
FEW_VALUES = st.one_of(st.none(), FEW, st.lists(FEW, max_size=3))


@settings(max_examples=300)
@given(st.tuples(FEW_VALUES, FEW_VALUES, FEW_VALUES, FEW_VALUES, FEW_VALUES), st.booleans())
def test_repeated_and_shared_values_are_one_pair(
    raw: tuple[Any, ...], device_when_equal: bool
) -> None:
    assert identify(ROLES, raw, "posthog", device_when_equal) == reference_identify(
        ROLES, raw, "posthog", device_when_equal
    )
