"""A pytest plugin for games that test against Mercato: the embedded stack as a fixture.

In the game's ``conftest.py``::

    pytest_plugins = ["mercato.local.testing"]

    def test_a_sale_pays_the_seller(mercato):
        mercato.client("game-server", admin=True).deposit("bob", "wheat", 10, "grant-1")
        mercato.client("game-server", admin=True).deposit("alice", "coins", 1_000, "grant-2")
        mercato.client("bob").place("Sell", "wheat", 10, 20)
        mercato.client("alice").place("Buy", "wheat", 10, 20)
        mercato.drain()  # every order so far is matched and settled
        assert mercato.client("bob").balances()["balances"]["coins"]["available"] == 196

Each test gets its own stack: its own tables (so its own players, balances, books and trades), the
default catalog listed and every footballer's house ladder already on the book. The session starts
one moto server and prepares the catalog once (``mercato_engine``, about 1 s); each test's stack
then starts from a copy of it in a small fraction of a second. ``mercato.url`` is the base URL for
the game's own HTTP client and ``mercato.token(player)`` a bearer token for it.
"""

import secrets
from collections.abc import Iterator

import pytest

from mercato.local.stack import EmbeddedStack, SharedEngine


@pytest.fixture(scope="session")
def mercato_engine() -> Iterator[SharedEngine]:
    """The session's moto server with the catalog prepared once; every ``mercato`` stack runs on it."""
    from mercato.matcher.handler import logger

    logger.setLevel("WARNING")
    with SharedEngine() as engine:
        yield engine


@pytest.fixture
def mercato(mercato_engine: SharedEngine) -> Iterator[EmbeddedStack]:
    """A running embedded stack on 127.0.0.1 with the default catalog listed and the house quoting
    every footballer, on tables of its own, stopped (and its tables dropped) after the test."""
    with EmbeddedStack(shared=mercato_engine, prefix=f"mercato-{secrets.token_hex(4)}") as stack:
        yield stack
