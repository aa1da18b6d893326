"""Every resource of the stack and its key properties, on the synthesized template."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.app import PROJECT_ROOT
from infra.approvals import ANSWER_FROM_REGISTRY
from infra.monitoring import DATA_METRICS_NAMESPACE, VARIANT_NAME
from infra.stack import METRICS_NAMESPACE, STARTER, TASKS
from infra.storage import GLACIER_MARGIN_DAYS
from retrain.config import RetrainConfig, load_config
from tests.support.synth import Synthesized


@pytest.fixture(scope="module")
def config() -> RetrainConfig:
    return load_config(PROJECT_ROOT / "retrain.toml")


def _ref(synthesized: Synthesized, resource_type: str) -> dict[str, str]:
    return {"Ref": synthesized.one(resource_type)[0]}


def _data_bucket(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    buckets = {
        logical_id: bucket
        for logical_id, bucket in synthesized.resources("AWS::S3::Bucket").items()
        if "LoggingConfiguration" in bucket["Properties"]
    }
    assert len(buckets) == 1
    return next(iter(buckets.items()))


# --- storage -----------------------------------------------------------------------------------


def test_both_buckets_are_encrypted_private_versioned_and_tls_only(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 2  # data + its access logs
    for bucket in buckets.values():
        properties = bucket["Properties"]
        rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    for logical_id in buckets:
        synthesized.template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": logical_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_data_bucket_logs_access_and_sends_events_to_eventbridge(synthesized: Synthesized) -> None:
    logical_id, bucket = _data_bucket(synthesized)
    logs_bucket = bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert logs_bucket in synthesized.resources("AWS::S3::Bucket") and logs_bucket != logical_id
    synthesized.template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {"BucketName": {"Ref": logical_id}, "NotificationConfiguration": {"EventBridgeConfiguration": {}}},
    )


def test_old_landing_data_moves_to_glacier_after_the_training_window(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    _, bucket = _data_bucket(synthesized)
    rules = {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    landing = rules["landing-to-glacier"]
    assert landing["Prefix"] == config.data.landing_prefix
    assert landing["Status"] == "Enabled"
    assert landing["Transitions"] == [
        {"StorageClass": "GLACIER", "TransitionInDays": config.data.training_window_days + GLACIER_MARGIN_DAYS}
    ]
    # Glue reads the whole window: nothing it needs may already be in Glacier.
    assert landing["Transitions"][0]["TransitionInDays"] > config.data.training_window_days


def test_state_table_has_string_keys_on_demand_pitr_and_encryption(synthesized: Synthesized) -> None:
    _, table = synthesized.one("AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_topic_is_kms_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    key_id, key = synthesized.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    topic_id, topic = synthesized.one("AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    synthesized.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


def test_email_subscription_exists_only_when_an_address_is_given(synthesized: Synthesized) -> None:
    parameters = synthesized.document["Parameters"]
    assert parameters["NotificationEmail"]["Default"] == ""
    _, subscription = synthesized.one("AWS::SNS::Subscription")
    condition = subscription["Condition"]
    assert synthesized.document["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "NotificationEmail"}, ""]}]
    }
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "NotificationEmail"}


# --- functions ---------------------------------------------------------------------------------


def _functions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """Our functions by handler (CDK's own notifications handler excluded)."""
    return {
        function["Properties"]["Handler"]: function
        for function in synthesized.resources("AWS::Lambda::Function").values()
        if function["Properties"]["Handler"].startswith("tasks.")
    }


def test_one_function_per_task_module_with_tracing_layer_and_environment(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    functions = _functions(synthesized)
    specs = [*TASKS.values(), STARTER, ANSWER_FROM_REGISTRY]
    assert sorted(functions) == sorted(spec.handler for spec in specs)
    topic = _ref(synthesized, "AWS::SNS::Topic")
    for spec in specs:
        properties = functions[spec.handler]["Properties"]
        assert (PROJECT_ROOT / "tasks" / f"{spec.module}.py").is_file()
        assert properties["Runtime"] in ("python3.11", "python3.12")
        assert properties["Architectures"] == ["x86_64"]  # the Powertools layer's architecture
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["FunctionName"] == f"{config.pipeline.name}-{spec.slug}"
        layer = json.dumps(properties["Layers"])
        assert "017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:${Version}" in layer
        variables = properties["Environment"]["Variables"]
        assert variables["TOPIC_ARN"] == topic
        assert variables["POWERTOOLS_SERVICE_NAME"] == config.pipeline.name
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
        assert "LogGroup" in properties["LoggingConfig"]
    starter = functions[STARTER.handler]["Properties"]
    assert starter["Environment"]["Variables"]["STATE_MACHINE_ARN"] == {
        "Ref": synthesized.one("AWS::StepFunctions::StateMachine")[0]
    }
    assert starter["ReservedConcurrentExecutions"] == 1
    state_table, _ = synthesized.one("AWS::DynamoDB::Table")
    assert starter["Environment"]["Variables"]["STATE_TABLE_NAME"] == {"Ref": state_table}
    assert starter["Environment"]["Variables"]["PIPELINE_NAME"] == config.pipeline.name


def test_every_function_has_its_own_role_and_log_group_with_retention(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    roles = [function["Properties"]["Role"]["Fn::GetAtt"][0] for function in functions.values()]
    assert len(set(roles)) == len(roles)
    log_groups = synthesized.resources("AWS::Logs::LogGroup")
    for function in functions.values():
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        name = log_groups[log_group]["Properties"]["LogGroupName"]
        assert name == f"/aws/lambda/{function['Properties']['FunctionName']}"
        assert log_groups[log_group]["Properties"]["RetentionInDays"] > 0
    for role in roles:
        assert "ManagedPolicyArns" not in synthesized.document["Resources"][role]["Properties"]


def test_the_layer_version_is_a_deploy_parameter(synthesized: Synthesized) -> None:
    parameter = synthesized.document["Parameters"]["PowertoolsLayerVersion"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 27


def test_the_code_asset_holds_only_the_core_the_handlers_and_the_config(synthesized: Synthesized) -> None:
    function = _functions(synthesized)[STARTER.handler]
    key = function["Properties"]["Code"]["S3Key"]  # <hash>.zip
    manifest = json.loads((synthesized.outdir / f"{synthesized.stack.artifact_id}.assets.json").read_text())
    staged = synthesized.outdir / manifest["files"][key.removesuffix(".zip")]["source"]["path"]
    assert staged.is_dir()
    files = sorted(str(path.relative_to(staged)) for path in staged.rglob("*") if path.is_file())
    assert "retrain.toml" in files
    assert "tasks/start_retrain.py" in files and "retrain/triggers.py" in files
    tops = {Path(name).parts[0] for name in files}
    assert tops == {"retrain", "tasks", "retrain.toml"}
    assert not [name for name in files if name.startswith("cli/")]
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]


# --- jobs --------------------------------------------------------------------------------------


def test_glue_job_runs_the_script_with_its_module_metrics_and_continuous_logs(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    _, job = synthesized.one("AWS::Glue::Job")
    properties = job["Properties"]
    assert properties["Name"] == f"{config.pipeline.name}-prepare-data"
    assert properties["Command"]["Name"] == "glueetl"
    assert properties["Command"]["ScriptLocation"]["Fn::Sub"].endswith(".py")
    assert properties["GlueVersion"] == config.glue.glue_version
    assert properties["WorkerType"] == config.glue.worker_type
    assert properties["NumberOfWorkers"] == config.glue.number_of_workers
    assert properties["Timeout"] == config.glue.timeout_minutes
    arguments = properties["DefaultArguments"]
    assert arguments["--extra-py-files"]["Fn::Sub"].endswith(".zip")
    assert arguments["--enable-metrics"] == "true"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    security_id, security = synthesized.one("AWS::Glue::SecurityConfiguration")
    assert properties["SecurityConfiguration"] == {"Ref": security_id}
    encryption = security["Properties"]["EncryptionConfiguration"]
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_the_glue_script_and_its_modules_are_the_project_files(synthesized: Synthesized) -> None:
    _, job = synthesized.one("AWS::Glue::Job")
    properties = job["Properties"]
    script = properties["Command"]["ScriptLocation"]["Fn::Sub"].rsplit("/", 1)[1]  # <hash>.py
    assert (synthesized.outdir / f"asset.{script}").read_bytes() == (
        PROJECT_ROOT / "jobs" / "prepare_data.py"
    ).read_bytes()
    # The flat imports (`from features import ...`) work because a zip goes on the Python path.
    modules = properties["DefaultArguments"]["--extra-py-files"]["Fn::Sub"].rsplit("/", 1)[1]
    assert modules.endswith(".zip")
    with zipfile.ZipFile(synthesized.outdir / f"asset.{modules}") as archive:
        assert archive.namelist() == [
            "catalog.py",
            "cleaning.py",
            "failure_line.py",
            "features.py",
            "hadoop_storage.py",
            "landing.py",
            "prepare_failures.py",
            "time_split.py",
        ]
        for name in archive.namelist():
            assert archive.read(name) == (PROJECT_ROOT / "jobs" / name).read_bytes()


def test_model_package_group_is_named_like_the_substitution(synthesized: Synthesized) -> None:
    _, group = synthesized.one("AWS::SageMaker::ModelPackageGroup")
    _, machine = synthesized.one("AWS::StepFunctions::StateMachine")
    name = group["Properties"]["ModelPackageGroupName"]
    assert machine["Properties"]["DefinitionSubstitutions"]["ModelPackageGroupName"] == name


# --- orchestration -----------------------------------------------------------------------------


def test_state_machine_is_standard_traced_and_logs_everything(synthesized: Synthesized) -> None:
    _, machine = synthesized.one("AWS::StepFunctions::StateMachine")
    properties = machine["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
    log_group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = synthesized.document["Resources"][log_group]["Properties"]
    assert group["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert group["RetentionInDays"] >= 365


def test_the_schedule_starts_the_starter_with_the_config_expression(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    _, schedule = synthesized.one("AWS::Scheduler::Schedule")
    properties = schedule["Properties"]
    assert properties["ScheduleExpression"] == config.pipeline.schedule_expression
    assert properties["ScheduleExpressionTimezone"] == config.pipeline.schedule_timezone
    assert properties["State"] == "ENABLED"
    target = properties["Target"]
    assert json.loads(target["Input"]) == {"trigger": "schedule"}
    starter_id = next(
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == STARTER.handler
    )
    assert target["Arn"] == {"Fn::GetAtt": [starter_id, "Arn"]}
    role = synthesized.document["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }


def _rule(synthesized: Synthesized, name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, rule)
        for logical_id, rule in synthesized.resources("AWS::Events::Rule").items()
        if rule["Properties"]["Name"].endswith(name)
    ]
    return found


def _starter_id(synthesized: Synthesized) -> str:
    return next(
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == STARTER.handler
    )


def test_the_end_of_any_run_of_the_machine_reaches_the_starter(synthesized: Synthesized) -> None:
    # Step Functions sends "Step Functions Execution Status Change" events to the default bus
    # (Step Functions developer guide, eventbridge-integration); the starter takes the final ones.
    rule_id, rule = _rule(synthesized, "-run-ended")
    properties = rule["Properties"]
    machine_id, _ = synthesized.one("AWS::StepFunctions::StateMachine")
    assert properties["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [{"Ref": machine_id}], "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]},
    }
    (target,) = properties["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0] == _starter_id(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}},
    )


def test_new_objects_under_the_landing_prefix_start_the_starter(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    rule_id, rule = _rule(synthesized, "-new-data")
    properties = rule["Properties"]
    bucket_id, _ = _data_bucket(synthesized)
    assert properties["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": bucket_id}]},
            "object": {"key": [{"prefix": config.data.landing_prefix}]},
        },
    }
    (target,) = properties["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0] == next(
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == STARTER.handler
    )
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        },
    )


def test_a_decision_in_the_model_registry_reaches_the_registry_function(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    # "Events that Amazon SageMaker sends to Amazon EventBridge": SageMaker Model Package State Change.
    rule_id, rule = _rule(synthesized, "-registry-decision")
    properties = rule["Properties"]
    assert properties["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": [f"{config.pipeline.name}-models"],
            "ModelApprovalStatus": ["Approved", "Rejected"],
        },
    }
    (target,) = properties["Targets"]
    function_id = next(
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == ANSWER_FROM_REGISTRY.handler
    )
    assert target["Arn"]["Fn::GetAtt"][0] == function_id
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    variables = synthesized.resources("AWS::Lambda::Function")[function_id]["Properties"]["Environment"]["Variables"]
    state_table, _ = synthesized.one("AWS::DynamoDB::Table")
    assert variables["STATE_TABLE_NAME"] == {"Ref": state_table}
    assert variables["PIPELINE_NAME"] == config.pipeline.name
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}},
    )


# --- alarms ------------------------------------------------------------------------------------


def test_alarms_are_named_as_the_config_says_and_watch_the_endpoint(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    deployment = config.deployment
    alarms = {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") != DATA_METRICS_NAMESPACE  # the drift alarm's: test_drift_alarm.py
    }
    errors_name, latency_name = deployment.alarm_names
    assert sorted(alarms) == sorted(deployment.alarm_names)
    dimensions = [
        {"Name": "EndpointName", "Value": deployment.endpoint_name},
        {"Name": "VariantName", "Value": VARIANT_NAME},
    ]

    errors = alarms[errors_name]
    assert errors["Threshold"] == deployment.error_rate_threshold
    assert errors["ComparisonOperator"] == "GreaterThanThreshold"
    queries = {query["Id"]: query for query in errors["Metrics"]}
    expression = next(query for query in queries.values() if "Expression" in query)
    assert expression["Expression"] == "IF(invocations > 0, errors / invocations, 0)"
    for query_id, metric_name in (("errors", "Invocation5XXErrors"), ("invocations", "Invocations")):
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"]["Namespace"] == "AWS/SageMaker"
        assert stat["Metric"]["MetricName"] == metric_name
        assert sorted(stat["Metric"]["Dimensions"], key=lambda d: d["Name"]) == dimensions
        assert stat["Stat"] == "Sum"
        assert queries[query_id]["ReturnData"] is False

    latency = alarms[latency_name]
    assert latency["MetricName"] == "ModelLatency"
    assert latency["Namespace"] == "AWS/SageMaker"
    assert latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == deployment.latency_p99_threshold_ms * 1000  # microseconds
    assert sorted(latency["Dimensions"], key=lambda d: d["Name"]) == dimensions
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [_ref(synthesized, "AWS::SNS::Topic")]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_alarm_dimensions_use_the_variant_the_definition_deploys() -> None:
    definition = json.loads((PROJECT_ROOT / "definitions" / "retrain.asl.json").read_text())
    variants = {
        variant["VariantName"]
        for state in definition["States"].values()
        for variant in state.get("Parameters", {}).get("ProductionVariants", [])
    }
    assert variants == {VARIANT_NAME}


# --- people and outputs ------------------------------------------------------------------------


def test_ml_leads_role_is_assumable_by_the_account_by_default(synthesized: Synthesized) -> None:
    roles = synthesized.resources("AWS::IAM::Role")
    (leads,) = [role for logical_id, role in roles.items() if logical_id.startswith("MLLeads")]
    (statement,) = leads["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    principal = json.dumps(statement["Principal"])
    assert ":iam::" in principal and ":root" in principal


def test_outputs_name_what_operators_need(synthesized: Synthesized) -> None:
    outputs = synthesized.document["Outputs"]
    for name in (
        "StateMachineArn",
        "StateMachineConsoleUrl",
        "DataBucketName",
        "NotificationTopicArn",
        "StateTableName",
        "MLLeadsRoleArn",
        "ModelRegistryConsoleUrl",
    ):
        assert name in outputs, name
    console = json.dumps(outputs["StateMachineConsoleUrl"]["Value"])
    assert "console.aws.amazon.com/states/home" in console and "statemachines/view/" in console
