"""The relay's Prometheus counters, in a registry of its own (one per relay app).

Labels are bounded: the vendor ids of vendors.yaml and fixed reason codes, never a field
or event name an SDK chose.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class RelayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "breachdesk_relay_requests", "Requests from SDKs, by outcome",
            ["vendor", "outcome"], registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "breachdesk_relay_rejected_requests", "Requests refused (400, 413), by reason",
            ["vendor", "reason"], registry=r,
        )  # fmt: skip
        self.events = Counter(
            "breachdesk_relay_events", "Events, by outcome (received, forwarded, spooled)",
            ["vendor", "outcome"], registry=r,
        )  # fmt: skip
        self.dropped_events = Counter(
            "breachdesk_relay_dropped_events", "Events not forwarded, by reason",
            ["vendor", "reason"], registry=r,
        )  # fmt: skip
        self.dropped_fields = Counter(
            "breachdesk_relay_dropped_fields", "Fields not forwarded, by reason",
            ["vendor", "reason"], registry=r,
        )  # fmt: skip
        self.upstream = Counter(
            "breachdesk_relay_upstream_requests", "Requests to vendors, by outcome",
            ["vendor", "outcome"], registry=r,
        )  # fmt: skip
        self.queue = Gauge(
            "breachdesk_relay_queue_batches", "Batches waiting in memory", ["vendor"],
            registry=r,
        )  # fmt: skip
        self.spool_bytes = Gauge(
            "breachdesk_relay_spool_bytes", "Bytes spooled on disk", ["vendor"], registry=r
        )
        self.spool_full = Gauge(
            "breachdesk_relay_spool_full", "1 while the spool bound is hit", ["vendor"],
            registry=r,
        )  # fmt: skip
        self.cut = Gauge(
            "breachdesk_relay_vendor_cut", "1 when the vendor is cut off", ["vendor"], registry=r
        )
        self.config_errors = Counter(
            "breachdesk_relay_config_errors", "vendors.yaml reloads refused", registry=r
        )
