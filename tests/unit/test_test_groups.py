"""The suite's own scheduling: tests marked with one ``xdist_group`` run on one worker under ``make
test``'s ``--dist loadgroup`` (pytest 9.2 stopped reading the id xdist 3.8 sets; the suite's conftest
sets the one it reads)."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_tests_marked_with_one_group_run_on_one_worker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given eight tests in one group, collected first, and eight without a group
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest("from tests.conftest import pytest_collection_finish  # noqa: F401\n")
    pytester.makepyfile(
        test_a_grouped=(
            "import pytest\n"
            "pytestmark = pytest.mark.xdist_group('together')\n"
            "@pytest.mark.parametrize('n', range(8))\n"
            "def test_grouped(n):\n"
            "    assert n != 3\n"
        ),
        test_b_loose=(
            "import pytest\n@pytest.mark.parametrize('n', range(8))\ndef test_loose(n):\n    pass\n"
        ),
    )
    # When they run on two workers as make test runs them
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider")
    # Then every grouped test ran, all on the same worker, and reports name them by their own ids
    result.assert_outcomes(passed=15, failed=1)
    grouped = [
        line.split()[0] for line in result.outlines if line.startswith("[gw") and "test_grouped" in line
    ]
    assert len(grouped) == 8
    assert len(set(grouped)) == 1, grouped
    assert "FAILED test_a_grouped.py::test_grouped[3] - assert" in result.stdout.str()
    assert "@together" not in result.stdout.str()
