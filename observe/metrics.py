"""Every Prometheus metric phigate records, in one place (docs: docs/operations.md).

A label's values come from a fixed set: routes, HTTP statuses, the schema's root fields,
decisions, roles, event names. None is ever a user, a patient, a client's free text or a PHI
value (tests/test_metrics.py checks every sample of a workload).

Recording always happens (an increment costs well under a microsecond); only exposing them is
a setting (`PHIGATE_METRICS_ADDRESS`). Under `phigate serve` with metrics on, each worker
writes its values to files in `PROMETHEUS_MULTIPROC_DIR` and the supervisor serves their sum
(observe/exposition.py): gauges say how they combine across workers.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AUDIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

HTTP_REQUESTS = Counter(
    "phigate_http_requests", "HTTP requests served, by route and status", ["route", "status"]
)
HTTP_SECONDS = Histogram(
    "phigate_http_request_seconds",
    "Time from a request's arrival to its response's end, by route",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_REQUESTS = Counter(
    "phigate_graphql_operations",
    "GraphQL operations by operation (type.rootField) and outcome (ok, error)",
    ["operation", "outcome"],
)
GRAPHQL_SECONDS = Histogram(
    "phigate_graphql_operation_seconds",
    "Time to parse, validate, execute and audit a GraphQL operation",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
AUDIT_WRITE_SECONDS = Histogram(
    "phigate_audit_write_seconds",
    "Time to write one request's PHI access records",
    buckets=AUDIT_BUCKETS,
)
AUDIT_WRITE_FAILURES = Counter(
    "phigate_audit_write_failures",
    "Audit writes that failed (the request's PHI was withheld), by kind (read, change, event)",
    ["kind"],
)
DECISIONS = Counter(
    "phigate_phi_decisions",
    "PHI field decisions recorded, by decision (ALLOW, MASK, DEIDENTIFY, DENY)",
    ["decision"],
)
EXPORT_BUDGET_REFUSALS = Counter(
    "phigate_export_budget_refusals",
    "Responses withheld because they took the actor past the export budget, by role",
    ["role"],
)
AUTH_EVENTS = Counter(
    "phigate_auth_events",
    "Security events by kind: LOGIN_FAILED, LOCKOUT, MFA_FAILED, LOGIN_OK...",
    ["event"],
)
SEALING_FAILURES = Counter(
    "phigate_audit_sealing_failures", "Background sealing runs that failed (retried)"
)
REPORT_TALLY_FAILURES = Counter(
    "phigate_report_tally_failures", "Background report tally runs that failed (retried)"
)
REPORT_TALLY_PATIENTS = Counter(
    "phigate_report_tally_patients",
    "Patients whose report tally counts changed, taken in from write records",
)
UNSEALED_ROWS = Gauge(
    "phigate_audit_unsealed_rows",
    "Audit rows not yet sealed into the hash chain (counted up to 1,000,000)",
    multiprocess_mode="livemax",
)
OLDEST_UNSEALED = Gauge(
    "phigate_audit_oldest_unsealed_seconds",
    "Age of the oldest audit row not yet sealed (0: none)",
    multiprocess_mode="livemax",
)
DB_POOL = Gauge(
    "phigate_db_pool_connections",
    "PostgreSQL pool connections by state (in_use, idle, max), summed over workers",
    ["state"],
    multiprocess_mode="livesum",
)
