"""The project's real stack (`infra/app.py`, unchanged) deployed into the embedded local AWS, and its
pieces working there: outputs, functions, the Glue job, the state machine, the model registry, the
rollback alarms, the three triggers, a no-op redeploy and a restart.

The stack gets a local AWS of its own (the restart test restarts it; the session's shared one must
not go away under other tests). It is deployed once, through `local.deploy.deploy_project_stack`,
the call the CLI makes.

The schedule's expression is `rate(1 day)` (retrain.toml): instead of waiting a day, the tests fire
a one-time `at(...)` clone of the deployed schedule with the deployed schedule's very target (the
starter function, its role, its input, its retry policy). It goes through the Scheduler's own firing
path into the deployed starter; only the expression differs, and `at` and `rate` schedules fire
through the same code (tests/contract/emulator/test_triggers.py).

Triggered executions are named after their 15-minute UTC window, and Step Functions never reuses a
name: within one window only one triggered execution can ever start. The test that needs a second
start (an object landing with nothing running) gets a second, fresh local AWS for it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from retrain.config import RetrainConfig, load_config
from retrain.monitoring import monitoring_schedule_name
from tests.support.polling import wait_until
from tests.support.stack import (
    NAME,
    OUTPUTS,
    TASK_MODULES,
    TRIGGER_TIMEOUT,
    DeployedStack,
    snapshot_project,
    start_and_deploy,
    window_names,
)

pytestmark = [pytest.mark.local, pytest.mark.slow]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the project's app and everything it reads."""
    return snapshot_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, project: Path) -> Iterator[DeployedStack]:
    # No warm Spark driver: the one Spark run here (the extra-py-files check) is worth less than the standbys its
    # deploys, config change and restart would start.
    deployed = start_and_deploy(tmp_path_factory.mktemp("stack-home"), project, standbys=False)
    try:
        yield deployed
    finally:
        deployed.aws.stop()


@pytest.fixture
def config(project: Path) -> RetrainConfig:
    return load_config(project / "retrain.toml")


# --- what was deployed ------------------------------------------------------------------------


def test_the_first_deploy_synthesized_the_app_and_created_the_stack(stack: DeployedStack) -> None:
    assert stack.first_status == "CREATE_COMPLETE"
    assert stack.first_deploy == [f"synthesizing {stack.project / 'infra' / 'app.py'}", f"deploying stack {NAME}"]
    # Its local AWS was started with RETRAIN_LOCAL_GLUE_STANDBYS=0: creating the Glue job started no warm driver.
    log = stack.home.emulator_log.read_text(encoding="utf-8").splitlines()
    assert not [line for line in log if "retrain.local.standby" in line and "started" in line]


def test_every_output_is_present(stack: DeployedStack, config: RetrainConfig) -> None:
    outputs = stack.outputs
    assert set(outputs) == OUTPUTS
    assert all(outputs.values())
    assert outputs["StateMachineArn"].endswith(f":stateMachine:{NAME}")
    assert outputs["ModelPackageGroupName"] == f"{NAME}-models"
    assert outputs["EndpointName"] == config.deployment.endpoint_name
    assert outputs["GlueJobName"] == f"{NAME}-prepare-data"
    assert outputs["StarterFunctionName"] == f"{NAME}-start-retrain"
    assert len(outputs["CodeVersion"]) == 64
    # Each names something that exists.
    stack.client("s3").head_bucket(Bucket=outputs["DataBucketName"])
    assert stack.client("dynamodb").describe_table(TableName=outputs["StateTableName"])["Table"]["KeySchema"]
    topic = stack.client("sns").get_topic_attributes(TopicArn=outputs["NotificationTopicArn"])["Attributes"]
    assert topic["KmsMasterKeyId"].startswith("arn:aws:kms:")
    stack.client("iam").get_role(RoleName=outputs["MLLeadsRoleArn"].rsplit("/", 1)[-1])
    stack.client("sagemaker").describe_model_package_group(ModelPackageGroupName=outputs["ModelPackageGroupName"])


def definition(stack: DeployedStack) -> dict[str, Any]:
    described = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.machine_arn)
    return dict(json.loads(described["definition"]))


def test_the_state_machine_definition_is_fully_substituted(stack: DeployedStack) -> None:
    described = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.machine_arn)
    text = described["definition"]
    assert "${" not in text
    states = json.loads(text)["States"]
    function_arn = states["ValidateInput"]["Parameters"]["FunctionName"]
    assert function_arn.endswith(f":function:{NAME}-validate-input")
    resources = states["ValidateInput"]["Parameters"]["Payload"]["resources"]
    assert resources["bucket"] == stack.outputs["DataBucketName"]
    assert resources["code_version"] == stack.outputs["CodeVersion"]
    assert resources["training_code_uri"].startswith("s3://cdk-hnb659fds-assets-")
    assert stack.outputs["GlueJobName"] in text
    assert described["loggingConfiguration"]["level"] == "ALL"
    assert described["tracingConfiguration"] == {"enabled": True}


def test_validate_input_plans_a_run_from_a_real_event(stack: DeployedStack, config: RetrainConfig) -> None:
    resources = definition(stack)["States"]["ValidateInput"]["Parameters"]["Payload"]["resources"]
    event = {
        "execution_name": "manual-stack-test",
        "execution_id": stack.machine_arn.replace(":stateMachine:", ":execution:") + ":manual-stack-test",
        "start_time": "2026-11-21T10:00:00.000Z",
        "input": {"trigger": "manual", "reason": "stack test", "requested_by": "pytest", "traffic_routing": "LINEAR"},
        "resources": resources,
    }
    response = stack.client("lambda").invoke(FunctionName=f"{NAME}-validate-input", Payload=json.dumps(event))
    document = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, document
    run = document["run"]
    bucket = stack.outputs["DataBucketName"]
    assert (run["pipeline"], run["execution_name"], run["trigger"]) == (NAME, "manual-stack-test", "manual")
    assert (run["reason"], run["requested_by"]) == ("stack test", "pytest")
    assert run["bucket"] == bucket
    assert run["code_version"] == stack.outputs["CodeVersion"]
    assert run["model_package_group"] == stack.outputs["ModelPackageGroupName"]
    assert run["data"]["landing_uri"] == f"s3://{bucket}/{config.data.landing_prefix}"
    assert run["training"]["code_uri"] == resources["training_code_uri"]
    assert run["training"]["image_uri"] == resources["image_uri"]
    assert run["deployment"]["traffic_routing"]["Type"] == "LINEAR"
    assert run["deployment"]["alarms"] == [{"AlarmName": name} for name in config.deployment.alarm_names]
    assert document["data"] == {"checks_done": 0, "settle_checks_done": 0}


@pytest.mark.parametrize("module", TASK_MODULES)
def test_each_task_function_loads_and_answers_with_a_named_error(stack: DeployedStack, module: str) -> None:
    """An event that is not its contract: the function's code, config and Powertools load, and it
    answers with the domain error the definition catches (not an import or runtime error)."""
    response = stack.client("lambda").invoke(
        FunctionName=f"{NAME}-{module.replace('_', '-')}", Payload=json.dumps({"unexpected": True})
    )
    body = json.loads(response["Payload"].read())
    assert response.get("FunctionError") == "Unhandled", body
    assert body["errorType"] in ("InvalidTaskInput", "InvalidExecutionInput"), body


def test_the_functions_have_the_stacks_configuration(stack: DeployedStack) -> None:
    lambda_ = stack.client("lambda")
    for module in (*TASK_MODULES, "start_retrain"):
        configuration = lambda_.get_function_configuration(FunctionName=f"{NAME}-{module.replace('_', '-')}")
        assert configuration["Handler"] == f"tasks.{module}.handler"
        assert configuration["Runtime"] == "python3.11"
        variables = configuration["Environment"]["Variables"]
        assert variables["TOPIC_ARN"] == stack.outputs["NotificationTopicArn"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == NAME
        # The public Powertools layer is not held offline: referenced, not present (see
        # tests/contract/emulator/test_cloudformation.py).
        assert [layer["Arn"].split(":")[6] for layer in configuration["Layers"]] == [
            "AWSLambdaPowertoolsPythonV3-python311-x86_64"
        ]
    starter = lambda_.get_function_configuration(FunctionName=stack.outputs["StarterFunctionName"])
    assert starter["Environment"]["Variables"]["STATE_MACHINE_ARN"] == stack.machine_arn
    concurrency = lambda_.get_function_concurrency(FunctionName=stack.outputs["StarterFunctionName"])
    assert concurrency["ReservedConcurrentExecutions"] == 1


def test_the_glue_job_has_the_stacks_arguments(stack: DeployedStack, config: RetrainConfig) -> None:
    s3 = stack.client("s3")
    job = stack.client("glue").get_job(JobName=stack.outputs["GlueJobName"])["Job"]
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == (
        config.glue.glue_version,
        config.glue.worker_type,
        config.glue.number_of_workers,
        config.glue.timeout_minutes,
    )
    assert job["MaxRetries"] == 0
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["Command"]["Name"] == "glueetl"
    stack.client("glue").get_security_configuration(Name=job["SecurityConfiguration"])

    def object_at(uri: str) -> bytes:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    assert object_at(job["Command"]["ScriptLocation"]) == (stack.project / "jobs" / "prepare_data.py").read_bytes()
    arguments = job["DefaultArguments"]
    with zipfile.ZipFile(io.BytesIO(object_at(arguments["--extra-py-files"]))) as modules:
        assert modules.namelist() == [
            "catalog.py",
            "cleaning.py",
            "failure_line.py",
            "features.py",
            "hadoop_storage.py",
            "landing.py",
            "prepare_failures.py",
            "time_split.py",
        ]
        for name in modules.namelist():
            assert modules.read(name) == (stack.project / "jobs" / name).read_bytes()
    assert arguments["--TempDir"] == f"s3://{stack.outputs['DataBucketName']}/tmp/glue/"
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"


def test_the_glue_job_imports_its_modules_from_the_extra_py_files_zip(stack: DeployedStack) -> None:
    """A run with an empty `--dataset` fails in `features.FeatureSpec`: the script imported
    `features` from the `--extra-py-files` zip (else: ModuleNotFoundError)."""
    glue, bucket = stack.client("glue"), stack.outputs["DataBucketName"]
    job_name = stack.outputs["GlueJobName"]
    run_id = glue.start_job_run(
        JobName=job_name,
        Arguments={
            "--run_name": "stack-test",
            "--landing_uri": f"s3://{bucket}/landing/",
            "--output_uri": f"s3://{bucket}/processed/stack-test/",
            "--window_end": "2026-11-21",
            "--training_window_days": "7",
            "--input_format": "csv",
            "--dataset": "{}",
        },
    )["JobRunId"]
    run = wait_until(
        lambda: (
            (r := glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"])["JobRunState"]
            in ("SUCCEEDED", "FAILED", "ERROR", "TIMEOUT")
            and r
        ),
        120,
        "the Glue job run",
    )
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith("InvalidJobArguments: --dataset: dataset configuration lacks"), run


def test_the_model_package_group_takes_candidates(stack: DeployedStack) -> None:
    group = stack.outputs["ModelPackageGroupName"]
    package = stack.client("sagemaker").create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {"Image": "local/sklearn", "ModelDataUrl": f"s3://{stack.outputs['DataBucketName']}/m.tar.gz"}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    assert package["ModelPackageArn"].startswith(f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{group}/")


def test_the_rollback_alarms_can_be_evaluated_by_the_local_sagemaker(
    stack: DeployedStack, config: RetrainConfig
) -> None:
    from local.sagemaker.alarms import AlarmDefinition

    names = config.deployment.alarm_names
    alarms = {a["AlarmName"]: a for a in stack.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]}
    assert set(alarms) == set(names)
    errors, latency = (AlarmDefinition.from_describe(alarms[name]) for name in names)
    assert {query.metric_name for query in errors.queries} == {"Invocation5XXErrors", "Invocations"}
    assert errors.expressions and errors.threshold == config.deployment.error_rate_threshold
    assert [query.statistic for query in latency.queries] == ["p99"]
    assert latency.threshold == config.deployment.latency_p99_threshold_ms * 1000
    endpoints = {dict(query.dimensions)["EndpointName"] for query in (*errors.queries, *latency.queries)}
    assert endpoints == {config.deployment.endpoint_name}


def test_redeploying_without_changes_is_a_no_op(stack: DeployedStack) -> None:
    cloudformation = stack.client("cloudformation")
    events_before = len(cloudformation.describe_stack_events(StackName=NAME)["StackEvents"])
    assert stack.deploy() == stack.outputs
    assert stack.progress == []  # neither synthesized nor deployed
    assert len(cloudformation.describe_stack_events(StackName=NAME)["StackEvents"]) == events_before


def test_a_config_change_updates_the_stack_and_the_functions_run_it(stack: DeployedStack) -> None:
    config_file = stack.project / "retrain.toml"
    text, changed = re.subn(r"^max_iter = (?!321\b)\d+", "max_iter = 321", config_file.read_text(), count=1, flags=re.M)
    assert changed == 1, "retrain.toml has no [training.hyperparameters] max_iter to change"
    config_file.write_text(text)
    assert stack.deploy() == stack.outputs
    assert stack.progress == [f"synthesizing {stack.project / 'infra' / 'app.py'}", f"deploying stack {NAME}"]
    [described] = stack.client("cloudformation").describe_stacks(StackName=NAME)["Stacks"]
    assert described["StackStatus"] == "UPDATE_COMPLETE"

    resources = definition(stack)["States"]["ValidateInput"]["Parameters"]["Payload"]["resources"]
    event = {
        "execution_name": "after-update",
        "execution_id": stack.machine_arn.replace(":stateMachine:", ":execution:") + ":after-update",
        "start_time": "2026-11-21T10:00:00.000Z",
        "input": {},
        "resources": resources,
    }
    response = stack.client("lambda").invoke(FunctionName=f"{NAME}-validate-input", Payload=json.dumps(event))
    run = json.loads(response["Payload"].read())["run"]
    assert run["training"]["hyperparameters"]["max_iter"] == "321"


# --- triggers -----------------------------------------------------------------------------------


def test_the_deployed_schedule_targets_the_starter(stack: DeployedStack, config: RetrainConfig) -> None:
    schedule = stack.client("scheduler").get_schedule(Name=f"{NAME}-schedule")
    assert schedule["ScheduleExpression"] == config.pipeline.schedule_expression
    assert schedule["ScheduleExpressionTimezone"] == config.pipeline.schedule_timezone
    assert schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"].endswith(f":function:{stack.outputs['StarterFunctionName']}")
    assert json.loads(schedule["Target"]["Input"]) == {"trigger": "schedule"}


@pytest.fixture(scope="module")
def scheduled_run(stack: DeployedStack) -> dict[str, Any]:
    """The execution the schedule started (it waits for data: the landing prefix is empty)."""
    stack.stop_running()
    before = {e["name"] for e in stack.executions()}  # runs other tests started, if they ran first
    decisions_before = len(stack.starter_decisions())
    fired_at = stack.fire_schedule()
    [execution] = wait_until(
        lambda: [e for e in stack.executions() if e["name"] not in before],
        TRIGGER_TIMEOUT,
        "the schedule to start an execution",
    )
    described = stack.describe(execution["executionArn"])
    described["fired_at"] = fired_at
    described["decisions_before"] = decisions_before
    return described


def test_the_schedule_starts_a_retrain_through_the_starter(stack: DeployedStack, scheduled_run: dict[str, Any]) -> None:
    # It waits 5 s for data (the local run defaults) and ends NoNewData: it may be over already.
    assert scheduled_run["status"] in ("RUNNING", "SUCCEEDED")
    assert json.loads(scheduled_run["input"]) == {"trigger": "schedule"}
    assert scheduled_run["name"] in window_names(scheduled_run["fired_at"], datetime.now(UTC))
    # The starter logs its decision after the start returned: the execution can be seen before the line.
    decision = stack.new_decision(scheduled_run["decisions_before"], trigger="schedule")
    assert (decision["started"], decision["execution_name"]) == (True, scheduled_run["name"])
    # Scheduler delivers at least once (a slow cold start can bring a second delivery), so the
    # starter may see the trigger twice: exactly one start, and any repeat covered by that run.
    decisions = stack.starter_decisions()[scheduled_run["decisions_before"] :]
    started = [d["execution_name"] for d in decisions if d["started"] and d["trigger"] == "schedule"]
    assert started == [scheduled_run["name"]]
    assert [e["name"] for e in stack.executions()].count(scheduled_run["name"]) == 1


def test_an_object_landing_while_a_retrain_runs_is_queued_and_started_when_the_run_ends(
    stack: DeployedStack, config: RetrainConfig
) -> None:
    running = stack.a_running_execution()
    seen = len(stack.starter_decisions())
    stack.land_object(f"{config.data.landing_prefix}2026-11-21/part-0.csv")
    decision = stack.new_decision(seen, trigger="new-data")
    assert (decision["started"], decision["queued"]) == (False, True)
    assert decision["running"] == [running]
    assert "queued" in decision["reason"]
    assert [e["name"] for e in stack.executions() if e["status"] == "RUNNING"] == [running]
    # The run ends (stopped here; any final status counts): Step Functions' status-change event
    # reaches the starter through the stack's rule, and the follow-up run starts, no schedule involved.
    seen = len(stack.starter_decisions())
    [execution] = [e for e in stack.executions() if e["name"] == running]
    stack.client("stepfunctions").stop_execution(executionArn=execution["executionArn"], cause="test")
    follow_up = stack.new_decision(seen, trigger="follow-up")
    assert (follow_up["started"], follow_up["ended_run"]) == (True, running)
    assert follow_up["execution_name"] == f"next-{running}"
    [started] = [e for e in stack.executions() if e["name"] == f"next-{running}"]
    sent = json.loads(stack.describe(started["executionArn"])["input"])
    assert sent["trigger"] == "follow-up" and f"queued while {running} ran" in sent["reason"]
    stack.stop_running()


def test_a_second_trigger_in_the_same_window_does_not_start_again(
    stack: DeployedStack, scheduled_run: dict[str, Any]
) -> None:
    """With nothing running any more, the schedule fires again: in the same 15-minute window the
    name is taken by the run it started, which covers it (the schedule has no data of its own);
    in the next window a new run starts."""
    stack.stop_running()
    before = {e["name"] for e in stack.executions()}  # other tests may have started runs of their own
    assert scheduled_run["name"] in before
    seen = len(stack.starter_decisions())
    fired_at = stack.fire_schedule()
    decision = stack.new_decision(seen, trigger="schedule")
    added = {e["name"] for e in stack.executions()} - before
    if decision["execution_name"] == scheduled_run["name"]:
        assert decision["started"] is False
        assert "covers this trigger" in decision["reason"]
        assert added == set()
    else:  # the window turned between the two firings
        assert decision["execution_name"] in window_names(fired_at, datetime.now(UTC))
        assert decision["started"] is True
        assert added == {decision["execution_name"]}
    stack.stop_running()


def test_the_drift_alarm_going_to_alarm_starts_a_drift_run_through_the_starter(
    stack: DeployedStack, config: RetrainConfig
) -> None:
    """A feature's drift alarm goes to ALARM (set here; the drift cycle publishes the metric), the composite
    follows, its state change event reaches the starter through the stack's rule, and the starter starts a
    `drift` run whose reason names the feature and its value, read from the feature's alarm."""
    stack.stop_running()
    schedule = monitoring_schedule_name(config.deployment.endpoint_name)
    cloudwatch, feature = stack.client("cloudwatch"), f"{schedule}-drift-amount"
    seen = len(stack.starter_decisions())
    cloudwatch.set_alarm_state(
        AlarmName=feature,
        StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [0.42] was greater than the threshold (0.1).",
        StateReasonData=json.dumps({"version": "1.0", "recentDatapoints": [0.42], "threshold": 0.1}),
    )
    try:
        decision = stack.new_decision(seen, trigger="drift")
        assert decision["started"] is True
        [started] = [e for e in stack.executions() if e["name"] == decision["execution_name"]]
        sent = json.loads(stack.describe(started["executionArn"])["input"])
        assert sent["trigger"] == "drift"
        assert sent["reason"] == f"drift alarm {schedule}-drift: amount 0.42 > 0.1"
        assert sent["detail"]["features"] == {"amount": 0.42}
    finally:
        cloudwatch.set_alarm_state(AlarmName=feature, StateValue="OK", StateReason="test over")
        stack.stop_running()


@pytest.fixture
def fresh_stack(
    tmp_path_factory: pytest.TempPathFactory, project: Path, stack: DeployedStack
) -> Iterator[DeployedStack]:
    """A second local AWS with the stack, where no execution name is taken yet; deployed from the first's
    synthesis (the first deploys first, so that its own first deploy still synthesizes)."""
    deployed = start_and_deploy(tmp_path_factory.mktemp("fresh-stack-home"), project, stack.synth_cache, standbys=False)
    try:
        yield deployed
    finally:
        deployed.stop_running()
        deployed.aws.stop()


def test_an_object_under_the_landing_prefix_starts_a_retrain(fresh_stack: DeployedStack, config: RetrainConfig) -> None:
    bucket = fresh_stack.outputs["DataBucketName"]
    fresh_stack.land_object("elsewhere/ignored.csv")  # outside the landing prefix: no trigger
    key = f"{config.data.landing_prefix}2026-11-21/part-0.csv"
    landed_at = fresh_stack.land_object(key)
    [execution] = wait_until(fresh_stack.executions, TRIGGER_TIMEOUT, "the new object to start an execution")
    described = fresh_stack.describe(execution["executionArn"])
    # Started by the landing. A triggered run waits 5 s for data here, then ends NoNewData (the object is not in
    # the counted layout), so on a busy machine it has sometimes ended by the time it is seen (a CI-like run).
    assert described["startDate"] >= landed_at - timedelta(seconds=1)  # the API's milliseconds
    assert described["status"] in ("RUNNING", "SUCCEEDED")
    assert described["name"] in window_names(landed_at, datetime.now(UTC))
    size = fresh_stack.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"]
    assert json.loads(described["input"]) == {
        "trigger": "new-data",
        "reason": f"new object s3://{bucket}/{key}",
        "detail": {"bucket": bucket, "key": key, "size": size},
    }
    decision = fresh_stack.new_decision(0, trigger="new-data")  # logged after the start returned
    assert [d for d in fresh_stack.starter_decisions() if d["trigger"] == "new-data"] == [decision]
    assert decision["started"] is True


# --- restart --------------------------------------------------------------------------------------


def test_a_restart_of_the_local_aws_keeps_the_stack(stack: DeployedStack, config: RetrainConfig) -> None:
    stack.stop_running()
    stack.aws.stop()
    stack.aws.start()

    [described] = stack.client("cloudformation").describe_stacks(StackName=NAME)["Stacks"]
    assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} == stack.outputs
    # Still a no-op: the record and the live stack agree after the restart.
    assert stack.deploy() == stack.outputs
    assert stack.progress == []
    # The pieces work and kept what the fixes applied.
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs["StarterFunctionName"], Payload=json.dumps({"trigger": "bogus"})
    )
    assert json.loads(response["Payload"].read())["errorType"] == "InvalidTaskInput"
    assert stack.client("glue").get_job(JobName=stack.outputs["GlueJobName"])["Job"]["ExecutionProperty"] == {
        "MaxConcurrentRuns": 1
    }
    concurrency = stack.client("lambda").get_function_concurrency(FunctionName=stack.outputs["StarterFunctionName"])
    assert concurrency["ReservedConcurrentExecutions"] == 1
    alarm = stack.client("cloudwatch").describe_alarms(AlarmNames=config.deployment.alarm_names[:1])["MetricAlarms"]
    assert alarm[0]["Metrics"]
    stack.client("sagemaker").describe_model_package_group(ModelPackageGroupName=stack.outputs["ModelPackageGroupName"])
    assert stack.client("scheduler").get_schedule(Name=f"{NAME}-schedule")["State"] == "ENABLED"
    assert "${" not in json.dumps(definition(stack))
