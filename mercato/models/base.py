"""The base of every wire type: camelCase on the wire, strict, unknown fields refused."""

from typing import Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A request or response body of DESIGN §5.

    Requests are parsed with :meth:`parse`, which accepts only the camelCase names; responses are
    dumped with :meth:`wire`. Python code builds instances with the snake_case names.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )

    @classmethod
    def parse(cls, body: str | bytes) -> Self:
        """Validate a JSON body by its wire (camelCase) names only."""
        return cls.model_validate_json(body, by_alias=True, by_name=False)

    def wire(self) -> dict[str, object]:
        """The JSON-ready wire form."""
        return self.model_dump(mode="json")
