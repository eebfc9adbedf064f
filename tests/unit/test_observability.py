"""Observability in one place: only :mod:`mercato.observability` builds Powertools' Logger, Metrics
and Tracer (or a single metric), and each function's modules share one of each. Read from the
source, so a construction anywhere in the package, even inside a function, is found."""

import ast
from pathlib import Path

import mercato
from mercato import observability

PACKAGE = Path(mercato.__file__).resolve().parent
BUILT_HERE_ONLY = {"Logger", "Metrics", "Tracer", "single_metric"}
OBSERVABILITY = PACKAGE / "observability.py"


def constructions(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """``Name(`` calls of the Powertools builders in ``path``, as ``file:line Name``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
            if name in BUILT_HERE_ONLY:
                found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_only_the_observability_module_builds_loggers_metrics_and_tracers() -> None:
    elsewhere = [
        found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != OBSERVABILITY
        for found in constructions(path)
    ]

    assert elsewhere == []
    assert {found.split()[-1] for found in constructions(OBSERVABILITY)} == BUILT_HERE_ONLY


def test_the_scan_finds_a_construction_hidden_in_a_function(tmp_path: Path) -> None:
    planted = tmp_path / "handler.py"
    planted.write_text("def later():\n    import aws_lambda_powertools as pt\n    return pt.Tracer()\n")

    assert constructions(planted, tmp_path) == ["handler.py:3 Tracer"]


def test_a_function_gets_one_logger_tracer_and_metrics_for_all_its_modules() -> None:
    from mercato.intake.app import logger as app_logger
    from mercato.matcher.handler import logger as matcher_logger

    assert app_logger is observability.logger("intake")
    assert matcher_logger is observability.logger("matcher")
    assert observability.tracer("feed") is observability.tracer("feed")
    assert observability.metrics("feed") is observability.metrics("feed")
    assert observability.metrics("feed").namespace == observability.NAMESPACE == "Mercato"
    assert observability.logger("leaderboard").service == "leaderboard"
