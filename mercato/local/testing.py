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

Each test gets its own stack (its own tables, about 1 s to start, the catalog listed);
``mercato.url`` is the base URL for the game's own HTTP client and ``mercato.token(player)`` a bearer
token for it.
"""

import secrets
from collections.abc import Iterator

import pytest

from mercato.local.stack import EmbeddedStack


@pytest.fixture
def mercato() -> Iterator[EmbeddedStack]:
    """A running embedded stack on 127.0.0.1 with the default catalog, stopped after the test."""
    from mercato.matcher.handler import logger

    logger.setLevel("WARNING")
    with EmbeddedStack(prefix=f"mercato-{secrets.token_hex(4)}") as stack:
        yield stack
