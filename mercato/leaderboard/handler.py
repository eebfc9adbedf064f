"""The leaderboard rollup Lambda, run by a schedule: one :meth:`Rollup.run`."""

import time
from typing import Any

import boto3

from mercato import observability
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.leaderboard.rollup import Rollup
from mercato.leaderboard.settings import LeaderboardSettings

logger = observability.logger("leaderboard")
tracer = observability.tracer("leaderboard")
settings = LeaderboardSettings.from_env()
client = boto3.resource("dynamodb").meta.client
store = DynamoLeaderboardStore(client, settings.leaderboard_table, settings.tables)
rollup = Rollup(store, store, clock_ms=lambda: time.time_ns() // 1_000_000)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = rollup.run()
    logger.info("rolled up", version=result.version, players=result.players, snapshot=result.snapshot_taken)
    return {"version": result.version, "players": result.players}
