"""CloudFormation resource types and properties the pipeline's stack uses, as the local AWS deploys
them (each was refused or dropped by the emulator alone; `local/emulator/cloudformation.py` and
`local/emulator/cloudwatch.py` close the gaps)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.clients import LocalClients
from local.deploy import CloudAssembly, DeployError, LocalCdkDeployer, StackDeployment
from tests.support.emulator import ROLE_ARN

pytestmark = pytest.mark.local

ACCOUNT = "000000000000"
REGION = "us-east-1"


class TemplateStacks:
    """Deploys raw templates as one-stack cloud assemblies (create, then update on redeploy)."""

    def __init__(self, clients: LocalClients, directory: Path) -> None:
        self.clients = clients
        self.directory = directory
        self.deployer = LocalCdkDeployer(clients, stack_timeout=60)

    def deploy(self, stack_name: str, template: dict[str, Any]) -> StackDeployment:
        folder = self.directory / stack_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "stack.template.json").write_text(json.dumps(template))
        manifest = {
            "version": "36.0.0",
            "artifacts": {
                "Stack": {
                    "type": "aws:cloudformation:stack",
                    "environment": "aws://unknown-account/unknown-region",
                    "properties": {"templateFile": "stack.template.json", "stackName": stack_name},
                }
            },
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))
        [deployed] = self.deployer.deploy(CloudAssembly(folder))
        return deployed

    def delete(self, stack_name: str) -> None:
        self.deployer.delete_stack(stack_name)


@pytest.fixture
def stacks(aws_clients: LocalClients, tmp_path: Path) -> TemplateStacks:
    return TemplateStacks(aws_clients, tmp_path)


def encryption(mode: str = "SSE-S3") -> dict[str, Any]:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    return {
        "S3Encryptions": [{"S3EncryptionMode": mode}],
        "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key},
        "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key},
    }


# --- AWS::Glue::SecurityConfiguration ----------------------------------------------------------


def glue_template(name: str, s3_mode: str = "SSE-S3", max_concurrent_runs: int | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "Name": name,
        "Role": ROLE_ARN,
        "Command": {"Name": "glueetl", "ScriptLocation": f"s3://{name}/script.py", "PythonVersion": "3"},
        "GlueVersion": "5.0",
        "SecurityConfiguration": {"Ref": "Security"},
    }
    if max_concurrent_runs is not None:
        job["ExecutionProperty"] = {"MaxConcurrentRuns": max_concurrent_runs}
    return {
        "Resources": {
            "Security": {
                "Type": "AWS::Glue::SecurityConfiguration",
                "Properties": {"Name": f"{name}-security", "EncryptionConfiguration": encryption(s3_mode)},
            },
            "Job": {"Type": "AWS::Glue::Job", "Properties": job},
        },
        "Outputs": {"SecurityName": {"Value": {"Ref": "Security"}}},
    }


def test_a_glue_security_configuration_deploys_and_its_job_names_it(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    glue = aws_clients.client("glue")
    deployed = stacks.deploy(unique_name, glue_template(unique_name))

    assert deployed.outputs["SecurityName"] == f"{unique_name}-security"
    stored = glue.get_security_configuration(Name=f"{unique_name}-security")["SecurityConfiguration"]
    assert stored["EncryptionConfiguration"]["S3Encryption"] == [{"S3EncryptionMode": "SSE-S3"}]
    assert stored["EncryptionConfiguration"]["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    job = glue.get_job(JobName=unique_name)["Job"]
    assert job["SecurityConfiguration"] == f"{unique_name}-security"
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}  # AWS's default

    stacks.delete(unique_name)
    with pytest.raises(ClientError, match="EntityNotFoundException"):
        glue.get_security_configuration(Name=f"{unique_name}-security")


def test_a_named_security_configuration_cannot_be_replaced_in_place(stacks: TemplateStacks, unique_name: str) -> None:
    stacks.deploy(unique_name, glue_template(unique_name))
    # Every property is create-only: a change with the same Name fails the update, as on AWS.
    with pytest.raises(DeployError, match="custom-named resource requires replacing"):
        stacks.deploy(unique_name, glue_template(unique_name, s3_mode="DISABLED"))


def test_a_glue_job_keeps_its_execution_property(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    glue = aws_clients.client("glue")
    stacks.deploy(unique_name, glue_template(unique_name, max_concurrent_runs=3))
    assert glue.get_job(JobName=unique_name)["Job"]["ExecutionProperty"] == {"MaxConcurrentRuns": 3}
    stacks.deploy(unique_name, glue_template(unique_name, max_concurrent_runs=2))
    assert glue.get_job(JobName=unique_name)["Job"]["ExecutionProperty"] == {"MaxConcurrentRuns": 2}


# --- AWS::SageMaker::ModelPackageGroup --------------------------------------------------------


def group_template(name: str, description: str = "candidates") -> dict[str, Any]:
    return {
        "Resources": {
            "Group": {
                "Type": "AWS::SageMaker::ModelPackageGroup",
                "Properties": {"ModelPackageGroupName": name, "ModelPackageGroupDescription": description},
            }
        },
        "Outputs": {
            "Ref": {"Value": {"Ref": "Group"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Group", "ModelPackageGroupArn"]}},
            "Status": {"Value": {"Fn::GetAtt": ["Group", "ModelPackageGroupStatus"]}},
        },
    }


def test_a_model_package_group_from_a_template_takes_packages(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    sagemaker = aws_clients.client("sagemaker")
    deployed = stacks.deploy(unique_name, group_template(unique_name))

    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{unique_name}"
    assert deployed.outputs == {"Ref": arn, "Arn": arn, "Status": "Completed"}
    group = sagemaker.describe_model_package_group(ModelPackageGroupName=unique_name)
    assert group["ModelPackageGroupDescription"] == "candidates"
    package = sagemaker.create_model_package(
        ModelPackageGroupName=unique_name,
        InferenceSpecification={
            "Containers": [{"Image": "local/sklearn:1.2-1", "ModelDataUrl": f"s3://{unique_name}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    assert package["ModelPackageArn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{unique_name}/1"


def test_renaming_a_model_package_group_replaces_it(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    sagemaker = aws_clients.client("sagemaker")
    stacks.deploy(unique_name, group_template(f"{unique_name}-a"))
    renamed = stacks.deploy(unique_name, group_template(f"{unique_name}-b"))
    assert renamed.outputs["Arn"].endswith(f"model-package-group/{unique_name}-b")
    assert sagemaker.describe_model_package_group(ModelPackageGroupName=f"{unique_name}-b")
    # The description is create-only too: with the name kept, AWS refuses the replacement.
    with pytest.raises(DeployError, match="custom-named resource requires replacing"):
        stacks.deploy(unique_name, group_template(f"{unique_name}-b", description="changed"))


def test_a_stack_with_a_model_package_group_can_be_deleted_and_created_again(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    first = stacks.deploy(unique_name, group_template(unique_name))
    stacks.delete(unique_name)
    again = stacks.deploy(unique_name, group_template(unique_name))
    assert again.action == "created"
    assert again.outputs["Arn"] == first.outputs["Arn"]
    assert aws_clients.client("sagemaker").describe_model_package_group(ModelPackageGroupName=unique_name)
    # A group no stack deleted is not taken over: creating it again fails, as on AWS.
    with pytest.raises(DeployError, match="already exists"):
        stacks.deploy(f"{unique_name}-other", group_template(unique_name))


def test_a_model_package_group_policy_is_refused_with_its_reason(stacks: TemplateStacks, unique_name: str) -> None:
    template = group_template(unique_name)
    template["Resources"]["Group"]["Properties"]["ModelPackageGroupPolicy"] = {"Version": "2012-10-17"}
    with pytest.raises(DeployError, match="ModelPackageGroupPolicy is not supported by the local SageMaker"):
        stacks.deploy(unique_name, template)


# --- AWS::CloudWatch::Alarm -------------------------------------------------------------------


def alarm_template(name: str, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    dimensions = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    return {
        "Resources": {
            "ErrorRate": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": f"{name}-errors",
                    "ComparisonOperator": "GreaterThanThreshold",
                    "EvaluationPeriods": 3,
                    "DatapointsToAlarm": 2,
                    "Threshold": 0.05,
                    "TreatMissingData": "notBreaching",
                    "Metrics": metrics,
                },
            },
            "Latency": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": f"{name}-latency",
                    "ComparisonOperator": "GreaterThanThreshold",
                    "EvaluationPeriods": 3,
                    "Threshold": 500000,
                    "MetricName": "ModelLatency",
                    "Namespace": "AWS/SageMaker",
                    "ExtendedStatistic": "p99",
                    "Period": 60,
                    "Dimensions": dimensions,
                },
            },
        }
    }


def metric_math(endpoint: str, returned: tuple[bool, bool, bool] = (True, False, False)) -> list[dict[str, Any]]:
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]

    def stat(metric: str) -> dict[str, Any]:
        return {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dimensions},
            "Period": 60,
            "Stat": "Sum",
        }

    return [
        {"Id": "rate", "Expression": "IF(invocations > 0, errors / invocations, 0)", "ReturnData": returned[0]},
        {"Id": "errors", "MetricStat": stat("Invocation5XXErrors"), "ReturnData": returned[1]},
        {"Id": "invocations", "MetricStat": stat("Invocations"), "ReturnData": returned[2]},
    ]


def test_a_metric_math_alarm_keeps_its_queries(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    stacks.deploy(unique_name, alarm_template(unique_name, metric_math(unique_name)))
    alarms = aws_clients.client("cloudwatch").describe_alarms(AlarmNamePrefix=unique_name)["MetricAlarms"]
    by_name = {alarm["AlarmName"]: alarm for alarm in alarms}

    errors = by_name[f"{unique_name}-errors"]
    assert [query["Id"] for query in errors["Metrics"]] == ["rate", "errors", "invocations"]
    assert errors["Metrics"][0]["Expression"] == "IF(invocations > 0, errors / invocations, 0)"
    assert errors["Metrics"][1]["MetricStat"]["Metric"]["MetricName"] == "Invocation5XXErrors"
    endpoint_dimension = errors["Metrics"][1]["MetricStat"]["Metric"]["Dimensions"][0]
    assert endpoint_dimension == {"Name": "EndpointName", "Value": unique_name}
    assert [query["ReturnData"] for query in errors["Metrics"]] == [True, False, False]
    assert (errors["EvaluationPeriods"], errors["DatapointsToAlarm"], errors["Threshold"]) == (3, 2, 0.05)
    assert not {"MetricName", "Namespace", "Statistic", "Period"} & set(errors)

    latency = by_name[f"{unique_name}-latency"]
    assert latency["ExtendedStatistic"] == "p99"
    assert "Statistic" not in latency


def test_a_metric_math_alarm_without_one_returned_series_fails_the_deploy(
    stacks: TemplateStacks, unique_name: str
) -> None:
    with pytest.raises(DeployError, match="exactly one of Metrics must have ReturnData true"):
        stacks.deploy(unique_name, alarm_template(unique_name, metric_math(unique_name, (True, True, False))))


def test_a_composite_alarm_deploys_over_its_children(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    # CloudFormation reference, AWS::CloudWatch::CompositeAlarm: Ref is the name, Fn::GetAtt Arn the ARN; the
    # rule may name children by ARN (PutCompositeAlarm, AlarmRule), as CDK's AlarmRule.fromAlarm does.
    template = alarm_template(unique_name, metric_math(unique_name))
    rule = {
        "Fn::Join": [
            "",
            [
                'ALARM("',
                {"Fn::GetAtt": ["ErrorRate", "Arn"]},
                '") OR ALARM("',
                {"Fn::GetAtt": ["Latency", "Arn"]},
                '")',
            ],
        ]
    }
    template["Resources"]["Any"] = {
        "Type": "AWS::CloudWatch::CompositeAlarm",
        "Properties": {"AlarmName": f"{unique_name}-any", "AlarmRule": rule, "AlarmDescription": "either"},
    }
    template["Outputs"] = {"Name": {"Value": {"Ref": "Any"}}, "Arn": {"Value": {"Fn::GetAtt": ["Any", "Arn"]}}}
    deployment = stacks.deploy(unique_name, template)
    cloudwatch = aws_clients.client("cloudwatch")
    (composite,) = cloudwatch.describe_alarms(AlarmNames=[f"{unique_name}-any"], AlarmTypes=["CompositeAlarm"])[
        "CompositeAlarms"
    ]
    assert composite["AlarmRule"].startswith('ALARM("arn:aws:cloudwatch:') and composite["AlarmDescription"] == "either"
    assert deployment.outputs == {"Name": f"{unique_name}-any", "Arn": composite["AlarmArn"]}
    # A child in ALARM puts the composite in ALARM, naming it as the state change event does.
    cloudwatch.set_alarm_state(AlarmName=f"{unique_name}-latency", StateValue="ALARM", StateReason="test")
    (composite,) = cloudwatch.describe_alarms(AlarmNames=[f"{unique_name}-any"], AlarmTypes=["CompositeAlarm"])[
        "CompositeAlarms"
    ]
    assert composite["StateValue"] == "ALARM"
    assert f"{unique_name}-latency" in json.loads(composite["StateReasonData"])["triggeringAlarms"][0]["arn"]


def test_a_composite_alarm_over_a_missing_alarm_fails_the_deploy(stacks: TemplateStacks, unique_name: str) -> None:
    template = {
        "Resources": {
            "Any": {
                "Type": "AWS::CloudWatch::CompositeAlarm",
                "Properties": {"AlarmName": f"{unique_name}-any", "AlarmRule": f'ALARM("{unique_name}-nothing")'},
            }
        }
    }
    with pytest.raises(DeployError, match="in the alarm rule do not exist"):
        stacks.deploy(unique_name, template)


# --- properties the emulator's provisioners dropped ------------------------------------------


def code_zip(source: str) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", source)
    return archive.getvalue()


POWERTOOLS_HANDLER = """
import aws_lambda_powertools

def handler(event, context):
    return {"powertools": aws_lambda_powertools.__version__}
"""


def function_template(name: str, bucket: str, *, reserved: int | None, layer: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Handler": "handler.handler",
        "Role": ROLE_ARN,
        "Code": {"S3Bucket": bucket, "S3Key": "code.zip"},
    }
    if reserved is not None:
        properties["ReservedConcurrentExecutions"] = reserved
    if layer is not None:
        properties["Layers"] = [layer]
    return {"Resources": {"Function": {"Type": "AWS::Lambda::Function", "Properties": properties}}}


def test_reserved_concurrency_of_a_function_is_applied_and_removed(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    s3, lambda_ = aws_clients.client("s3"), aws_clients.client("lambda")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="code.zip", Body=code_zip(POWERTOOLS_HANDLER))
    stacks.deploy(unique_name, function_template(unique_name, unique_name, reserved=1, layer=None))
    assert lambda_.get_function_concurrency(FunctionName=unique_name)["ReservedConcurrentExecutions"] == 1
    stacks.deploy(unique_name, function_template(unique_name, unique_name, reserved=None, layer=None))
    assert "ReservedConcurrentExecutions" not in lambda_.get_function_concurrency(FunctionName=unique_name)


def test_a_public_layer_that_is_not_held_locally_deploys_and_the_function_runs_without_it(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    """The pipeline's functions name the public Powertools layer (another account's). Offline, the
    local AWS cannot hold its bytes: the reference resolves (the stack deploys) and the function
    runs on the emulator's interpreter, which has the packages the layer would bring."""
    s3, lambda_ = aws_clients.client("s3"), aws_clients.client("lambda")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="code.zip", Body=code_zip(POWERTOOLS_HANDLER))
    layer = f"arn:aws:lambda:{REGION}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"
    stacks.deploy(unique_name, function_template(unique_name, unique_name, reserved=None, layer=layer))

    assert lambda_.get_function_configuration(FunctionName=unique_name)["Layers"][0]["Arn"] == layer
    response = lambda_.invoke(FunctionName=unique_name, Payload=b"{}")
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["powertools"].startswith("3.")


def test_a_missing_layer_of_the_own_account_fails_the_deploy_as_on_aws(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="code.zip", Body=code_zip(POWERTOOLS_HANDLER))
    layer = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{unique_name}:1"
    with pytest.raises(DeployError, match="does not exist"):
        stacks.deploy(unique_name, function_template(unique_name, unique_name, reserved=None, layer=layer))


def test_topic_schedule_and_state_machine_keep_their_configuration(
    stacks: TemplateStacks, aws_clients: LocalClients, unique_name: str
) -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    log_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/{unique_name}:*"
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": unique_name, "KmsMasterKeyId": key}},
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": unique_name,
                    "RoleArn": ROLE_ARN,
                    "DefinitionString": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
                    "LoggingConfiguration": {
                        "Level": "ALL",
                        "IncludeExecutionData": True,
                        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": log_group}}],
                    },
                    "TracingConfiguration": {"Enabled": True},
                },
            },
            "Schedule": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Name": unique_name,
                    "ScheduleExpression": "cron(0 6 * * ? *)",
                    "ScheduleExpressionTimezone": "Europe/Berlin",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {"Arn": {"Ref": "Machine"}, "RoleArn": ROLE_ARN, "Input": "{}"},
                },
            },
        }
    }
    stacks.deploy(unique_name, template)

    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique_name}"
    attributes = aws_clients.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == key
    schedule = aws_clients.client("scheduler").get_schedule(Name=unique_name)
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    machine = aws_clients.client("stepfunctions").describe_state_machine(
        stateMachineArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{unique_name}"
    )
    assert machine["loggingConfiguration"] == {
        "level": "ALL",
        "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group}}],
    }
    assert machine["tracingConfiguration"] == {"enabled": True}


# --- AWS::StepFunctions::StateMachine ---------------------------------------------------------


def sync_machine_template(name: str, may_create_the_rule: bool) -> dict[str, Any]:
    """A role and a state machine of one `createTrainingJob.sync` Task, with or without the managed rule's grant."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": "*"},
    ]
    if may_create_the_rule:
        rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                "Resource": rule,
            }
        )
    trust = {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    task = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True}
    return {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": f"{name}-machine",
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]},
                    "Policies": [
                        {"PolicyName": "jobs", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}
                    ],
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": name,
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "DefinitionString": json.dumps({"StartAt": "Train", "States": {"Train": task}}),
                },
            },
        }
    }


def test_a_state_machine_whose_role_may_not_create_the_managed_rule_fails_the_deploy(
    stacks: TemplateStacks, unique_name: str
) -> None:
    # As reported from AWS (aws-samples/amazon-sagemaker-safe-deployment-pipeline#29): the template's state machine
    # of SageMaker `.sync` jobs fails with "'<role ARN>' is not authorized to create managed-rule."
    with pytest.raises(DeployError, match="is not authorized to create managed-rule"):
        stacks.deploy(unique_name, sync_machine_template(unique_name, may_create_the_rule=False))
    stacks.delete(unique_name)

    deployed = stacks.deploy(f"{unique_name}-ok", sync_machine_template(f"{unique_name}-ok", may_create_the_rule=True))
    assert deployed is not None
    stacks.delete(f"{unique_name}-ok")
