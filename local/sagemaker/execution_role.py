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
- The image a job or model runs is pulled as the role (`pull_refusal`): the image's repository and ECR's
  authorization token (`ecr:GetAuthorizationToken`, on `*`); a job whose role may not pull it is refused by
  CreateTrainingJob/CreateProcessingJob, a monitoring schedule's execution fails, a model's fails its endpoint
  (the messages below). CreateModel does not check it: on AWS the model is created and its endpoint fails
  (aws/sagemaker-tensorflow-serving-container#182: "After creating the model by using client.create_model() ...
  it failed to create the endpoint").
- The metrics a monitoring job emits are published as the role (`metrics_refusal`: `cloudwatch:PutMetricData`
  with the `cloudwatch:namespace` condition key); refused, they are not published (AWS documents no failure).
- A job's or model server's CloudWatch Logs are written as the role (`log_stream`): SageMaker
  documents no failure for a role that may not, and the job or endpoint runs without them.
- Data capture is written as the endpoint's model's role (`capture_refusal`); a refused capture is lost.

`Roles` is `local.emulator.service_roles.ServiceRoles` in the local AWS, and None where the local
SageMaker runs without the emulator's IAM or with `RETRAIN_LOCAL_IAM=off`. A role the local IAM does
not hold is not checked.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Protocol

from local.runtime.staging import Authorize, S3Staging
from local.sagemaker.errors import SageMakerError
from local.sagemaker.logstream import LogStream

logger = logging.getLogger("local.sagemaker")

PRINCIPAL = "sagemaker.amazonaws.com"
SESSION = "SageMaker"  # the session name SageMaker gives the role it assumes
# Create operations whose request passes a role SageMaker assumes, and the member naming it.
_PASSED_ROLES = {
    "CreateTrainingJob": "RoleArn",
    "CreateProcessingJob": "RoleArn",
    "CreateTransformJob": "RoleArn",
    "CreateModel": "ExecutionRoleArn",
}
# Create operations that pull an image as the role: where the request names it.
_JOB_IMAGES = {
    "CreateTrainingJob": ("AlgorithmSpecification", "TrainingImage"),
    "CreateProcessingJob": ("AppSpecification", "ImageUri"),
}
# What SageMaker needs to pull an image from ECR, as its refusal lists them (repository resource type).
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# The order they are checked in: the image's manifest first (the endpoint's refusal as reported from AWS names
# BatchGetImage for a role with none of them), the registry's authorization token (no resource type: "*") last.
TOKEN_ACTION = "ecr:GetAuthorizationToken"  # an IAM action name, not a password  # nosec B105
_PULL_ORDER = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", TOKEN_ACTION)
_ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?/(?P<repository>[^:@]+)"
)


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


def _authorizer(roles: Roles | None, role_arn: Any, region: str) -> Authorize | None:
    if roles is None or not isinstance(role_arn, str):
        return None
    return roles.authorizer(role_arn, SESSION, region)


def image_repository(image: str | None) -> tuple[str, str, str] | None:
    """(registry account, repository, the repository's ARN) of an ECR image URI; None for an image elsewhere."""
    match = _ECR_IMAGE.match(image or "")
    if match is None:
        return None
    partition = "aws-cn" if match["cn"] else "aws"
    arn = f"arn:{partition}:ecr:{match['region']}:{match['registry']}:repository/{match['repository']}"
    return match["registry"], match["repository"], arn


def pull_refusal(roles: Roles | None, role_arn: Any, image: str | None, region: str) -> str | None:
    """The first ECR action the role may not take to pull the image, or None: `PULL_ACTIONS` on the image's
    repository, `ecr:GetAuthorizationToken` on `*`.

    SageMaker pulls with the role ("CreateTrainingJob API: Execution Role Permissions", developer guide
    sagemaker-roles: ecr:GetAuthorizationToken on "*", ecr:BatchCheckLayerAvailability, ecr:GetDownloadUrlForLayer,
    ecr:BatchGetImage), the framework images in AWS's registries included; a pull from ECR authenticates with the
    registry's token first (ECR user guide, "Private registry authentication in Amazon ECR").
    """
    authorize = _authorizer(roles, role_arn, region)
    repository = image_repository(image)
    if authorize is None or repository is None:
        return None
    arn = repository[2]
    return next(
        (action for action in _PULL_ORDER if authorize(action, "*" if action == TOKEN_ACTION else arn, {}) is not None),
        None,
    )


def job_pull_refusal(roles: Roles | None, role_arn: Any, image: str | None, region: str) -> str | None:
    """SageMaker's refusal of a job whose role may not pull its image, or None (as reported from
    CreateTrainingJob, e.g. wpilibsuite/DetectCoral#37, aws/sagemaker-spark-container#158; a refused
    GetAuthorizationToken is reported the same way, AWS documenting no other wording)."""
    if pull_refusal(roles, role_arn, image, region) is None:
        return None
    registry, repository, _ = image_repository(image) or ("", "", "")
    return (
        f"Access denied for repository: {repository} in registry ID: {registry}. Please check if your ECR "
        f"repository and image exist and role {role_arn} has proper pull permissions for SageMaker: "
        + ", ".join(PULL_ACTIONS)
    )


def check_image_pull(roles: Roles | None, operation: str, request: dict[str, Any], region: str) -> None:
    """Refuse a job whose role may not pull its image, with SageMaker's ValidationException (`job_pull_refusal`)."""
    where = _JOB_IMAGES.get(operation)
    if where is None:
        return
    image = (request.get(where[0]) or {}).get(where[1])
    refusal = job_pull_refusal(roles, request.get("RoleArn"), image, region)
    if refusal is not None:
        raise SageMakerError.validation(refusal)


def metrics_refusal(roles: Roles | None, role_arn: Any, namespace: str, region: str) -> str | None:
    """IAM's refusal when the role may not publish metrics in `namespace`, or None.

    PutMetricData has no resource type ("*") and takes the `cloudwatch:namespace` condition key (Service
    Authorization Reference, Amazon CloudWatch); SageMaker publishes with the execution role what its role
    documentation grants it for ("publish metrics to Amazon CloudWatch", CreateTrainingJob's `RoleArn`).
    """
    authorize = _authorizer(roles, role_arn, region)
    if authorize is None:
        return None
    # Condition keys go to the evaluator in lower case.
    return authorize("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": namespace})


def model_pull_refusal(roles: Roles | None, role_arn: Any, image: str | None, region: str) -> str | None:
    """An endpoint's FailureReason when its model's role may not pull the model's image, or None (as
    reported from CreateEndpoint: aws/sagemaker-tensorflow-serving-container#182, huggingface/notebooks#385)."""
    action = pull_refusal(roles, role_arn, image, region)
    if action is None:
        return None
    return f"The role '{role_arn}' does not have {action.split(':', 1)[1]} permission for the image: '{image}'."


def log_stream(
    roles: Roles | None,
    role_arn: Any,
    logs_client: Any | None,
    group: str,
    stream: str,
    local_file: Path,
    where: tuple[str, str],
) -> LogStream:
    """A job's or model server's log stream, shipped as far as the role may write it (`where`: region,
    account).

    CreateLogGroup is authorized on the group's ARN, CreateLogStream and PutLogEvents on the stream's
    (Service Authorization Reference, CloudWatch Logs). SageMaker documents no failure for a role that may
    not write its logs: the job or endpoint runs, its logs are not in CloudWatch Logs (the local file keeps
    them).
    """
    region, account = where
    authorize = _authorizer(roles, role_arn, region)
    group_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    create_group = True
    if authorize is not None and logs_client is not None:
        stream_arn = f"{group_arn}:log-stream:{stream}"
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            refusal = authorize(action, stream_arn, {})
            if refusal is not None:
                logger.warning("%s/%s is not shipped to CloudWatch Logs: %s", group, stream, refusal)
                logs_client = None
                break
        create_group = authorize("logs:CreateLogGroup", group_arn, {}) is None
    return LogStream(logs_client, group, stream, local_file, create_group=create_group)


def capture_refusal(roles: Roles | None, role_arn: Any, bucket: str, key: str, region: str) -> str | None:
    """IAM's refusal when the role may not write a data capture object (s3:PutObject under the config's
    `DestinationS3Uri`, written as the variant's model's execution role), or None."""
    authorize = _authorizer(roles, role_arn, region)
    return None if authorize is None else authorize("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", {})
