"""A pytest plugin for games that test against Mercato: the embedded stack as a fixture.

In the game's ``conftest.py``::

    pytest_plugins = ["mercato.local.testing"]

and in one of its test modules (``test_market.py``; pytest collects no tests from a conftest)::

    def test_a_sale_pays_the_seller(mercato):
        mercato.client("game-server", admin=True).deposit("bob", "wheat", 10, "grant-1")
        mercato.client("game-server", admin=True).deposit("alice", "coins", 1_000, "grant-2")
        mercato.client("bob").place("Sell", "wheat", 10, 20)
        mercato.client("alice").place("Buy", "wheat", 10, 20)
        mercato.drain()  # every order so far is matched and settled
        assert mercato.client("bob").balances()["balances"]["coins"]["available"] == 196

Each test gets its own stack (so its own players, balances, books and trades) with the default
catalog listed and every footballer's house ladder already on the book. ``mercato.url`` is the base
URL for the game's own HTTP client and ``mercato.token(player)`` a bearer token for it;
``mercato.rollup()`` brings the leaderboard up to date (it is otherwise rolled up every 10 s).

The stack runs on the in-memory engine by default (:mod:`mercato.local.memory_stack`: the same
services over the in-memory exchange, a stack in a fraction of a second). ``--mercato-engine moto``
(or ``mercato_engine = moto`` in the ini file) runs each test's stack on moto through the whole
emulated pipeline instead (stream, pipe, Kinesis, mapping): the session starts one moto server and
prepares the catalog once (``mercato_engine``), and each test's stack starts from a copy of it.
"""

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from mercato.local.stack import EmbeddedStack

if TYPE_CHECKING:  # moto is imported only when the moto engine is asked for
    from mercato.local.shared_engine import SharedEngine

ENGINES = ("memory", "moto")
OPTION = "--mercato-engine"
INI = "mercato_engine"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION, choices=ENGINES, default=None, help="the mercato fixture's engine (default: memory)"
    )
    parser.addini(INI, "the mercato fixture's engine: memory (default) or moto", default="memory")


def _engine(config: pytest.Config) -> str:
    """The engine asked for: the command line's, else the ini file's, else memory."""
    chosen = config.getoption(OPTION, default=None)
    if chosen is None:
        try:
            chosen = config.getini(INI)
        except ValueError:  # the plugin was loaded after the ini options were read
            chosen = "memory"
    if chosen not in ENGINES:
        raise pytest.UsageError(f"{INI} must be one of {', '.join(ENGINES)}, not {chosen!r}")
    return str(chosen)


@pytest.fixture(scope="session")
def mercato_engine() -> Iterator["SharedEngine"]:
    """The session's moto server with the catalog prepared once (the moto engine's stacks run on it)."""
    from mercato.local.shared_engine import SharedEngine
    from mercato.matcher.handler import logger

    logger.setLevel("WARNING")
    with SharedEngine() as engine:
        yield engine


@pytest.fixture
def mercato(request: pytest.FixtureRequest) -> Iterator[EmbeddedStack]:
    """A running embedded stack on 127.0.0.1 with the default catalog listed and the house quoting
    every footballer, on storage of its own, stopped after the test."""
    if _engine(request.config) == "moto":
        shared = request.getfixturevalue("mercato_engine")
        stack = EmbeddedStack(engine="moto", shared=shared, prefix=f"mercato-{secrets.token_hex(4)}")
    else:
        from mercato.matcher.handler import logger

        logger.setLevel("WARNING")
        stack = EmbeddedStack(engine="memory")
    with stack:
        yield stack
