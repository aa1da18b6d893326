"""The `MLLeads` role: the people who approve or reject a candidate.

Approval is `SendTaskSuccess` (or `SendTaskFailure`) with the task token that `RequestApproval`
stored in the state table. No function or service role of this stack holds those two actions, so
only principals that can assume this role (and account administrators) can answer an approval.
The actions support no resource-level permissions: a token is a bearer secret, which is why only
this role can read the approval records that hold them.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.findings import acknowledge, objects_under, stack_arn
from infra.storage import DataBucket


class MlLeadsRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        principal_arn: str | None,
        state_machine_name: str,
        state_machine_arn: str,
        table_arn: str,
        model_package_group: str,
        data: DataBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        principal: iam.IPrincipal = iam.ArnPrincipal(principal_arn) if principal_arn else iam.AccountRootPrincipal()
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=principal,
            description="ML leads: approve or reject retrained candidates of the retrain pipeline",
        )
        group = model_package_group.lower()
        packages = [
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package/{group}",
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package/{group}/*",
        ]
        executions = f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{state_machine_name}:*"
        statements = [
            # AWS requires "*" for these two: a task token is not an ARN.
            iam.PolicyStatement(actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=["*"]),
            # Read the run being approved: its history, metrics and report.
            iam.PolicyStatement(
                actions=["states:DescribeStateMachine", "states:ListExecutions"], resources=[state_machine_arn]
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory"], resources=[executions]
            ),
            # `retrain approve` reads the stack's outputs, then the pending approval record.
            iam.PolicyStatement(
                actions=["cloudformation:DescribeStacks"],
                resources=[
                    f"arn:{Aws.PARTITION}:cloudformation:{Aws.REGION}:{Aws.ACCOUNT_ID}:stack/{Aws.STACK_NAME}/*"
                ],
            ),
            iam.PolicyStatement(actions=["dynamodb:GetItem", "dynamodb:Query"], resources=[table_arn]),
            # ... and claims it before sending the token, so only one answer reaches the run.
            iam.PolicyStatement(
                actions=["dynamodb:UpdateItem"],
                resources=[table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [state_machine_name]}},
            ),
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[data.objects(data.data.models_prefix)]),
            # The registry's approval status, e.g. to reject a package by hand.
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"], resources=packages
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"],
                resources=[
                    f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package-group/{group}",
                    *packages,
                ],
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "SendTaskSuccess/SendTaskFailure support no resource-level permissions (a "
            "task token is the credential); executions, package versions and run reports are "
            "per run, so their ARNs end in '*' within this state machine, group and prefix; a "
            "stack ARN ends in its generated id.",
            findings=[
                "Resource::*",
                stack_arn("states", f"execution:{state_machine_name}:*"),
                stack_arn("cloudformation", "stack/<AWS::StackName>/*"),
                stack_arn("sagemaker", f"model-package/{group}/*"),
                objects_under(data.bucket, data.data.models_prefix),
            ],
        )

    @property
    def arn(self) -> str:
        return self.role.role_arn
