"""Lookalike domains: the generated watch list, the verdict on candidates (tables of
real-world-shaped lookalikes and of names that are not), punycode and Unicode forms alike,
TR39 skeletons, the Public Suffix List shortcut, and the two commands."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.phishing.classify import Watch
from breachdesk.phishing.lookalikes import DNSTWIST_FUZZERS, generate
from breachdesk.phishing.names import HostError, host, ip_literal, registrable
from breachdesk.phishing.skeleton import look_alikes, skeleton

runner = CliRunner()
OFFICIAL = ["example.com", "acme-bank.ro", "contoso.com", "wellsfargo.com"]

# (candidate, official it imitates); Cyrillic, Greek and Latin look-alike letters included
LOOKALIKES = [
    ("examp1e.com", "example.com"),
    ("EXAMP1E.COM.", "example.com"),
    ("exarnple.com", "example.com"),  # rn for m
    ("ex\u0430mple.com", "example.com"),  # Cyrillic а
    ("\u0435\u0445\u0430m\u0440l\u0435.com", "example.com"),  # Cyrillic е х а р е
    ("ex\u00e4mple.com", "example.com"),
    ("\u00e9xample.com", "example.com"),
    ("example.net", "example.com"),
    ("example.co", "example.com"),
    ("example.com.ro", "example.com"),
    ("example-security.com", "example.com"),
    ("example-login.net", "example.com"),
    ("secure-example.com", "example.com"),
    ("login-example.support", "example.com"),
    ("example.com.account-verify.net", "example.com"),
    ("example-com.org", "example.com"),
    ("examplesupport.com", "example.com"),
    ("exampel.com", "example.com"),
    ("exmaple.com", "example.com"),
    ("exampl.com", "example.com"),
    ("examplle.com", "example.com"),
    ("wxample.com", "example.com"),
    ("example1.com", "example.com"),
    ("ex-ample.com", "example.com"),
    ("exa.mple.com", "example.com"),
    ("examples.com", "example.com"),
    ("exampla.com", "example.com"),
    ("login.examp1e.com", "example.com"),
    ("vvellsfargo.com", "wellsfargo.com"),  # vv for w
    ("wellsfarqo.com", "wellsfargo.com"),
    ("wells-fargo.com", "wellsfargo.com"),
    ("wellsfargo-login.com", "wellsfargo.com"),
    ("wellsfarg\u043e.com", "wellsfargo.com"),  # Cyrillic о
    ("acrne-bank.ro", "acme-bank.ro"),
    ("\u0430\u0441me-bank.ro", "acme-bank.ro"),  # Cyrillic а с
    ("acme-bank.com", "acme-bank.ro"),
    ("acmebank.ro", "acme-bank.ro"),
    ("acme-bank-secure.com", "acme-bank.ro"),
    ("c\u03bfnt\u03bfs\u03bf.com", "contoso.com"),  # Greek omicrons
    ("c0ntoso.com", "contoso.com"),
    ("contoso.support", "contoso.com"),
    ("contosso.com", "contoso.com"),
    ("\u0441ontoso.com", "contoso.com"),  # Cyrillic с
]
OURS = [
    "example.com", "login.example.com", "mail.example.com", "a.b.c.example.com",
    "EXAMPLE.COM.", "www.acme-bank.ro", "security.contoso.com",
]  # fmt: skip
UNRELATED = [
    # other brands
    "google.com", "microsoft.com", "paypal.com", "amazon.co.uk", "github.io", "mixpanel.com",
    "bankofamerica.com", "wikipedia.org",
    # common words near the official names
    "sample.com", "simple.net", "examine.com", "exemplary.org", "support.com", "login.net",
    "secure.org", "bank.ro", "banking.ro", "contour.com", "context.com", "consolation.org",
    "fargo.com", "wells.com", "acne.com",
]  # fmt: skip


@pytest.fixture(scope="module")
def watch() -> Watch:
    return Watch(OFFICIAL)


@pytest.mark.parametrize(("candidate", "imitated"), LOOKALIKES)
def test_lookalikes_are_named_with_what_they_imitate(
    watch: Watch, candidate: str, imitated: str
) -> None:
    verdict = watch.classify(candidate)
    assert (verdict.verdict, verdict.official) == ("lookalike", imitated), verdict
    assert verdict.technique


@pytest.mark.parametrize(("candidate", "imitated"), LOOKALIKES)
def test_the_rules_alone_catch_them_too(candidate: str, imitated: str) -> None:
    """Without the generated set, the skeleton, edit-distance, suffix and brand rules still
    find each one (the set adds the technique's name)."""
    verdict = Watch(OFFICIAL, lookalikes=[]).classify(candidate)
    assert (verdict.verdict, verdict.official) == ("lookalike", imitated), verdict


@pytest.mark.parametrize("candidate", OURS)
def test_our_own_domains_and_subdomains_are_official(watch: Watch, candidate: str) -> None:
    verdict = watch.classify(candidate)
    assert verdict.verdict == "official" and verdict.technique is None


@pytest.mark.parametrize("candidate", UNRELATED)
def test_unrelated_names_are_not_lookalikes(watch: Watch, candidate: str) -> None:
    assert watch.classify(candidate).verdict == "unrelated"


@pytest.mark.parametrize(("candidate", "_"), [c for c in LOOKALIKES if not c[0].isascii()])
def test_punycode_and_unicode_forms_get_one_answer(watch: Watch, candidate: str, _: str) -> None:
    punycode = idna.encode(candidate, uts46=True).decode()
    unicode_form, ascii_form = watch.classify(candidate), watch.classify(punycode)
    assert unicode_form.verdict == ascii_form.verdict == "lookalike"
    assert unicode_form.ascii == ascii_form.ascii == punycode.lower()
    assert unicode_form.unicode == ascii_form.unicode


def test_names_that_are_not_host_names_are_refused(watch: Watch) -> None:
    for bad in ("", "exa mple.com", "examp|e.com", "-example.com", "a" * 64 + ".com",
                "xn--zzzz-.com", "ex\u2603mple.com"):  # fmt: skip
        with pytest.raises(HostError):
            watch.classify(bad)
    # UTS #46 drops a zero-width space as a browser does: the name is example.com itself
    assert watch.classify("exa\u200bmple.com").ascii == "example.com"


def test_skeletons_follow_tr39() -> None:
    assert skeleton("examp1e") == skeleton("ex\u0430mple") == skeleton("exarnple")
    assert skeleton("example") == skeleton("EXAMPLE") == skeleton("ex\u00e4mple")
    assert skeleton("vvellsfargo") == skeleton("wellsfargo")
    assert "\u0430" in look_alikes("a") and "\u03bf" in look_alikes("o")  # Cyrillic а, Greek ο


def test_the_watch_list_covers_every_technique() -> None:
    found = generate(["example.com"])
    techniques = {x.technique for x in found}
    assert set(DNSTWIST_FUZZERS) - {"cyrillic", "various"} <= techniques
    assert {"confusable", "brand"} <= techniques
    names = {x.domain: x for x in found}
    cyrillic = idna.encode("ex\u0430mple.com").decode()
    greek = idna.encode("ex\u03b1mple.com").decode()
    assert names[cyrillic].unicode == "ex\u0430mple.com"
    assert names[greek].technique in ("confusable", "homoglyph")
    for expected in ("exarnple.com", "example-security.com", "example-login.net",
                     "secure-example.com", "example.net", "examp1e.com"):  # fmt: skip
        assert expected in names, expected
    assert "example.com" not in names
    assert all(not d.endswith(".example.com") for d in names)
    assert [x.domain for x in found] == sorted(names)


def test_several_official_domains_never_flag_each_other() -> None:
    found = generate(["example.com", "example.net"])
    assert not {"example.com", "example.net"} & {x.domain for x in found}
    watch = Watch(["example.com", "example.net"], found)
    assert watch.classify("example.net").verdict == "official"


def test_importing_dnstwist_leaves_the_socket_timeout_alone() -> None:
    before = socket.getdefaulttimeout()
    generate(["contoso.com"])
    assert socket.getdefaulttimeout() == before


def test_ip_literals_in_every_spelling() -> None:
    for literal in ("192.0.2.1", "[2001:db8::1]", "3221225985", "0xc0.0.2.1", "0300.0.2.1",
                    "192.0.2.1."):  # fmt: skip
        assert ip_literal(literal), literal
    for name in ("example.com", "1.example.com", "x1", "0xz.com"):
        assert not ip_literal(name), name


_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_PSL = PublicSuffixList()
_TAILS = ["com", "co.uk", "kobe.jp", "city.kobe.jp", "ck", "www.ck", "blogspot.com",
          "compute.amazonaws.com", "s3.dualstack.us-east-1.amazonaws.com", "invalid", "github.io",
          "xn--55qx5d.cn", "com.ro"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_LABEL, max_size=4), st.sampled_from(_TAILS))
def test_registrable_domains_agree_with_the_public_suffix_list(
    labels: list[str], tail: str
) -> None:
    name = ".".join([*labels, tail])
    assert registrable(name) == (_PSL.privatesuffix(name) or name)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_a_host_or_refused_in_one_way(text: str) -> None:
    try:
        found = host(text)
    except HostError:
        return
    assert found.ascii.isascii() and found.ascii == found.ascii.lower()
    assert host(found.unicode) == found and host(found.ascii) == found


def test_lookalikes_command_writes_the_watch_list(tmp_path: Path) -> None:
    out = tmp_path / "watch.csv"
    result = runner.invoke(app, ["phishing", "lookalikes", "example.com", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and list(rows[0]) == ["domain", "unicode", "technique", "official"]
    assert [r["domain"] for r in rows] == sorted(r["domain"] for r in rows)
    assert {"homoglyph", "confusable", "brand", "tld-swap", "dictionary"} <= {
        r["technique"] for r in rows
    }
    assert f"{len(rows):,} lookalikes in" in result.stdout
    bad = runner.invoke(app, ["phishing", "lookalikes", "exa mple.com", "--out", str(out)])
    assert bad.exit_code == 2 and "not a host name" in bad.output


def test_domain_command_answers_per_candidate(tmp_path: Path) -> None:
    args = ["phishing", "domain", "examp1e.com", "login.example.com", "google.com",
            "xn--exmple-cua.com", "--official", "example.com,acme-bank.ro", "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output  # a lookalike among them
    import json

    answers = json.loads(result.stdout)
    assert answers == [
        {"domain": "examp1e.com", "verdict": "lookalike", "technique": "homoglyph",
         "ascii": "examp1e.com", "unicode": "examp1e.com"},
        {"domain": "login.example.com", "verdict": "official", "technique": None,
         "ascii": "login.example.com", "unicode": "login.example.com"},
        {"domain": "google.com", "verdict": "unrelated", "technique": None,
         "ascii": "google.com", "unicode": "google.com"},
        {"domain": "xn--exmple-cua.com", "verdict": "lookalike", "technique": "homoglyph",
         "ascii": "xn--exmple-cua.com", "unicode": "exämple.com"},
    ]  # fmt: skip
    clean = runner.invoke(app, ["phishing", "domain", "google.com", "--official", "example.com"])
    assert clean.exit_code == 0 and "google.com: unrelated" in clean.stdout
    shown = runner.invoke(app, ["phishing", "domain", "xn--exmple-cua.com", "--official",
                                "example.com"])  # fmt: skip
    assert (
        "xn--exmple-cua.com (exämple.com: U+00E4 LATIN SMALL LETTER A WITH DIAERESIS at 3):"
        " lookalike homoglyph of example.com" in " ".join(shown.stdout.split())
    )
    # a confusable given in Unicode is shown by its punycode first, its foreign letter named
    cyrillic = runner.invoke(app, ["phishing", "domain", "ex\u0430mple.com", "--official",
                                   "example.com"])  # fmt: skip
    text = " ".join(cyrillic.stdout.split())
    assert text.startswith(
        "xn--exmple-4nf.com (ex\u0430mple.com: U+0430 CYRILLIC SMALL LETTER A at 3)"
    )
    bad = runner.invoke(app, ["phishing", "domain", "exa mple.com", "--official", "example.com"])
    assert bad.exit_code == 2 and "candidate" in bad.output
