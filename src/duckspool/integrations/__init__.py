"""Ready-made events for auth, exchange state transitions and job runs.

None of these helpers raises because telemetry failed; ids not passed come
from :func:`duckspool.telemetry_context`.
"""

from duckspool.integrations._emit import clean_payload, emit_safely
from duckspool.integrations.auth import (
    SessionExpiryAdapter,
    record_login,
    record_logout,
    record_session_expired,
)
from duckspool.integrations.exchange import Exchange, ExchangeStateMachine, InvalidTransition
from duckspool.integrations.jobs import JobRun, attach_job_listener, track_job, track_job_async

__all__ = [
    "Exchange",
    "ExchangeStateMachine",
    "InvalidTransition",
    "JobRun",
    "SessionExpiryAdapter",
    "attach_job_listener",
    "clean_payload",
    "emit_safely",
    "record_login",
    "record_logout",
    "record_session_expired",
    "track_job",
    "track_job_async",
]
