"""A function's settings, read from its environment once, at cold start (STYLE rule 5).

Each function has one pydantic model whose fields name their environment variables
(``validation_alias``; the CDK app sets each by the name :func:`env_var` reads from the model), and
an optional ``tables`` field for the exchange's table names (``MERCATO_<TABLE>_TABLE``).
:func:`read_settings` validates the whole environment at once and raises :class:`SettingsError`
naming every missing or invalid variable; it never repeats a value (one may be a secret).
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mercato.resources import TABLES
from mercato.storage.names import TableNames

Settings = TypeVar("Settings", bound=BaseModel)


class SettingsError(ValueError):
    """A function's environment lacks a variable it needs, or holds one it cannot use."""


def read_settings(model: type[Settings], env: Mapping[str, str], **built: Any) -> Settings:
    """``model`` from ``env`` (an empty variable counts as unset), with ``built`` values for the
    fields that are read some other way (``limits``: several variables into one model)."""
    given: dict[str, Any] = {name: value for name, value in env.items() if value}
    problems: list[str] = []
    if "tables" in model.model_fields:
        missing = [spec.env_var for spec in TABLES if spec.env_var not in given]
        problems += [f"{name}: missing" for name in missing]
        if not missing:
            given["tables"] = TableNames.from_env(given)
    try:
        settings = model.model_validate(given | built)
    except ValidationError as error:
        problems += [_problem(detail) for detail in error.errors() if detail["loc"] != ("tables",)]
    if problems:
        raise SettingsError(f"{model.__name__} from the environment: {'; '.join(problems)}")
    return settings


def env_var(model: type[BaseModel], field: str) -> str:
    """The environment variable a settings field is read from (the CDK app sets it by this name)."""
    alias = model.model_fields[field].validation_alias
    if not isinstance(alias, str):
        raise TypeError(f"{model.__name__}.{field} names no environment variable")
    return alias


def _problem(detail: Any) -> str:
    where = ".".join(str(part) for part in detail["loc"])
    message = "missing" if detail["type"] == "missing" else str(detail["msg"])
    return f"{where}: {message}" if where else message
