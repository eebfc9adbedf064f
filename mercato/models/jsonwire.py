"""Strict JSON: what DESIGN §5 calls malformed before any field is looked at.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``-Infinity`` and silently keeps the last
of two duplicate keys; money must never pass through either. Exponents (``1e3``) are refused too:
no amount in Mercato is written that way. Plain fractions such as ``10.5`` are left to field
validation, which names the field.
"""

import json
from typing import Any

from mercato.models.errors import Malformed


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
        return json.loads(body, parse_constant=_constant, parse_float=_number, object_pairs_hook=_object)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError; Malformed passes through
        raise Malformed(f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise Malformed("the body nests too deeply") from None
