"""Benchmark: lookalike domains and the message check.

    .venv/bin/python benchmarks/phishing.py --work /tmp/bd-phishing

Measures, in one process (wall and CPU time; the machine is shared, so CPU time is the
steadier figure):
(a) the lookalike set of five official domains: build time (first build, with the TR39
    table and the Public Suffix List loaded, and a second one) and size, per technique;
(b) ``phishing domain`` lookups per second over 300,000 distinct candidates: a quarter from
    the set (half of them in Unicode form), a quarter random unrelated names, a quarter
    subdomains of the official domains, a quarter random subdomains of random names;
(c) message checks per second: genuine notices of a small demo incident (rendered and
    DKIM-signed by notify), the same with the body altered, and unsigned phishing
    messages with links and requests, interleaved.
Targets on this machine: set built in < 5 s, >= 100,000 lookups/s, >= 300 checks/s.
Heavy: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections import Counter
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

OFFICIAL = ["example.com", "acme-bank.ro", "contoso.com", "tailspintoys.co.uk", "fabrikam.com"]


def _timed(call):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _candidates(watch, count: int, rng: random.Random) -> list[str]:  # type: ignore[no-untyped-def]
    letters = string.ascii_lowercase
    found: list[str] = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            item = rng.choice(watch.lookalikes)
            found.append(item.unicode if i % 8 == 0 else item.domain)
        elif kind == 1:
            name = "".join(rng.choice(letters) for _ in range(rng.randint(4, 14)))
            found.append(f"{name}.{rng.choice(['com', 'net', 'org', 'de', 'co.uk', 'ro', 'io'])}")
        elif kind == 2:
            sub = "".join(rng.choice(letters) for _ in range(rng.randint(2, 8)))
            found.append(f"{sub}.{rng.choice(OFFICIAL)}")
        else:
            sub = rng.choice(["login", "secure", "www", "mail", "account"])
            name = "".join(rng.choice(letters) for _ in range(rng.randint(5, 12)))
            found.append(f"{sub}.{name}.com")
    return found


def _workspace(work: Path) -> Path:
    """A small demo incident with its DKIM key and notice plan (built once)."""
    from breachdesk.services import notify
    from breachdesk.services.demo import DemoRequest, run_demo
    from breachdesk.services.notify_plan import plan_notices
    from breachdesk.services.workspace import Workspace

    workspace = work / "demo" / "workspace"
    if not (workspace / "keys" / "dkim").is_dir():
        print("building a small demo incident …", flush=True)
        run_demo(DemoRequest(work / "demo", users=400, events=4000, seed=3))
        with Workspace.open(workspace) as ws:
            notify.ensure_dkim_key(ws)
            plan_notices(ws)
    return workspace


def _phish(i: int) -> bytes:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = f"Example Security <alerts{i}@account-notice-{i % 7}.net>"
    mail["To"] = "reader@example.org"
    mail["Subject"] = "Action required: verify your account"
    mail.set_content(f"Confirm your password at https://login-{i}.verify-now.net/x today.\n")
    mail.add_alternative(
        f'<p>Dear customer,</p><p><a href="https://login-{i}.verify-now.net/x">'
        "https://example.com/security</a></p><p>Enter the verification code we sent.</p>",
        subtype="html",
    )
    return mail.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bd-phishing"))
    parser.add_argument("--lookups", type=int, default=300_000)
    parser.add_argument("--checks", type=int, default=3_000)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    from breachdesk.phishing.classify import Watch

    watch, wall, cpu = _timed(lambda: Watch(OFFICIAL))
    print(f"(a) lookalike set of {len(OFFICIAL)} official domains: {len(watch.lookalikes):,} "
          f"names, first build {wall:.2f} s wall / {cpu:.2f} s CPU")  # fmt: skip
    _, wall, cpu = _timed(lambda: Watch(OFFICIAL))
    print(f"    second build {wall:.2f} s wall / {cpu:.2f} s CPU")
    for technique, n in Counter(x.technique for x in watch.lookalikes).most_common():
        print(f"    {n:>7,}  {technique}")

    candidates = _candidates(watch, args.lookups, random.Random(7))
    verdicts, wall, cpu = _timed(lambda: [watch.classify(c) for c in candidates])
    split = Counter(v.verdict for v in verdicts)
    print(f"(b) {len(candidates):,} lookups: {len(candidates) / wall:,.0f}/s wall, "
          f"{len(candidates) / cpu:,.0f}/s CPU ({dict(split)})")  # fmt: skip

    from breachdesk.services.notify import preview
    from breachdesk.services.phishing import checker
    from breachdesk.services.workspace import Workspace

    with Workspace.open(_workspace(args.work)) as ws:
        genuine = [p.eml.read_bytes() for p in preview(ws, sample=10)]
        message_checker = checker(ws)
    altered = [g.replace(b"We removed", b"We paused!", 1) for g in genuine]
    phishing = [_phish(i) for i in range(10)]
    messages = [m for trio in zip(genuine, altered, phishing, strict=True) for m in trio]
    batch = [messages[i % len(messages)] for i in range(args.checks)]
    results, wall, cpu = _timed(lambda: [message_checker.check(m) for m in batch])
    print(f"(c) {len(batch):,} message checks: {len(batch) / wall:,.0f}/s wall, "
          f"{len(batch) / cpu:,.0f}/s CPU ({dict(Counter(r.verdict for r in results))})")  # fmt: skip
    for name, group in (("genuine", genuine), ("altered", altered), ("phishing", phishing)):
        repeated = group * max(1, args.checks // (3 * len(group)))
        _, wall, cpu = _timed(lambda g=repeated: [message_checker.check(m) for m in g])
        print(f"    {name}: {len(repeated) / cpu:,.0f}/s CPU")


if __name__ == "__main__":
    main()
