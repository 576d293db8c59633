"""What the server tells its operator: a JSON access-log line and Prometheus metrics per request."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass

from prometheus_client import Counter, Gauge, Histogram

access_logger = logging.getLogger("oversight.access")

REQUESTS = Counter(
    "oversight_requests_total",
    "API requests by operation, HTTP status and error code ('' on success).",
    ["operation", "status", "error"],
)
LATENCY = Histogram(
    "oversight_request_seconds",
    "Time from request received to response ready, by operation.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
IN_FLIGHT = Gauge("oversight_requests_in_flight", "API requests being handled now.")
WAITING = Gauge(
    "oversight_requests_waiting",
    "Requests queued for an operation slot (max_concurrent_inference).",
)


@dataclass
class AccessRecord:
    """One request, as the access log and the metrics see it. Never holds request content."""

    request_id: str
    remote: str
    started: float
    operation: str = "-"
    status: int = 200
    error: str = ""
    access_key_id: str = ""
    account_id: str = ""
    bytes_in: int = 0
    bytes_out: int = 0


def configure_access_log() -> None:
    """Send access lines, bare JSON one per line, to stderr."""
    if access_logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False


def finish(record: AccessRecord) -> None:
    """Count the request and write its access line."""
    seconds = time.perf_counter() - record.started
    REQUESTS.labels(record.operation, str(record.status), record.error).inc()
    LATENCY.labels(record.operation).observe(seconds)
    line = asdict(record)
    del line["started"]
    line["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line["duration_ms"] = round(seconds * 1000, 2)
    access_logger.info(json.dumps(line))
