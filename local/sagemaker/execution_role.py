"""The SageMaker execution role: SageMaker assumes a job's `RoleArn` (a model's `ExecutionRoleArn`) and
moves the job's data as that role's session, `assumed-role/<role>/SageMaker`.

- A create request naming a role SageMaker cannot assume is refused: ValidationException "Could not
  assume role <arn>. Please ensure that the role exists and allows principal 'sagemaker.amazonaws.com'
  to assume the role." (the message SageMaker's CreateTrainingJob/CreateTransformJob return).
- Each S3 call of a job's staging (its inputs and code, its outputs) and of a model server's (its model
  data and code) is authorized against the role's policies; a refusal fails the job with a ClientError
  FailureReason carrying S3's AccessDenied message, which names the session, the action and the
  resource: "ClientError: Data download failed:Unable to download object s3://... (AccessDenied: User:
  arn:aws:sts::<account>:assumed-role/<role>/SageMaker is not authorized to perform: s3:GetObject on
  resource: "arn:aws:s3:::<bucket>/<key>" because no identity-based policy allows the s3:GetObject
  action)".

`Roles` is `local.emulator.service_roles.ServiceRoles` in the local AWS, and None where the local
SageMaker runs without the emulator's IAM or with `RETRAIN_LOCAL_IAM=off`. A role the local IAM does
not hold is not checked.
"""

from __future__ import annotations

from typing import Any, Protocol

from local.runtime.staging import Authorize, S3Staging
from local.sagemaker.errors import SageMakerError

PRINCIPAL = "sagemaker.amazonaws.com"
SESSION = "SageMaker"  # the session name SageMaker gives the role it assumes
# Create operations whose request passes a role SageMaker assumes, and the member naming it.
_PASSED_ROLES = {
    "CreateTrainingJob": "RoleArn",
    "CreateProcessingJob": "RoleArn",
    "CreateTransformJob": "RoleArn",
    "CreateModel": "ExecutionRoleArn",
}


class Roles(Protocol):
    def trusts(self, role_arn: str, principal: str, region: str) -> bool | None: ...

    def authorizer(self, role_arn: str, session_name: str, region: str) -> Authorize | None: ...


def check_passed_role(roles: Roles | None, operation: str, request: dict[str, Any], region: str) -> None:
    """Refuse a create request whose role SageMaker may not assume, as SageMaker does."""
    member = _PASSED_ROLES.get(operation)
    role_arn = request.get(member) if member else None
    if roles is None or not isinstance(role_arn, str):
        return
    if roles.trusts(role_arn, PRINCIPAL, region) is False:
        raise SageMakerError.validation(
            f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
            f"'{PRINCIPAL}' to assume the role."
        )


def staging(roles: Roles | None, s3_client: Any, region: str, role_arn: str | None) -> S3Staging:
    """S3 staging that moves objects as the role's SageMaker session (as any caller when unchecked)."""
    authorize = roles.authorizer(role_arn, SESSION, region) if roles is not None and role_arn else None
    return S3Staging(s3_client, region, authorize)


def alarm_refusal(
    roles: Roles | None, role_arns: list[str], alarms: list[str], region: str, account: str
) -> str | None:
    """IAM's refusal when an execution role may not read an auto-rollback alarm, or None.

    SageMaker reads the alarms of a blue/green update with the execution role ("Ensure that your IAM
    execution role has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback
    alarms you specify", developer guide, deployment-guardrails-configuration).
    """
    if roles is None:
        return None
    for role_arn in dict.fromkeys(role_arns):
        authorize = roles.authorizer(role_arn, SESSION, region)
        if authorize is None:
            continue
        for name in alarms:
            refusal = authorize("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}", {})
            if refusal is not None:
                return refusal
    return None
