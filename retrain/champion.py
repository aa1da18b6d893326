"""PromoteChampion: after a successful rollout, make the candidate the recorded champion.

The champion, its history entry, the watermark and the approval are written in one conditional
transaction (see `PipelineStateTable.record_promotion`): a retry of the same execution finds its own
record and changes nothing; an older execution never replaces the champion of a newer one. The
registry marks the package Approved only once the record is settled, with who approved it and why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from retrain.contracts import Champion, PromoteChampionEvent
from retrain.errors import PipelineStateError
from retrain.ports import ModelPackageRegistry, PipelineStateTable, Promotion
from retrain.timestamps import utc_iso

DESCRIPTION_MAX = 1024  # SageMaker's limit on ApprovalDescription


def promote_champion(
    event: PromoteChampionEvent, store: PipelineStateTable, registry: ModelPackageRegistry, now: Callable[[], datetime]
) -> Champion:
    run = event.run
    candidate = Champion(
        model_data_url=event.model_data_url,
        model_package_arn=event.model_package_arn,
        model_name=run.names.model,
        endpoint_config_name=run.names.endpoint_config,
        execution_name=run.execution_name,
        promoted_at=utc_iso(now()),
        metrics=event.decision.candidate,
    )
    promotion = Promotion(
        candidate, run.started_at, event.data.new_watermark, event.approval, event.data.delivery_errors.until
    )
    blocking = store.record_promotion(promotion)
    if blocking is not None and blocking.execution_name != run.execution_name:
        raise PipelineStateError(
            f"{run.execution_name} (started {run.started_at}) reached PromoteChampion after the newer "
            f"execution {blocking.execution_name} promoted its model at {blocking.promoted_at}; the "
            f"champion record was left unchanged, but endpoint {run.deployment.endpoint_name} now serves "
            f"{run.names.model}. Redeploy endpoint config {blocking.endpoint_config_name}, and run one "
            "execution at a time."
        )
    champion = blocking or candidate
    registry.approve(event.model_package_arn, approval_description(event))
    return champion


def approval_description(event: PromoteChampionEvent) -> str:
    approval = event.approval
    text = (
        f"Approved by {approval.approved_by} at {approval.approved_at}: {approval.reason} "
        f"(execution {event.run.execution_name})"
    )
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 3] + "..."
