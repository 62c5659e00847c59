"""Resisting the phishing that follows a breach: the lookalike domains to watch and the
verdict on a candidate domain (``lookalikes``, ``classify``), and "is this message really
from us?" (``message``), checked offline against the workspace's own DKIM keys.

The engine does no I/O (as dnstwist's ``Fuzzer`` apart from its ``Scanner``): the
services read workspaces and files and look names up in DNS.
"""

from breachdesk.phishing.classify import DomainVerdict, Watch
from breachdesk.phishing.lookalikes import Lookalike, generate
from breachdesk.phishing.message import MessageCheck, MessageChecker, Policy

__all__ = [
    "DomainVerdict",
    "Lookalike",
    "MessageCheck",
    "MessageChecker",
    "Policy",
    "Watch",
    "generate",
]
