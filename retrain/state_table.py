"""Layout of the pipeline's state table (DynamoDB), shared by the Lambdas and the `retrain` CLI.

Partition key `pk` (S) is the pipeline name; sort key `sk` (S) is one of:

| sk                         | attributes                                                         |
| -------------------------- | ------------------------------------------------------------------ |
| `WATERMARK`                | key: the last landing key trained on; updated_by: the execution    |
|                            | errors_until: where the last counted window of refused records     |
|                            | ended (retrain.delivery_errors)                                    |
| `CHAMPION`                 | the Champion fields, metrics (map), execution_started_at           |
| `CHAMPION#<promoted_at>`   | the same, one item per promotion: the history                      |
| `APPROVAL#<execution>`     | task_token, model_package_arn, decision (JSON), status, execution_arn, |
|                            | requested_at, expires_at, updated_at, notified_at and the drive    |
|                            | notified (notified_redrive), then answer,                          |
|                            | answered_by, answered_at, then approved_by, reason, approved_at or |
|                            | closed_at                                                          |
| `TRIGGERS#QUEUED`          | count, first_at, last_at, first_reason, last_reason, newest_key,   |
|                            | unkeyed: triggers that came while a retrain ran; the follow-up run |
|                            | takes them                                                         |

An approval's status is PENDING until someone answers it: `retrain approve|reject <execution>` or a
Model Registry decision (tasks/answer_from_registry.py) first moves it PENDING -> ANSWERED with a
conditional write and only then sends the stored task token back, so exactly one answer reaches the
run (retrain.approval_answers). PromoteChampion (APPROVED) or NotifyRejected (REJECTED, or EXPIRED
when the approval timed out) closes it.
"""

from __future__ import annotations

PARTITION_KEY = "pk"
SORT_KEY = "sk"
WATERMARK = "WATERMARK"
CHAMPION = "CHAMPION"
PENDING = "PENDING"
ANSWERED = "ANSWERED"
APPROVED = "APPROVED"
REJECTED = "REJECTED"
EXPIRED = "EXPIRED"
QUEUED_TRIGGERS = "TRIGGERS#QUEUED"


APPROVAL_PREFIX = "APPROVAL#"


def approval_key(execution_name: str) -> str:
    return f"{APPROVAL_PREFIX}{execution_name}"


def champion_history_key(promoted_at: str) -> str:
    return f"CHAMPION#{promoted_at}"
