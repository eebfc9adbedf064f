"""The bases of every wire type: camelCase on the wire, strict numbers, unknown fields refused."""

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A body of DESIGN §5 or a record the exchange keeps: Python code builds it by its snake_case
    names, the wire sees camelCase (:meth:`wire`). Money and ids are strict by their types."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready wire form."""
        return self.model_dump(mode="json")


class RequestModel(WireModel):
    """A request body: accepted by its wire (camelCase) names only, so ``price_per_unit`` is an unknown
    field rather than a second spelling of ``pricePerUnit``."""

    model_config = ConfigDict(validate_by_name=False)

    @classmethod
    def parse(cls, body: str | bytes) -> Self:
        """Validate a JSON body."""
        return cls.model_validate_json(body)


def _iso_8601_only(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and not _a_number(value)):
        return value  # pydantic reads a numeric string as Unix seconds or milliseconds: refused too
    raise ValueError("a timestamp is an ISO 8601 string with a time zone, e.g. 2026-06-11T18:00:00Z")


def _a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]
"""An instant with its time zone; numbers (Unix seconds) are refused as ambiguous."""
