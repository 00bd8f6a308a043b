"""The contract's rules as vectorised SQL predicates, shared by both lanes of the bulk path.

Each predicate accepts a subset of what :func:`duckspool.contracts.parse_line`
accepts; ``tests/test_bulk_differential.py`` and ``tests/test_bulk_provenance.py``
hold them to it line by line. The lanes differ only in how they obtain the
values and prove each field's JSON type (``_bulk.py``: rebuilding the line;
``_bulk_read.py``: the JSON text of the field); the value rules are these:

``id``
    A UUID: lowercase, hyphenated (the form ``uuid.UUID`` prints).
``event_type``
    The naming standard: ``EVENT_TYPE_PATTERN``, at most ``EVENT_TYPE_MAX_LENGTH``.
``ids``
    ``sessionId``, ``userId``, ``correlationId`` (and ``productId`` unless null):
    1 to ``ID_MAX_LENGTH`` characters, no control characters; also no ``"`` or
    ``\\`` (those need escapes, which neither lane decodes itself). Each lane
    checks this its own way, without a regex (DuckDB's cost is per row).
``timestamp``
    A timezone-aware ISO-8601 time already in UTC (``Z``), whole seconds or
    exactly six fractional digits (DuckDB keeps microseconds, so nothing is
    rounded), every field in range and a real calendar date.
``schema_version``
    The current version; other versions need their converter (the authority).
``payload``
    A JSON object, with no NaN/Infinity (``invalid_json``), no number DuckDB
    would keep as text beyond a double or 64-bit integer (``number_out_of_range``,
    ``unstorable``: conservatively, no run of 19 digits and no 3-digit
    exponent), no nested objects, fewer than two ``[`` before a ``]`` (no
    nested arrays; the contract's parser limits nesting depth).
"""

from __future__ import annotations

from dataclasses import dataclass

from duckspool.contracts import CURRENT_SCHEMA_VERSION, EVENT_TYPE_MAX_LENGTH, ID_MAX_LENGTH
from duckspool.contracts._naming import EVENT_TYPE_PATTERN

__all__ = [
    "FieldValues",
    "length_within",
    "rebuilt_ids_rule",
    "text_payload_rule",
    "value_checks",
]

_UUID = "'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'"
_TIME = (
    "'(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{6})?Z'"
)
# One pass over the payload, conservatively: NaN/Infinity, runs of 19+ digits,
# 3-digit exponents, escaped surrogates, a nested object (a "{" after the first
# character), a nested array (a second "[" before a "]").
_PAYLOAD_REFUSED = (
    "'NaN|Infinity|[0-9]{19}|[eE][+]?[0-9]{3}|\\\\u[dD][89a-fA-F]|.\\{|\\[[^\\]]*\\['"
)
_EVENT_TYPE = "'" + EVENT_TYPE_PATTERN.removeprefix("^").removesuffix("$") + "'"


@dataclass(frozen=True)
class FieldValues:
    """SQL expressions for each envelope value as a lane decoded it (all VARCHAR but ``ts``).

    ``schema_version`` is the field's JSON text as written (``1``, never ``"1"``:
    the lane proves that); ``ts`` is ``timestamp`` cast to ``TIMESTAMPTZ``
    (NULL if it is not a real time); ``ids_rule`` and ``payload_rule`` are the
    lane's SQL for the ``ids`` and ``payload`` rules (see :func:`rebuilt_ids_rule`
    and :func:`text_payload_rule`).
    """

    id: str
    event_type: str
    session_id: str
    user_id: str
    product_id: str
    correlation_id: str
    timestamp: str
    ts: str
    schema_version: str
    ids_rule: str
    payload_rule: str


def length_within(text: str, least: int, most: int) -> str:
    """SQL: ``text`` holds ``least`` to ``most`` characters, its bytes measured first.

    ``strlen`` is free, ``length`` a pass over the string; a text of at most
    ``most`` bytes holds at most ``most`` characters. The lower bound is taken in
    bytes, so it is exact only where ``least`` bytes mean ``least`` characters:
    ``least`` 1, or 3 for a JSON string's text (two quotes and a character).
    """
    return (
        f"CASE WHEN strlen({text}) <= {most} THEN strlen({text}) >= {least} "
        f"ELSE length({text}) <= {most} END"
    )


def rebuilt_ids_rule(session_id: str, user_id: str, product_id: str, correlation_id: str) -> str:
    """The ``ids`` rule for values the text lane's ``wire_form`` check has proven unescaped.

    The rebuilt line writes each id between quotes as decoded, so it equals the
    line only if the line held no escape in it: no ``"``, ``\\`` or control
    character (JSON must escape those). DEL, which JSON need not escape, is
    looked for itself; lengths are measured in bytes first (DuckDB's
    ``length`` counts characters and costs a pass over the string).
    """
    ids = (session_id, user_id, correlation_id)
    return "\n    AND ".join(
        [
            *(length_within(expr, 1, ID_MAX_LENGTH) for expr in ids),
            f"({product_id} IS NULL OR {length_within(product_id, 1, ID_MAX_LENGTH)})",
            f"NOT contains(concat({', '.join((*ids, product_id))}), chr(127))",
        ]
    )


def text_payload_rule(payload: str) -> str:
    """SQL for the ``payload`` rule over the payload's JSON text as the line holds it."""
    return f"starts_with({payload}, '{{') AND NOT regexp_matches({payload}, {_PAYLOAD_REFUSED})"


def value_checks(v: FieldValues) -> str:
    """SQL: every value rule above holds (NULL where a value is missing; coalesce it)."""
    return "\n    AND ".join(
        [
            f"regexp_full_match({v.id}, {_UUID})",
            f"strlen({v.event_type}) <= {EVENT_TYPE_MAX_LENGTH}",
            f"regexp_full_match({v.event_type}, {_EVENT_TYPE})",
            v.ids_rule,
            f"regexp_full_match({v.timestamp}, {_TIME})",
            f"{v.ts} IS NOT NULL",
            f"{v.schema_version} = '{CURRENT_SCHEMA_VERSION}'",
            v.payload_rule,
        ]
    )
