"""``GET /fills`` pages by the player's fill numbers, so a page must never pass a number it has not
seen: where a read sees a later fill before an earlier one (a read region's replica applies a
transaction's items one at a time, in no promised order), a page that ran on past the gap would move
the cursor beyond the missing fill, which would then never be delivered (a reviewer's find)."""

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from mercato.intake.ports import IntakeStore
from mercato.intake.service import Intake
from mercato.models.errors import Invalid
from mercato.models.history import PlayerFill
from mercato.models.orders import Side


def _fill(seq: int) -> PlayerFill:
    return PlayerFill(
        seq=seq,
        fill_id=f"f{seq}",
        trade_id=f"t{seq}",
        order_id=f"0190a0b0-0000-7000-8000-{seq:012d}",
        material="wheat",
        side=Side.BUY,
        price=10 + seq,
        quantity=1,
        fee=0,
        executed_at=datetime(2026, 11, 24, tzinfo=UTC),
    )


class Replica:
    """A player's fill records as a lagging replica shows them: ``visible`` of ``written``."""

    def __init__(self, written: int, visible: set[int]) -> None:
        self.written, self.visible = written, visible

    def fills_after(self, player_id: str, after: int, limit: int) -> list[PlayerFill]:
        return [_fill(seq) for seq in sorted(self.visible) if seq > after][:limit]

    def fill_sequence(self, player_id: str) -> int:
        return self.written


def _intake(store: Any) -> Intake:
    return Intake(cast(IntakeStore, store))


def test_a_page_stops_before_a_fill_not_yet_visible_and_the_next_poll_delivers_it() -> None:
    # Given alice's fills 1 to 4, of which the replica shows 1, 3 and 4 so far
    replica = Replica(written=4, visible={1, 3, 4})

    # When she polls, and polls again once fill 2 has arrived
    first = _intake(replica).fills("alice", "0", 50)
    replica.visible.add(2)
    second = _intake(replica).fills("alice", first.cursor, 50)

    # Then the first page stops at 1, and the second brings 2, 3 and 4: each fill once, in order
    assert ([f.seq for f in first.fills], first.cursor) == ([1], "1")
    assert ([f.seq for f in second.fills], second.cursor) == ([2, 3, 4], "4")


def test_a_page_whose_first_fill_is_missing_is_empty_and_keeps_the_cursor() -> None:
    replica = Replica(written=3, visible={2, 3})

    page = _intake(replica).fills("alice", "0", 50)

    assert (page.fills, page.cursor) == ([], "0")


def test_a_cursor_the_api_returned_is_never_refused_while_the_fill_counter_lags_its_fills() -> None:
    """The counter (``FILLSEQ``) is written in the same transaction as the fills, so a replica can
    show fills 3 and 4 before the counter says 4: the next poll with cursor 4 was refused as beyond
    the player's fills (``422 bad_cursor``; a reviewer's find)."""
    # Given a replica showing fills 1 to 4 while its counter still reads 2
    replica = Replica(written=2, visible={1, 2, 3, 4})

    # When alice polls, then polls again with the cursor she was given
    first = _intake(replica).fills("alice", "0", 50)
    second = _intake(replica).fills("alice", first.cursor, 50)

    # Then the second poll is an empty page at the same cursor
    assert ([f.seq for f in first.fills], first.cursor) == ([1, 2, 3, 4], "4")
    assert (second.fills, second.cursor) == ([], "4")


def test_a_cursor_beyond_every_fill_is_still_refused() -> None:
    replica = Replica(written=2, visible={1, 2})

    with pytest.raises(Invalid) as refused:
        _intake(replica).fills("alice", "5", 50)

    assert refused.value.code == "bad_cursor"
