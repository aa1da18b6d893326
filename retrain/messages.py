"""The notifications people read: subject and body of every SNS message the pipeline sends.

Bodies are plain text (email and chat integrations both show it as is). Every message links the
execution in the Step Functions console, which is where on-call engineers start.
"""

from __future__ import annotations

import shlex

from retrain.contracts import FailureSummary, PromotionDecision, RunPlan
from retrain.errors import InvalidApprovalOutput
from retrain.execution_arn import ExecutionArn
from retrain.ports import ApprovalRequest

SUBJECT_MAX = 100  # SNS rejects longer subjects


def subject(text: str) -> str:
    """An SNS subject: one line of printable ASCII, at most 100 characters."""
    flat = " ".join(text.split())
    ascii_only = "".join(char if 32 <= ord(char) < 127 else "?" for char in flat)
    return ascii_only if len(ascii_only) <= SUBJECT_MAX else ascii_only[: SUBJECT_MAX - 3] + "..."


def metrics_table(decision: PromotionDecision) -> str:
    """Candidate vs champion, the deciding metric first, aligned for a monospace reader."""
    champion = decision.champion or {}
    names = [decision.metric, *sorted(set(decision.candidate) - {decision.metric})]
    rows = [("metric", "candidate", "champion", "change")]
    for name in names:
        ours, theirs = decision.candidate.get(name), champion.get(name)
        change = f"{ours - theirs:+.4f}" if ours is not None and theirs is not None else ""
        rows.append((name, _value(ours), _value(theirs), change))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, 4)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def approval_request(request: ApprovalRequest, run: RunPlan) -> tuple[str, str]:
    """The request an ML lead reads. It never carries the task token (anyone who reads the mail could
    resume the run with it): it names the run, and every command in it works as printed, against AWS."""
    decision = request.decision
    execution = ExecutionArn.parse(request.execution_arn)
    name = run.execution_name
    region = execution.region
    package = shlex.quote(request.model_package_arn)
    score = _score(decision)
    body = [
        f"A candidate model of {run.pipeline} is waiting for your approval.",
        *_asked_again(request.redrive_count),
        "",
        *_run_lines(run),
        f"Model package:  {request.model_package_arn}",
        f"Report:         {decision.report_uri}",
        f"Decide before:  {request.expires_at} (then the candidate is dropped)",
        "",
        metrics_table(decision),
        "",
        "Why it qualifies:",
        *(f"- {reason}" for reason in decision.reasons),
        "",
        f"Console:        {execution.console_url}",
        "",
        "Answer as the MLLeads role (who you are and why are recorded with the run and the model package).",
        "With the retrain command, from the project:",
        f'  RETRAIN_TARGET=aws AWS_REGION={region} retrain approve {name} --reason "<why>"',
        f'  RETRAIN_TARGET=aws AWS_REGION={region} retrain reject {name} --reason "<why>"',
        "Or in the SageMaker Model Registry (Studio: Models > Registered models > "
        f"{run.model_package_group}, or the AWS CLI):",
        *_registry_command(region, package, "Approved"),
        *_registry_command(region, package, "Rejected"),
    ]
    return subject(f"[{run.pipeline}] Approve candidate {name}? {score}"), "\n".join(body)


def _asked_again(redrive_count: int) -> list[str]:
    if not redrive_count:
        return []
    return [
        f"Asked again: the run stopped while it waited and was redriven (redrive {redrive_count}). An answer to",
        "the earlier request could not reach it; answer this one.",
    ]


def _registry_command(region: str, package: str, status: str) -> list[str]:
    return [
        f"  aws sagemaker update-model-package --region {region} --model-package-arn {package} \\",
        f'    --model-approval-status {status} --approval-description "<why>"',
    ]


def champion_promoted(run: RunPlan, decision: PromotionDecision | None, execution: ExecutionArn) -> tuple[str, str]:
    body = [
        f"The candidate of {run.execution_name} is the new champion of {run.pipeline}, serving on "
        f"endpoint {run.deployment.endpoint_name}.",
        "",
        *_run_lines(run),
        *_decision_lines(decision),
        f"Console:        {execution.console_url}",
    ]
    score = _score(decision) if decision else ""
    return subject(f"[{run.pipeline}] New champion live: {run.execution_name} {score}"), "\n".join(body)


def champion_kept(run: RunPlan, decision: PromotionDecision | None, execution: ExecutionArn) -> tuple[str, str]:
    body = [
        f"The candidate of {run.execution_name} did not beat the champion of {run.pipeline}; "
        "the champion keeps serving. This is a normal outcome.",
        "",
        *_run_lines(run),
        *_decision_lines(decision),
        f"Console:        {execution.console_url}",
    ]
    score = _score(decision) if decision else ""
    return subject(f"[{run.pipeline}] Champion kept: {run.execution_name} {score}"), "\n".join(body)


def candidate_rejected(
    pipeline: str, run: RunPlan | None, outcome: FailureSummary, execution: ExecutionArn
) -> tuple[str, str]:
    timed_out = outcome.error in ("States.Timeout", "States.HeartbeatTimeout")
    what = "was not approved in time" if timed_out else "was rejected"
    if outcome.error == InvalidApprovalOutput.__name__:
        what = "was rejected: its approval output was not valid"
    body = [
        f"The candidate of {execution.execution_name} {what}; production was not touched.",
        "",
        *(_run_lines(run) if run else []),
        f"{'Timeout:' if timed_out else 'Reason:':16}{outcome.cause}",
        f"Console:        {execution.console_url}",
    ]
    verb = "expired" if timed_out else "rejected"
    return subject(f"[{pipeline}] Candidate {verb}: {execution.execution_name}"), "\n".join(body)


def pipeline_failed(
    pipeline: str, run: RunPlan | None, failure: FailureSummary, execution: ExecutionArn
) -> tuple[str, str]:
    body = [
        f"Execution {execution.execution_name} of {pipeline} failed with {failure.error}.",
        "",
        *failure.cause.splitlines(),
        "",
        *(_run_lines(run) if run else []),
        f"Console:        {execution.console_url}",
    ]
    return subject(f"[{pipeline}] Retrain failed: {failure.error} in {execution.execution_name}"), "\n".join(body)


def _run_lines(run: RunPlan) -> list[str]:
    trigger = run.trigger + (f" by {run.requested_by}" if run.requested_by else "")
    lines = [
        f"Execution:      {run.execution_name} (started {run.started_at}, {trigger})",
        f"Code version:   {run.code_version}",
    ]
    if run.reason:
        lines.append(f"Run reason:     {run.reason}")
    return lines


def _decision_lines(decision: PromotionDecision | None) -> list[str]:
    if decision is None:
        return [""]
    return [
        f"Report:         {decision.report_uri}",
        "",
        metrics_table(decision),
        "",
        *(f"- {reason}" for reason in decision.reasons),
        "",
    ]


def _score(decision: PromotionDecision) -> str:
    ours = decision.candidate.get(decision.metric)
    theirs = (decision.champion or {}).get(decision.metric)
    if ours is None:
        return ""
    against = f" vs {theirs:.3f}" if theirs is not None else " (first model)"
    return f"{decision.metric} {ours:.3f}{against}"


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    # Counts (rows, positives) read as counts; scores with four decimals.
    return f"{value:.0f}" if value.is_integer() and abs(value) >= 1 else f"{value:.4f}"
