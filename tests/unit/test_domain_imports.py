"""The domain knows nothing of AWS: no module of it imports boto3 or botocore, or the modules that
name tables and items (``mercato.resources``, ``mercato.storage``), directly or through another
module of the package. Read from the source (no module is imported), so a lazy import inside a
function counts too."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import mercato

PACKAGE = Path(mercato.__file__).resolve().parent
DOMAIN = (
    "mercato.models",
    *(f"mercato.models.{path.stem}" for path in sorted((PACKAGE / "models").glob("*.py"))),
    "mercato.matcher.book",
    "mercato.matcher.house",
    "mercato.testing.reference",
    "mercato.matcher.transactions",
    "mercato.matcher.settlement",
    "mercato.matcher.ports",
    "mercato.matcher.service",
    "mercato.intake.service",
)
"""The models, the matching engine and its reference, the settlement planner and its values, the
matcher's port and the two services."""
FORBIDDEN = ("boto3", "botocore", "mercato.resources", "mercato.storage")


def _source(module: str) -> Path | None:
    if module == "mercato":  # ``from mercato import observability``: the package itself
        return PACKAGE / "__init__.py"
    relative = Path(*module.split(".")[1:])
    for candidate in (PACKAGE / relative.with_suffix(".py"), PACKAGE / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str) -> Iterator[str]:
    source = _source(module)
    if source is None:
        return
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield node.module
            yield from (
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _source(f"{node.module}.{alias.name}")
            )


def forbidden_paths(module: str) -> list[str]:
    """Each chain of imports from ``module`` that reaches a forbidden module."""
    found: list[str] = []
    seen: set[str] = set()
    stack = [[module]]
    while stack:
        chain = stack.pop()
        name = chain[-1]
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            found.append(" -> ".join(chain))
            continue
        if name in seen or not name.startswith("mercato"):
            continue
        seen.add(name)
        stack.extend([*chain, imported] for imported in _imports(name))
    return found


@pytest.mark.parametrize("module", DOMAIN)
def test_a_domain_module_imports_nothing_of_aws_or_of_the_tables(module: str) -> None:
    assert _source(module) is not None, f"{module} is not in the package: update DOMAIN"
    assert forbidden_paths(module) == []


def test_the_check_finds_an_import_of_the_tables_through_another_module() -> None:
    """The adapter imports what the domain must not: the check sees it, directly and transitively."""
    assert "mercato.local.faults -> botocore.exceptions" in forbidden_paths("mercato.local.faults")
    assert (
        "mercato.matcher.dynamo -> mercato.matcher.dynamo_settlement -> mercato.storage.names"
        in forbidden_paths("mercato.matcher.dynamo")
    )
