"""Typed domain errors. Each carries a stable machine ``code``; intake maps the class to HTTP once.

:class:`StateMoved` and :class:`Busy` are what a storage port reports when a write cannot apply; the
storage edge (:mod:`mercato.storage.errors`) is the one place that turns AWS error codes into them.
"""


class StateMoved(Exception):
    """A conditional write found the state changed since it was read: read again and re-plan."""


class Busy(Exception):
    """Throttled, or in conflict with another transaction: retry the same write after a pause."""


class ExchangeError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Malformed(ExchangeError):
    """The request is not well-formed JSON (NaN, Infinity, an exponent, a duplicate key included)."""

    code = "malformed_json"


class TooLarge(ExchangeError):
    code = "body_too_large"


class Unauthenticated(ExchangeError):
    code = "unauthenticated"


class Forbidden(ExchangeError):
    code = "forbidden"


class NotFound(ExchangeError):
    code = "not_found"


class Conflict(ExchangeError):
    code = "conflict"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


class Invalid(ExchangeError):
    """A well-formed request whose fields are out of range or inconsistent."""

    code = "invalid_request"


class Throttled(ExchangeError):
    """Too many requests: DynamoDB's throttling passed through, or the caller's rate limit."""

    code = "throttled"

    def __init__(self, message: str, *, code: str | None = None, retry_after_seconds: int = 1) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(ExchangeError):
    """The storage could not be reached, or failed on its side, after boto3's own retries. Whether a
    write applied is not known (a timeout may follow a commit), so only an idempotent retry is safe:
    a write resent with its ``clientOrderId``, ``depositId`` or ``withdrawalId``."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class MethodNotAllowed(ExchangeError):
    """The path exists, but not with this method; ``allow`` lists the methods it serves."""

    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: list[str]) -> None:
        super().__init__(message)
        self.allow = allow


class UnsupportedMediaType(ExchangeError):
    """A body declared as something other than JSON."""

    code = "unsupported_media_type"
