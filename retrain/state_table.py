"""Layout of the pipeline's state table (DynamoDB), shared by the Lambdas and the `retrain` CLI.

Partition key `pk` (S) is the pipeline name; sort key `sk` (S) is one of:

| sk                         | attributes                                                         |
| -------------------------- | ------------------------------------------------------------------ |
| `WATERMARK`                | key: the last landing key trained on; updated_by: the execution    |
| `CHAMPION`                 | the Champion fields, metrics (map), execution_started_at           |
| `CHAMPION#<promoted_at>`   | the same, one item per promotion: the history                      |
| `APPROVAL#<execution>`     | task_token, model_package_arn, decision (JSON), status, execution_arn, |
|                            | requested_at, expires_at, updated_at, notified_at, then approved_by, |
|                            | reason, approved_at or closed_at                                   |
| `TRIGGERS#QUEUED`          | count, first_at, last_at, first_reason, last_reason, newest_key,   |
|                            | unkeyed: triggers that came while a retrain ran; the follow-up run |
|                            | takes them                                                         |

An approval's status is PENDING until PromoteChampion (APPROVED) or NotifyRejected (REJECTED, or
EXPIRED when the approval timed out) closes it. `retrain approve|reject <execution>` reads the
current task token from the APPROVAL item.
"""

from __future__ import annotations

PARTITION_KEY = "pk"
SORT_KEY = "sk"
WATERMARK = "WATERMARK"
CHAMPION = "CHAMPION"
PENDING = "PENDING"
APPROVED = "APPROVED"
REJECTED = "REJECTED"
EXPIRED = "EXPIRED"
QUEUED_TRIGGERS = "TRIGGERS#QUEUED"


def approval_key(execution_name: str) -> str:
    return f"APPROVAL#{execution_name}"


def champion_history_key(promoted_at: str) -> str:
    return f"CHAMPION#{promoted_at}"
