"""The shared Spiris request budget in the single table: one atomic counter per (endpoint, window).

Item `PK=BUDGET#{endpoint}`, `SK=MINUTE#{yyyymmddHHMM}` (`…HHMMSS` for windows shorter than a minute),
`count`, `expires_at` (TTL). Slots are
taken with `ADD count :slots` guarded by `count <= limit - slots`, so concurrent workers can never overshoot.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from ..fetch.budget import RequestBudget
from .aws import TableAdapter


class DynamoMinuteCounter(TableAdapter):
    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int, slots: int = 1) -> bool:
        if slots > limit:
            return False
        try:
            self._table.update_item(
                Key={"PK": f"BUDGET#{endpoint}", "SK": f"MINUTE#{minute}"},
                UpdateExpression="ADD #count :slots SET expires_at = if_not_exists(expires_at, :expires)",
                ConditionExpression="attribute_not_exists(#count) OR #count <= :most",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={":slots": slots, ":most": limit - slots, ":expires": expires_at},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def count(self, endpoint: str, minute: str) -> int:
        item = self._table.get_item(
            Key={"PK": f"BUDGET#{endpoint}", "SK": f"MINUTE#{minute}"}, ConsistentRead=True
        ).get("Item")
        return int(item["count"]) if item else 0


def dynamo_request_budget(
    table_name: str,
    limit_per_minute: int = 600,
    *,
    window_seconds: int = 60,
    max_wait_seconds: float = 300.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> RequestBudget:
    """The budget all workers share; `budget.acquire(path)` / `budget.before_request(path)`. Waiting
    longer than `max_wait_seconds` for a slot raises BudgetExhausted."""
    return RequestBudget(
        DynamoMinuteCounter(table_name), limit_per_minute, clock=clock, sleep=sleep, window_seconds=window_seconds,
        max_wait_seconds=max_wait_seconds,
    )


DynamoRequestBudget = dynamo_request_budget
