"""Each function's source asset is its allow-list: nothing that runs only off Lambda (the embedded
stack, the emulators, the test helpers, the benchmarks, the in-memory exchange) and nothing that
imports moto or a test library. Read from the files; ``test_template.py`` imports each handler from
its asset alone."""

import ast
from pathlib import Path

import pytest

from cdk import assets

OFF_LAMBDA_MODULES = tuple(never.replace("/", ".") for never in assets.NEVER_SHIPPED)
OFF_LAMBDA_LIBRARIES = ("moto", "pytest", "hypothesis", "schemathesis")


def imported_modules(source: Path) -> set[str]:
    """Every module a file imports, at any depth (a lazy import inside a function counts)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("function", sorted(assets.FUNCTION_SOURCES))
def test_no_asset_holds_or_imports_code_that_runs_only_off_lambda(function: str) -> None:
    asset = assets.source(function)
    shipped = [path.relative_to(asset) for path in asset.rglob("*") if path.is_file()]
    assert sorted(shipped) == assets.shipped_files(function)
    assert [path for path in shipped if assets.runs_off_lambda(path)] == []
    offending = {
        str(path): sorted(
            name
            for name in imported_modules(asset / path)
            if name.startswith(OFF_LAMBDA_MODULES) or name.split(".")[0] in OFF_LAMBDA_LIBRARIES
        )
        for path in shipped
        if path.suffix == ".py"
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_check_finds_a_lazy_import_of_an_emulator(tmp_path: Path) -> None:
    module = tmp_path / "handler.py"
    module.write_text("def handler():\n    from mercato.emulators import moto_atomic\n")
    assert "mercato.emulators.moto_atomic" in imported_modules(module)


def test_an_allow_list_that_takes_in_off_lambda_code_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(assets.FUNCTION_SOURCES, "matcher", ("mercato",))
    with pytest.raises(ValueError, match=r"runs only off Lambda: .*mercato/emulators/moto_atomic\.py"):
        assets.shipped_files("matcher")


def test_an_allow_list_entry_that_does_not_exist_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(assets.FUNCTION_SOURCES, "matcher", ("mercato/matcher/nothing.py",))
    with pytest.raises(ValueError, match="does not exist"):
        assets.shipped_files("matcher")


def test_a_function_without_an_allow_list_is_refused() -> None:
    with pytest.raises(ValueError, match="no source allow-list for function 'pricing'"):
        assets.shipped_files("pricing")


def test_a_module_file_brings_the_package_markers_above_it() -> None:
    shipped = assets.shipped_files("intake")
    assert Path("mercato/leaderboard/ranking.py") in shipped
    assert Path("mercato/leaderboard/__init__.py") in shipped
    assert Path("mercato/__init__.py") in shipped
    assert Path("mercato/leaderboard/rollup.py") not in shipped
