"""The one list of `${Placeholders}` in the definition.

The definition in `definitions/` holds these and nothing else that depends on a deployment; the CDK
stack fills every one through `DefinitionSubstitutions` (a test checks both directions).
"""

from __future__ import annotations

from enum import StrEnum


class Placeholder(StrEnum):
    # Lambda functions, one per module in tasks/
    VALIDATE_INPUT_FUNCTION_ARN = "ValidateInputFunctionArn"
    CHECK_FOR_NEW_DATA_FUNCTION_ARN = "CheckForNewDataFunctionArn"
    COMPARE_WITH_CHAMPION_FUNCTION_ARN = "CompareWithChampionFunctionArn"
    REQUEST_APPROVAL_FUNCTION_ARN = "RequestApprovalFunctionArn"
    PROMOTE_CHAMPION_FUNCTION_ARN = "PromoteChampionFunctionArn"
    NOTIFY_FUNCTION_ARN = "NotifyFunctionArn"
    # storage and state
    DATA_BUCKET_NAME = "DataBucketName"
    STATE_TABLE_NAME = "StateTableName"
    # jobs
    GLUE_JOB_NAME = "GlueJobName"
    SAGEMAKER_ROLE_ARN = "SageMakerRoleArn"
    SKLEARN_IMAGE_URI = "SklearnImageUri"
    TRAINING_CODE_URI = "TrainingCodeUri"
    CODE_VERSION = "CodeVersion"
    # serving
    MODEL_PACKAGE_GROUP_NAME = "ModelPackageGroupName"
    ENDPOINT_NAME = "EndpointName"

    @property
    def token(self) -> str:
        return "${" + self.value + "}"


PLACEHOLDER_NAMES: frozenset[str] = frozenset(p.value for p in Placeholder)
