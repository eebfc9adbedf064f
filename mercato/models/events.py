"""Market events that travel the pipeline with a material's orders."""

from typing import Annotated

from pydantic import Field

from mercato.models.base import RequestModel, Timestamp, WireModel
from mercato.models.ids import ClientToken
from mercato.models.money import MaterialId

Minute = Annotated[int, Field(strict=True, ge=0, le=150)]
"""The match minute, extra time and stoppage included."""


class GoalEvent(RequestModel):
    """``POST /events/goals``: a goal by the footballer ``material``, applied once per ``eventId``."""

    event_id: ClientToken
    material: MaterialId
    match_id: ClientToken
    minute: Minute


class GoalRecord(WireModel):
    """A goal on a footballer's timeline: posted at ``postedAt``, counted in F once ``applied``."""

    event_id: ClientToken
    match_id: ClientToken
    minute: Minute
    posted_at: Timestamp
    applied: bool
