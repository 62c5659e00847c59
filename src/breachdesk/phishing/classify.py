"""Is a domain one of ours, a lookalike of one of ours, or unrelated? Answered in
microseconds from a precomputed set of lookalikes and four rules:

1. official: the name is an official domain or lies under one (``login.example.com``);
2. known: the name, or a domain it lies under, is in the generated set (its technique);
3. rules on the registrable label against each official brand label: the same label under
   another suffix (``tld-swap``), the same TR39 skeleton (``confusable``), one edit away
   (two for names of nine letters or more: ``edit-distance``), the brand inside any label
   or across the labels (``brand``: ``example-login.net``, ``example.com.verify.net``);
4. anything else is unrelated.

Punycode and Unicode forms of a name get the same answer: both are read into their ASCII
(punycode) form first, with IDNA 2008.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import OSA

from breachdesk.phishing.lookalikes import Lookalike, generate
from breachdesk.phishing.names import ascii_host, host, registrable, unicode_of, within
from breachdesk.phishing.skeleton import host_skeleton, skeleton

Verdict = Literal["official", "lookalike", "unrelated"]
MIN_BRAND = 3  # shorter brand labels are inside too many unrelated names
MIN_EDITS = 5  # a brand label this long or longer: one edit away is a lookalike
TWO_EDITS = 9  # … and this long: two edits


@dataclass(frozen=True)
class DomainVerdict:
    """The answer for one candidate: ``domain`` as given, the verdict, the technique of a
    lookalike, the official domain it imitates or lies under, and its two forms."""

    domain: str
    verdict: Verdict
    technique: str | None
    official: str | None
    ascii: str
    unicode: str


@dataclass(frozen=True)
class _Brand:
    official: str
    label: str
    shown: str
    skeleton: str
    edits: int


def _brand(official: str) -> _Brand:
    base = registrable(official)
    label = base.partition(".")[0]
    shown = host(label).unicode
    edits = 2 if len(shown) >= TWO_EDITS else 1 if len(shown) >= MIN_EDITS else 0
    return _Brand(official, label, shown, skeleton(shown), edits)


class Watch:
    """The official domains and their lookalikes, ready to classify candidates."""

    def __init__(self, official: Iterable[str], lookalikes: Sequence[Lookalike] | None = None):
        domains = sorted({host(d).ascii for d in official})
        if not domains:
            raise ValueError("at least one official domain is needed")
        self.official = frozenset(domains)
        found = generate(domains) if lookalikes is None else lookalikes
        # nothing under an official domain is a lookalike, whatever list was given
        self.lookalikes = [x for x in found if within(x.domain, self.official) is None]
        # one walk up a name's suffixes finds an official domain or a known lookalike
        self._index: dict[str, Lookalike | str] = {x.domain: x for x in self.lookalikes}
        self._index.update((d, d) for d in domains)
        self._by_unicode = {x.unicode: x for x in self.lookalikes if x.unicode != x.domain}
        self._brands = [_brand(d) for d in domains]
        self._by_label = {b.label: b.official for b in reversed(self._brands)}
        self._by_skeleton = {b.skeleton: b.official for b in reversed(self._brands)}
        self._near = [b for b in self._brands if b.edits]
        self._near_skeletons = [b.skeleton for b in self._near]
        self._near_shown = [b.shown for b in self._near]
        self._short = [b for b in self._brands if MIN_BRAND <= len(b.skeleton) < MIN_EDITS]
        # a long brand anywhere in the name, across its dots and hyphens too (ex-ample.net)
        long = {b.skeleton.replace("-", ""): b.official for b in reversed(self._brands)
                if len(b.skeleton) >= MIN_EDITS}  # fmt: skip
        self._long = long
        self._inside = re.compile("|".join(map(re.escape, long))) if long else None

    def classify(self, candidate: str) -> DomainVerdict:
        """The verdict for ``candidate``; :class:`~breachdesk.phishing.names.HostError`
        when it is not a host name."""
        given = candidate.strip()
        # a known lookalike typed in Unicode needs no IDNA encoding (the slowest step)
        known = None if given.isascii() else self._by_unicode.get(given.lower().rstrip("."))
        ascii_name = known.domain if known is not None else ascii_host(given)
        suffix = ascii_name
        while True:
            hit = self._index.get(suffix)
            if hit is not None:
                if isinstance(hit, str):
                    return DomainVerdict(given, "official", None, hit, ascii_name,
                                         unicode_of(ascii_name))  # fmt: skip
                shown = hit.unicode if suffix == ascii_name else unicode_of(ascii_name)
                return DomainVerdict(given, "lookalike", hit.technique, hit.official,
                                     ascii_name, shown)  # fmt: skip
            dot = suffix.find(".")
            if dot < 0:
                break
            suffix = suffix[dot + 1 :]
        shown = unicode_of(ascii_name)
        rule = self._rules(ascii_name, shown)
        if rule is None:
            return DomainVerdict(given, "unrelated", None, None, ascii_name, shown)
        return DomainVerdict(given, "lookalike", rule[0], rule[1], ascii_name, shown)

    def _rules(self, ascii_name: str, shown: str) -> tuple[str, str] | None:
        base = registrable(ascii_name)
        label = base.partition(".")[0]
        found = self._by_label.get(label)
        if found is not None:
            return "tld-swap", found
        depth = base.count(".") + 1
        labels = shown.split(".")
        shown_label = labels[-depth] if len(labels) >= depth else label
        # dots map to themselves: the skeleton of the name is its labels' skeletons
        whole = host_skeleton(shown) if shown.isascii() else skeleton(shown)
        skeletons = whole.split(".")
        label_skeleton = skeletons[-depth] if len(skeletons) >= depth else skeleton(label)
        found = self._by_skeleton.get(label_skeleton)
        if found is not None:
            return "confusable", found
        near = self._edited(label_skeleton, shown_label)
        if near is not None:
            return "edit-distance", near
        if self._inside is not None:
            match = self._inside.search(whole.replace(".", "").replace("-", ""))
            if match is not None:
                return "brand", self._long[match.group()]
        for brand in self._short:
            for part in skeletons:
                if part == brand.skeleton or brand.skeleton in part.split("-"):
                    return "brand", brand.official
        return None

    def _edited(self, label_skeleton: str, shown_label: str) -> str | None:
        """The official domain whose brand label is within its allowed edits of the label
        (its skeleton or as shown); one rapidfuzz call per form, not one per brand."""
        for text, choices in (
            (label_skeleton, self._near_skeletons),
            (shown_label, self._near_shown),
        ):
            if not choices:
                continue
            for _, distance, i in process.extract(
                text, choices, scorer=OSA.distance, score_cutoff=2, limit=None
            ):
                if distance <= self._near[i].edits:
                    return self._near[i].official
        return None
