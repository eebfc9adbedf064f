"""Strict JSON: what DESIGN §5 calls malformed before any field is looked at.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``-Infinity`` and silently keeps the last
of two duplicate keys; money must never pass through either. Exponents (``1e3``) are refused too:
no amount in Mercato is written that way. Plain fractions such as ``10.5`` are left to field
validation, which names the field. Nesting deeper than :data:`MAX_DEPTH` is refused as well.
"""

import json
from typing import Any, Final

from mercato.models.errors import Malformed

MAX_DEPTH: Final = 32
"""The deepest nesting of arrays and objects accepted. Mercato's bodies nest two levels; a body that
parses here a few frames short of Python's recursion limit would exhaust the stack of the parser
that reads it again (Powertools parses the body once more to validate it) and answer 500."""


def _constant(name: str) -> Any:
    raise Malformed(f"{name} is not a number Mercato accepts")


def _number(token: str) -> float:
    if "e" in token or "E" in token:
        raise Malformed(f"numbers are written without exponents: {token}")
    return float(token)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise Malformed(f"duplicate key {key!r}")
        result[key] = value
    return result


def check_json(body: str | bytes) -> Any:
    """Parse ``body`` strictly; raise :class:`Malformed` with a human message if it is not acceptable.
    Bytes must be UTF-8 without a byte-order mark (RFC 8259 §8.1), not UTF-16 or UTF-32."""
    if isinstance(body, bytes):
        if body.startswith(b"\xef\xbb\xbf"):
            raise Malformed("the body starts with a byte-order mark; send plain UTF-8")
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("the body is not UTF-8") from None
    try:
        value = json.loads(body, parse_constant=_constant, parse_float=_number, object_pairs_hook=_object)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError; Malformed passes through
        raise Malformed(f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise Malformed(f"the body nests deeper than {MAX_DEPTH} levels") from None
    if _deeper_than(value, MAX_DEPTH):
        raise Malformed(f"the body nests deeper than {MAX_DEPTH} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` levels (without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if level > limit:
            return True
        pending.extend((child, level + 1) for child in children)
    return False
