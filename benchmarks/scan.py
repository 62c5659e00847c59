"""Benchmark: how well and how fast the scan finds secrets.

    .venv/bin/python benchmarks/scan.py [--work /tmp/bd-scan] [--corpus ../shared/corpora/gitleaks-samples.jsonl]
                                        [--detect-secrets] [--sample-mb 100]

1. External accuracy on the gitleaks authors' labelled samples (not tuned on), per family we
   cover: each sample is embedded as a value of a realistic Mixpanel event, breachdesk assess
   runs over the file, and findings are read back by line. Samples that hold no secret at all
   (a bare keyword, a regex source) and samples labelled both ways are counted apart.
2. Planted accuracy: keys of every family, with valid structure and checksums, planted in
   URLs, referrers, free text and numeric fields of an export, plus decoys that must not fire.
3. With --detect-secrets: detect-secrets (installed into a throwaway venv) on a sample of the
   planted export, side by side with breachdesk: seconds, MB/s, precision and recall.
Heavy: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import random
import re
import string
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BD = str(Path(sys.executable).parent / "breachdesk")

# gitleaks rule id -> the breachdesk rule(s) that cover that family
FAMILIES = {
    "anthropic-api-key": {"anthropic-api-key"},
    "anthropic-admin-api-key": {"anthropic-api-key"},
    "aws-access-token": {"aws-access-key-id"},
    "github-pat": {"github-classic-token"},
    "github-oauth": {"github-classic-token"},
    "github-app-token": {"github-classic-token"},
    "github-refresh-token": {"github-classic-token"},
    "github-fine-grained-pat": {"github-fine-grained-pat"},
    "gitlab-pat": {"gitlab-token"},
    "gitlab-pat-routable": {"gitlab-token"},
    "gitlab-ptt": {"gitlab-token"},
    "gitlab-rrt": {"gitlab-token"},
    "slack-bot-token": {"slack-token"},
    "slack-user-token": {"slack-token"},
    "slack-legacy-bot-token": {"slack-token"},
    "slack-legacy-token": {"slack-token"},
    "slack-legacy-workspace-token": {"slack-token"},
    "slack-config-access-token": {"slack-token"},
    "slack-config-refresh-token": {"slack-token"},
    "slack-webhook-url": {"slack-webhook"},
    "stripe-access-token": {"stripe-secret-key"},
    "gcp-api-key": {"google-api-key"},
    "openai-api-key": {"openai-api-key", "openai-project-key-long"},
    "private-key": {"private-key"},
    "jwt-base64": {"jwt"},
}


def run_assess(path: Path, ws: Path) -> dict[int, set[str]]:
    """Findings of breachdesk assess on ``path``: line -> rule ids."""
    subprocess.run(
        [BD, "assess", str(path), "--out", str(ws), "--json", "--replace"],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    found: dict[int, set[str]] = defaultdict(set)
    with (ws / "findings.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            found[int(row["line"])].add(row["rule"])
    return found


def holds_a_secret(text: str) -> bool:
    """False for a bare keyword, a URL prefix or a regex source (gitleaks keeps those as
    keyword samples): no run of 16+ token characters that is not a host name."""
    if any(meta in text for meta in ("[a-z", "[A-Z", "[0-9", "{1", "{2", "{3", "{4", "\\d", "(?")):
        return False
    runs = re.findall(r"[A-Za-z0-9_+=.-]{16,}", text)
    return any(not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", run) for run in runs)


def external(corpus: Path, work: Path) -> None:
    rows = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    labels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        labels[(row["rule"], row["text"])].add(row["label"])
    path = work / "gitleaks-events.jsonl"
    kept = []
    with path.open("w") as fh:
        for row in rows:
            if row["rule"] not in FAMILIES:
                continue
            kept.append(row)
            event = {"event": "Search", "properties": {"distinct_id": "u1", "time": 1760000000,
                     "search_query": row["text"]}}  # fmt: skip
            fh.write(json.dumps(event) + "\n")
    found = run_assess(path, work / "ws-gitleaks")
    # a false positive of one gitleaks rule that is a true positive of a sibling rule mapped to
    # the same breachdesk rule (an Anthropic admin key under the API-key rule) is no error here
    family_tps: dict[frozenset[str], set[str]] = defaultdict(set)
    for row in rows:
        if row["rule"] in FAMILIES and row["label"] == "true_positive":
            family_tps[frozenset(FAMILIES[row["rule"]])].add(row["text"])
    siblings = {fam: family_tps[frozenset(ours)] for fam, ours in FAMILIES.items()}
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line, row in enumerate(kept, start=1):
        fam = row["rule"]
        hit = bool(found.get(line, set()) & FAMILIES[fam])
        s = stats[fam]
        if len(labels[(fam, row["text"])]) > 1:
            s["conflicting"] += 1
        elif row["label"] == "false_positive" and row["text"] in siblings[fam]:
            s["sibling"] += 1
        elif row["label"] == "true_positive" and not holds_a_secret(row["text"]):
            s["tp_no_secret"] += 1
        elif row["label"] == "true_positive":
            s["tp"] += 1
            s["tp_found"] += hit
        else:
            s["fp"] += 1
            s["fp_fired"] += hit
    print("\n1. gitleaks samples (external), per family")
    print(
        f"{'gitleaks rule':34} {'TP':>4} {'found':>6} {'recall':>7} {'FP':>4} {'fired':>6} {'FP rate':>8} {'no secret':>9} {'conflict':>8}"
    )
    totals: dict[str, int] = defaultdict(int)
    for fam in sorted(stats):
        s = stats[fam]
        for key, value in s.items():
            totals[key] += value
        recall = f"{s['tp_found'] / s['tp']:.0%}" if s["tp"] else "—"
        fp_rate = f"{s['fp_fired'] / s['fp']:.0%}" if s["fp"] else "—"
        print(
            f"{fam:34} {s['tp']:>4} {s['tp_found']:>6} {recall:>7} {s['fp']:>4} {s['fp_fired']:>6} {fp_rate:>8} {s['tp_no_secret']:>9} {s['conflicting']:>8} {s['sibling']:>7}"
        )
    recall = totals["tp_found"] / totals["tp"] if totals["tp"] else 0
    fp_rate = totals["fp_fired"] / totals["fp"] if totals["fp"] else 0
    print(
        f"{'all covered families':34} {totals['tp']:>4} {totals['tp_found']:>6} {recall:>7.1%} {totals['fp']:>4} {totals['fp_fired']:>6} {fp_rate:>8.1%} {totals['tp_no_secret']:>9} {totals['conflicting']:>8} {totals['sibling']:>7}"
    )


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b62(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out.rjust(6, "0")


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in string.digits:
        digits = body + d
        total = sum((int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c)
                    for i, c in enumerate(reversed(digits)))  # fmt: skip
        if total % 10 == 0:
            return digits
    raise AssertionError


def planted_secrets(rng: random.Random) -> list[tuple[str, str]]:
    """(rule, secret) of every family, structurally valid."""

    def rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    body30 = rand(30)
    jwt_head = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').rstrip(b"=").decode()
    jwt_body = (
        base64.urlsafe_b64encode(
            json.dumps({"sub": "u", "iss": "https://auth.example", "exp": 1760086400}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    npm_body = rand(30)
    card = _luhn_complete("4", 16, rng)
    cpf = [rng.randrange(10) for _ in range(9)]
    for n in (9, 10):
        cpf.append(sum(d * (n + 1 - i) for i, d in enumerate(cpf[:n])) * 10 % 11 % 10)
    cnp12 = f"1{rng.randrange(50, 99):02d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1, 53):02d}{rng.randrange(1000):03d}"
    cnp_total = sum(int(d) * int(w) for d, w in zip(cnp12, "279146358279", strict=True)) % 11
    dni = rng.randrange(10_000_000, 99_999_999)
    iban_body = f"{rng.randrange(10**8):08d}{rng.randrange(10**10):010d}"
    check = 98 - int("".join(str(int(c, 36)) for c in iban_body + "DE00")) % 97
    return [
        ("openai-api-key", f"sk-proj-{rand(20)}T3BlbkFJ{rand(20)}"),
        (
            "anthropic-api-key",
            f"sk-ant-api03-{rand(93, string.ascii_letters + string.digits + '-_')}AA",
        ),
        ("aws-access-key-id", "AKIA" + rand(16, string.ascii_uppercase + "234567")),
        ("github-classic-token", f"ghp_{body30}{_b62(zlib.crc32(body30.encode()))}"),
        ("github-fine-grained-pat", f"github_pat_{rand(22)}_{rand(59)}"),
        ("gitlab-token", f"glpat-{rand(20)}"),
        (
            "slack-token",
            f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-{rand(24)}",
        ),
        (
            "slack-webhook",
            f"https://hooks.slack.com/services/T{rand(10, string.ascii_uppercase + string.digits)}/B{rand(10, string.ascii_uppercase + string.digits)}/{rand(24)}",
        ),
        ("stripe-secret-key", f"sk_live_{rand(32)}"),
        ("google-api-key", f"AIza{rand(35, string.ascii_letters + string.digits + '-_')}"),
        ("twilio-api-key", "SK" + rand(32, "0123456789abcdef")),
        ("sendgrid-api-key", f"SG.{rand(22)}.{rand(43)}"),
        ("npm-token", f"npm_{npm_body}{_b62(zlib.crc32(npm_body.encode()))}"),
        ("jwt", f"{jwt_head}.{jwt_body}.{rand(43, string.ascii_letters + string.digits + '-_')}"),
        (
            "payment-card",
            " ".join(card[i : i + 4] for i in range(0, 16, 4)),
        ),
        ("iban", f"DE{check:02d}{iban_body}"),
        (
            "us-ssn",
            f"{rng.randrange(100, 665)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
        ),
        ("br-cpf", "{}{}{}.{}{}{}.{}{}{}-{}{}".format(*cpf)),
        ("ro-cnp", f"CNP {cnp12}{1 if cnp_total == 10 else cnp_total}"),
        ("es-dni-nie", f"DNI {dni}{'TRWAGMYFPDXBNJZSQVHLCKE'[dni % 23]}"),
        ("url-secret-param", rand(40)),
        ("url-userinfo-password", rand(18)),
    ]


DECOYS = [
    "3f2b8c1e-9a4d-4e7b-8c2d-1a2b3c4d5e6f",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "sk-short", "sk-proj-", "AKIA1234567890abcdef", "4111 1111 1111 1112", "1732712345678",
    "1760000000123", "123456789012", "https://app.example.com/settings?token=true",
    "https://app.example.com/?utm_source=newsletter&utm_campaign=spring2026&utm_medium=email",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "ghp_" + "a" * 36, "order-4111111111111111-shipped", "536221234",
]  # fmt: skip


def planted(work: Path, n_events: int, rng: random.Random) -> tuple[Path, dict[int, str], set[int]]:
    path = work / "planted.jsonl"
    truth: dict[int, str] = {}
    decoys: set[int] = set()
    hosts = ["https://app.devplatform.example", "https://docs.devplatform.example"]
    with path.open("w") as fh:
        for line in range(1, n_events + 1):
            props: dict[str, object] = {
                "distinct_id": str(100000 + line % 5000), "time": 1760000000 + line,
                "$current_url": f"{rng.choice(hosts)}/projects/{line % 97}",
                "$referrer": "https://www.google.com/", "$os": "Linux", "mp_lib": "web",
                "$insert_id": f"{rng.getrandbits(64):016x}", "mp_processing_time_ms": 1760000000000 + line,
            }  # fmt: skip
            if line % 50 == 7:
                rule, secret = rng.choice(planted_secrets(rng))
                where = rng.choice(["url", "referrer", "text", "number"])
                if rule == "url-secret-param":
                    props["$current_url"] = f"{hosts[0]}/reset?reset_token={secret}"
                elif rule == "url-userinfo-password":
                    props["$referrer"] = f"https://deploy:{secret}@git.devplatform.example/r.git"
                elif rule == "payment-card" and where == "number":
                    props["card_number"] = int(secret.replace(" ", ""))
                elif (
                    rule in ("us-ssn", "br-cpf", "ro-cnp", "es-dni-nie", "iban", "payment-card")
                    or where == "text"
                ):
                    props["support_note"] = f"customer wrote: my {secret} please help"
                elif where == "referrer":
                    props["$referrer"] = f"{hosts[1]}/callback#token={secret}"
                else:
                    props["$current_url"] = f"{hosts[0]}/connect?api_key={secret}"
                truth[line] = rule
            elif line % 50 == 23:
                props["support_note"] = rng.choice(DECOYS)
                decoys.add(line)
            fh.write(json.dumps({"event": "Page View", "properties": props}) + "\n")
    return path, truth, decoys


def accuracy(found: dict[int, set[str]], truth: dict[int, str]) -> tuple[float, float, int, int]:
    tp = sum(1 for line, rule in truth.items() if rule in found.get(line, set()))
    reported = sum(len(rules) for rules in found.values())
    correct = sum(1 for line, rules in found.items() for r in rules if truth.get(line) == r)
    precision = correct / reported if reported else 1.0
    return tp / len(truth), precision, tp, reported


def detect_secrets(work: Path, sample: Path, truth: dict[int, str]) -> None:
    venv = work / "ds-venv"
    if not (venv / "bin" / "detect-secrets").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "detect-secrets"], check=True)
    start = time.perf_counter()
    out = subprocess.run(
        [str(venv / "bin" / "detect-secrets"), "scan", "--all-files", sample.name],
        capture_output=True,
        check=True,
        cwd=sample.parent,  # inside a git work tree it would scan tracked files only
    )
    seconds = time.perf_counter() - start
    results = [r for found in json.loads(out.stdout)["results"].values() for r in found]
    lines = {r["line_number"] for r in results}
    tp = sum(1 for line in truth if line in lines)
    precision = len(lines & set(truth)) / len(lines) if lines else 1.0
    mb = sample.stat().st_size / 1e6
    print(
        f"detect-secrets: {seconds:.1f} s ({mb / seconds:.1f} MB/s), recall {tp / len(truth):.1%}, precision {precision:.1%} (by line)"
    )
    start = time.perf_counter()
    found = run_assess(sample, work / "ws-sample")
    seconds = time.perf_counter() - start
    recall, precision, _, _ = accuracy(found, truth)
    print(
        f"breachdesk:     {seconds:.1f} s ({mb / seconds:.1f} MB/s), recall {recall:.1%}, precision {precision:.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bd-scan"))
    parser.add_argument(
        "--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "gitleaks-samples.jsonl"
    )
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--detect-secrets", action="store_true")
    parser.add_argument("--sample-mb", type=int, default=100)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    external(args.corpus, args.work)
    rng = random.Random(3)
    path, truth, decoys = planted(args.work, args.events, rng)
    found = run_assess(path, args.work / "ws-planted")
    recall, precision, tp, reported = accuracy(found, truth)
    fired = sum(1 for line in decoys if found.get(line))
    print(f"\n2. planted: {len(truth)} secrets in {args.events:,} events; found {tp} (recall {recall:.1%}); "
          f"{reported} findings reported (precision {precision:.1%}); decoys fired: {fired} of {len(decoys)}")  # fmt: skip
    per_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line, rule in truth.items():
        per_rule[rule][0] += 1
        per_rule[rule][1] += rule in found.get(line, set())
    missed = {rule: n - hit for rule, (n, hit) in per_rule.items() if n != hit}
    print(f"   missed by rule: {missed or 'none'}")
    if args.detect_secrets:
        print(f"\n3. side by side on a {args.sample_mb} MB sample")
        sample = args.work / "sample.jsonl"
        budget = args.sample_mb * 1_000_000
        with path.open("rb") as src, sample.open("wb") as dst:
            size = 0
            sample_truth = {}
            for line, raw in enumerate(src, start=1):
                if size + len(raw) > budget:
                    break
                dst.write(raw)
                size += len(raw)
                if line in truth:
                    sample_truth[line] = truth[line]
        detect_secrets(args.work, sample, sample_truth)


if __name__ == "__main__":
    main()
