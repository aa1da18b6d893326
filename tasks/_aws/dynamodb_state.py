"""`PipelineStateTable` on the pipeline's DynamoDB state table (layout: `retrain.state_table`).

The Lambdas use it through the core's port; the `retrain` command reads the same table through it
too (the watermark, a run's approval request), so the table has one adapter.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from retrain.contracts import Champion
from retrain.ports import ApprovalRequest, Promotion, StoredApproval
from retrain.state_table import (
    ANSWERED,
    APPROVAL_PREFIX,
    APPROVED,
    CHAMPION,
    PARTITION_KEY,
    PENDING,
    QUEUED_TRIGGERS,
    SORT_KEY,
    WATERMARK,
    approval_key,
    champion_history_key,
)
from retrain.triggers import QueuedTriggers

_STRING_FIELDS = (
    "model_data_url",
    "model_package_arn",
    "model_name",
    "endpoint_config_name",
    "execution_name",
    "promoted_at",
)
# `status` and `count` are DynamoDB reserved words.
_STATUS = {"#status": "status"}
_COUNT = {"#count": "count"}


class DynamoPipelineStateTable:
    def __init__(self, client: Any, table: str, pipeline: str) -> None:
        self._dynamodb = client
        self._table = table
        self._pipeline = pipeline

    def watermark(self) -> str:
        item = self._get(WATERMARK)
        return item["key"]["S"] if item and "key" in item else ""

    def delivery_errors_mark(self) -> str:
        item = self._get(WATERMARK)
        return item["errors_until"]["S"] if item and "errors_until" in item else ""

    def champion(self) -> Champion | None:
        item = self._get(CHAMPION)
        return _champion(item) if item else None

    def approval(self, execution_name: str) -> StoredApproval | None:
        """The run's approval request, whatever its status; None when the run never asked."""
        item = self._get(approval_key(execution_name))
        if item is None:
            return None
        return _stored_approval(item)

    def pending_approval_of_package(self, model_package_arn: str) -> StoredApproval | None:
        # One query of the pipeline's approval requests: a run's request is the only link from its
        # package to its task token, and a package is registered by one run only.
        pages = self._dynamodb.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="#pk = :pipeline AND begins_with(#sk, :approvals)",
            FilterExpression="model_package_arn = :package AND #status = :pending",
            ExpressionAttributeNames={"#pk": PARTITION_KEY, "#sk": SORT_KEY, **_STATUS},
            ExpressionAttributeValues={
                ":pipeline": {"S": self._pipeline},
                ":approvals": {"S": APPROVAL_PREFIX},
                ":package": {"S": model_package_arn},
                ":pending": {"S": PENDING},
            },
            ConsistentRead=True,
        )
        for page in pages:
            for item in page.get("Items", []):
                return _stored_approval(item)
        return None

    def claim_answer(self, execution_name: str, answer: str, by: str, at: str) -> bool:
        return self._conditional_update(
            approval_key(execution_name),
            "SET #status = :answered, answer = :answer, answered_by = :by, answered_at = :at, updated_at = :at",
            "#status = :pending",
            {
                ":answered": {"S": ANSWERED},
                ":answer": {"S": answer},
                ":by": {"S": by},
                ":at": {"S": at},
                ":pending": {"S": PENDING},
            },
            names=_STATUS,
        )

    def release_answer(self, execution_name: str, at: str) -> None:
        self._conditional_update(
            approval_key(execution_name),
            "SET #status = :pending REMOVE answer, answered_by, answered_at",
            "#status = :answered AND answered_at = :at",
            {":pending": {"S": PENDING}, ":answered": {"S": ANSWERED}, ":at": {"S": at}},
            names=_STATUS,
        )

    def save_approval_request(self, request: ApprovalRequest) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._key(approval_key(request.execution_name)),
            UpdateExpression=(
                "SET execution_name = :name, execution_arn = :arn, task_token = :token, "
                "model_package_arn = :package, decision = :decision, #status = :pending, "
                "expires_at = :expires, updated_at = :now, requested_at = if_not_exists(requested_at, :now)"
            ),
            ExpressionAttributeNames=_STATUS,
            ExpressionAttributeValues={
                ":name": {"S": request.execution_name},
                ":arn": {"S": request.execution_arn},
                ":token": {"S": request.task_token},
                ":package": {"S": request.model_package_arn},
                ":decision": {"S": request.decision.model_dump_json()},
                ":pending": {"S": PENDING},
                ":expires": {"S": request.expires_at},
                ":now": {"S": request.requested_at},
            },
        )

    def claim_notification(self, execution_name: str, at: str, redrive_count: int = 0) -> bool:
        not_yet = "attribute_not_exists(notified_at)"
        if redrive_count:
            # Notified in an earlier drive (or before drives were counted): this redrive asks again.
            not_yet = f"({not_yet} OR attribute_not_exists(notified_redrive) OR notified_redrive < :redrive)"
        return self._conditional_update(
            approval_key(execution_name),
            "SET notified_at = :at, notified_redrive = :redrive",
            f"attribute_exists(sk) AND {not_yet}",
            {":at": {"S": at}, ":redrive": {"N": str(redrive_count)}},
        )

    def release_notification(self, execution_name: str, at: str) -> None:
        self._conditional_update(
            approval_key(execution_name),
            "REMOVE notified_at, notified_redrive",
            "notified_at = :at",
            {":at": {"S": at}},
        )

    def close_approval(self, execution_name: str, status: str, at: str, reason: str) -> bool:
        return self._conditional_update(
            approval_key(execution_name),
            "SET #status = :status, closed_at = :at, updated_at = :at, reason = :reason",
            "#status IN (:pending, :answered)",
            {
                ":status": {"S": status},
                ":at": {"S": at},
                ":reason": {"S": reason},
                ":pending": {"S": PENDING},
                ":answered": {"S": ANSWERED},
            },
            names=_STATUS,
        )

    def record_promotion(self, promotion: Promotion) -> Champion | None:
        champion = promotion.champion
        item = _champion_item(champion, promotion.execution_started_at)
        approval = promotion.approval
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**self._key(CHAMPION), **item},
                    # An equal start time is the same execution retrying: it must not write again.
                    "ConditionExpression": "attribute_not_exists(sk) OR execution_started_at < :started",
                    "ExpressionAttributeValues": {":started": {"S": promotion.execution_started_at}},
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**self._key(champion_history_key(champion.promoted_at)), **item},
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(approval_key(champion.execution_name)),
                    "UpdateExpression": (
                        "SET #status = :approved, approved_by = :by, reason = :reason, "
                        "approved_at = :when, updated_at = :now"
                    ),
                    "ExpressionAttributeNames": _STATUS,
                    "ExpressionAttributeValues": {
                        ":approved": {"S": APPROVED},
                        ":by": {"S": approval.approved_by},
                        ":reason": {"S": approval.reason},
                        ":when": {"S": approval.approved_at},
                        ":now": {"S": champion.promoted_at},
                    },
                }
            },
        ]
        if promotion.watermark:
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **self._key(WATERMARK),
                            "key": {"S": promotion.watermark},
                            "updated_by": {"S": champion.execution_name},
                            **_errors_until(promotion.delivery_errors_mark),
                        },
                    }
                }
            )
        try:
            self._dynamodb.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            stored = self._get(CHAMPION)
            # Only the champion's condition can fail; anything else (a conflicting transaction) is
            # transient and left to the state's Retry.
            if stored is None or stored["execution_started_at"]["S"] < promotion.execution_started_at:
                raise
            return _champion(stored)
        return None

    # --- the trigger queue (retrain.ports.TriggerQueue) -------------------------------------------

    def add(self, reason: str, at: str, data_key: str | None) -> None:
        update = (
            "SET first_at = if_not_exists(first_at, :at), first_reason = if_not_exists(first_reason, :reason), "
            "last_at = :at, last_reason = :reason"
        )
        values: dict[str, Any] = {":at": {"S": at}, ":reason": {"S": reason}, ":one": {"N": "1"}}
        if data_key is None:
            update += ", unkeyed = :true"
            values[":true"] = {"BOOL": True}
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._key(QUEUED_TRIGGERS),
            UpdateExpression=update + " ADD #count :one",
            ExpressionAttributeNames=_COUNT,
            ExpressionAttributeValues=values,
        )
        if data_key is not None:
            # Objects land in any order: keep the newest (a condition, since an update cannot take a max).
            self._conditional_update(
                QUEUED_TRIGGERS,
                "SET newest_key = :key",
                "attribute_not_exists(newest_key) OR newest_key < :key",
                {":key": {"S": data_key}},
            )

    def peek(self) -> QueuedTriggers | None:
        item = self._get(QUEUED_TRIGGERS)
        if item is None:
            return None
        return QueuedTriggers(
            count=int(item["count"]["N"]),
            first_at=item["first_at"]["S"],
            first_reason=item["first_reason"]["S"],
            last_reason=item["last_reason"]["S"],
            newest_key=item.get("newest_key", {}).get("S", ""),
            unkeyed=item.get("unkeyed", {}).get("BOOL", False),
        )

    def clear(self, count: int) -> bool:
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=self._key(QUEUED_TRIGGERS),
                ConditionExpression="#count = :count",
                ExpressionAttributeNames=_COUNT,
                ExpressionAttributeValues={":count": {"N": str(count)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _key(self, sort_key: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": self._pipeline}, SORT_KEY: {"S": sort_key}}

    def _get(self, sort_key: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(TableName=self._table, Key=self._key(sort_key), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _conditional_update(
        self,
        sort_key: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(sort_key),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            arguments["ExpressionAttributeNames"] = names
        try:
            self._dynamodb.update_item(**arguments)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _stored_approval(item: dict[str, Any]) -> StoredApproval:
    return StoredApproval(
        item["execution_name"]["S"] if "execution_name" in item else item[SORT_KEY]["S"].removeprefix(APPROVAL_PREFIX),
        item.get("status", {}).get("S"),
        item.get("task_token", {}).get("S", ""),
    )


def _champion_item(champion: Champion, started_at: str) -> dict[str, Any]:
    item: dict[str, Any] = {field: {"S": getattr(champion, field)} for field in _STRING_FIELDS}
    # Decimal(repr) keeps the float's shortest exact text, which DynamoDB stores without loss.
    item["metrics"] = {"M": {name: {"N": str(Decimal(repr(value)))} for name, value in champion.metrics.items()}}
    item["execution_started_at"] = {"S": started_at}
    return item


def _champion(item: dict[str, Any]) -> Champion:
    metrics = {name: float(value["N"]) for name, value in item.get("metrics", {}).get("M", {}).items()}
    return Champion(**{field: item[field]["S"] for field in _STRING_FIELDS}, metrics=metrics)


def _errors_until(mark: str) -> dict[str, Any]:
    return {"errors_until": {"S": mark}} if mark else {}
