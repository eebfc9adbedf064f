"""A game's own test suite, as a separate project: Mercato installed into its own virtual environment
with pip (from this checkout, offline), its conftest loading the plugin, one test using the
``mercato`` fixture. The inner test's duration, and the whole pytest process's, are printed, not
asserted on."""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = 'pytest_plugins = ["mercato.local.testing"]\n'

GAME_TEST = textwrap.dedent(
    """
    import mercato as installed


    def test_the_house_quotes_and_a_sale_settles(mercato):
        print("mercato imported from", installed.__file__)
        admin = mercato.client("game-server", admin=True)
        admin.deposit("bob", "wheat", 10, "grant-1")
        admin.deposit("alice", "coins", 1_000, "grant-2")

        book = mercato.client("alice").book("kylian-mbappe")  # no drain(): the house already quotes
        assert book["bids"] and book["asks"]

        mercato.client("bob").place("Sell", "wheat", 10, 20)
        mercato.client("alice").place("Buy", "wheat", 10, 20)
        mercato.drain()
        assert mercato.client("bob").balances()["balances"]["coins"]["available"] == 196
    """
)


def install_mercato(project: Path) -> Path:
    """A venv of the project's own (no system site-packages), Mercato pip-installed into it from a
    copy of this checkout without its dependencies or an index; the dependencies (and pip, pytest)
    come from this venv's site-packages through a ``.pth`` line. Returns the venv's python."""
    source = project / "mercato-src"
    shutil.copytree(ROOT / "mercato", source / "mercato", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    venv = project / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    offline = ["--no-deps", "--no-build-isolation", "--no-index", "--disable-pip-version-check"]
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *offline, str(source)],
        check=True,
        capture_output=True,
        cwd=project,
    )
    return python


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("memory", id="memory"),  # the fixture's default: in make test
        pytest.param("moto", id="moto", marks=pytest.mark.slow),  # the whole pipeline: make soak
    ],
)
def test_a_game_project_with_mercato_pip_installed_runs_a_fixture_test(tmp_path: Path, engine: str) -> None:
    # Given a game project with Mercato pip-installed into its own venv
    game = tmp_path / "game"
    game.mkdir()
    python = install_mercato(game)
    (game / "conftest.py").write_text(CONFTEST)
    (game / "test_game.py").write_text(GAME_TEST)

    # When its test suite runs on the engine
    started = time.perf_counter()
    setup, call, teardown = _run_game_tests(python, game, engine)
    process = time.perf_counter() - started

    # Then it passed on the installed copy (checked there), and it says how long the test took
    print(
        f"\nthe game's fixture test on {engine}: {setup + call + teardown:.2f} s in all (setup"
        f" {setup:.2f} s, call {call:.2f} s, teardown {teardown:.2f} s); the game's whole pytest"
        f" process, interpreter start and imports included: {process:.2f} s"
    )


def _run_game_tests(python: Path, game: Path, engine: str) -> tuple[float, float, float]:
    """Run the game's tests with ``--mercato-engine engine``: the test's setup, call and teardown
    durations (the setup includes the session's engine on moto)."""
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "--durations=0",
            "--durations-min=0",
            "--mercato-engine",
            engine,
        ],
        capture_output=True,
        text=True,
        cwd=game,
        timeout=300,
        # The game's venv sees this venv's packages (the .pth line), whose own pytest plugins
        # (hypothesis, schemathesis, xdist) a game would not have: only the conftest's plugin loads.
        env=os.environ | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"mercato imported from {game / '.venv'}" in result.stdout, result.stdout
    phases = {
        line.split()[1]: float(line.split()[0].rstrip("s"))
        for line in result.stdout.splitlines()
        if line.endswith("test_game.py::test_the_house_quotes_and_a_sale_settles")
    }
    setup, call, teardown = (phases.get(phase, 0.0) for phase in ("setup", "call", "teardown"))
    return setup, call, teardown
