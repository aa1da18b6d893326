"""The rollout of an approved candidate to the live endpoint, as one unit of the definition.

    CreateModel → CreateEndpointConfig → DescribeLiveEndpoint → UpdateEndpoint
                                                               | EndpointMissing? → CreateEndpoint | undo
      (a failure up to here: undo = statemachines/undeploy.py, then the failure path)
      → StartEndpointPolling → WaitForEndpoint → CheckEndpoint → EndpointStatus?
          InService on the new config  → PromoteChampion → MonitoringOn? → ScheduleMonitoring
                                         | SageMaker.ResourceNotFoundException → CreateMonitoringSchedule
                                         → NotifySuccess → Promoted (a monitoring error is kept, never fatal)
          InService on another config  → ReadRollbackCause → RecordRollback → DeploymentRolledBack (Fail)
          Failed / UpdateRollbackFailed, or too many polls → EndpointFailed / EndpointTimedOut → failure path
          anything else                → CountEndpointPoll → WaitForEndpoint

It reads `$.run` (names, training role, deployment settings), `$.package.arn`, and for the champion
record `$.data`, `$.training.model_data_url`, `$.decision` and `$.approval`; it writes under
`$.deployment`, then `$.champion`, `$.monitoring` (or `$.monitoring_error`) and `$.notified`.
"""

from __future__ import annotations

from stepfunctions.steps import Catch, Choice, ChoiceRule, Pass, Succeed, Wait
from stepfunctions.steps.states import State

from retrain.contracts import Champion
from retrain.errors import DeploymentRolledBack, EndpointDeploymentFailed
from statemachines.placeholders import Placeholder
from statemachines.policies import Timeouts, select_fields
from statemachines.sdk_extensions import FailFromPaths, TrimmedTask
from statemachines.states import (
    catch_all,
    describe_endpoint_whole,
    execution_tags,
    fail_with,
    lambda_task,
    notice,
    reject_package,
    sagemaker_sdk_task,
    sagemaker_task,
)
from statemachines.undeploy import undeploy_candidate

VARIANT_NAME = "AllTraffic"
ENDPOINT = "$.run.deployment.endpoint_name"
NEW_CONFIG = "$.run.names.endpoint_config"
STATUS = "$.deployment.current.status"


def rollout(failure: State) -> TrimmedTask:
    """The rollout's states, wired; returns its first state. Unexpected errors go to `failure`."""
    create_model = _create_model()
    create_config = _create_endpoint_config()
    describe_live = sagemaker_sdk_task(
        "DescribeLiveEndpoint",
        "describeEndpoint",
        parameters={"EndpointName.$": ENDPOINT},
        result_selector={"status.$": "$.EndpointStatus", "config.$": "$.EndpointConfigName"},
        result_path="$.deployment.before",
        comment="Is there a live endpoint to update? If not, it is created.",
    )
    create_endpoint = _create_endpoint()
    update_endpoint = _update_endpoint()
    # Until the endpoint takes the candidate, a failure undoes the rollout (statemachines/undeploy.py).
    undeploy = undeploy_candidate(failure)
    for state in (create_model, create_config, create_endpoint, update_endpoint):
        state.add_catch(catch_all(undeploy))
    # DescribeEndpoint of a missing endpoint is an error (ValidationException, 'Could not find endpoint
    # "<arn>".'): that alone is the "create" branch. Throttling is retried; any other error (access
    # denied...) fails the run rather than creating an endpoint that may exist.
    describe_live.add_catch(catch_all(_endpoint_missing(create_endpoint, undeploy), result_path="$.deployment.lookup"))

    start_polling = _endpoint_polling(failure)
    create_model.next(create_config)
    create_config.next(describe_live)
    describe_live.next(update_endpoint)
    create_endpoint.next(start_polling)
    update_endpoint.next(start_polling)
    return create_model


def _endpoint_missing(create_endpoint: State, undeploy: State) -> Choice:
    missing = Choice("EndpointMissing?", comment="Did DescribeEndpoint fail because there is no endpoint yet?")
    missing.add_choice(
        ChoiceRule.StringMatches("$.deployment.lookup.Cause", "*Could not find endpoint*"), create_endpoint
    )
    lookup_failed = Pass(
        "EndpointLookupFailed",
        comment="Any other DescribeEndpoint error fails the run with that error.",
        parameters={"Error.$": "$.deployment.lookup.Error", "Cause.$": "$.deployment.lookup.Cause"},
        result_path="$.error",
    )
    lookup_failed.next(undeploy)
    missing.default_choice(lookup_failed)
    return missing


def _create_model() -> TrimmedTask:
    return sagemaker_task(
        "CreateModel",
        "createModel",
        parameters={
            "ModelName.$": "$.run.names.model",
            "ExecutionRoleArn.$": "$.run.training.role_arn",
            "PrimaryContainer": {"ModelPackageName.$": "$.package.arn"},
            "Tags": execution_tags(),
        },
        result_selector={"arn.$": "$.ModelArn"},
        result_path="$.deployment.model",
        comment="A SageMaker model from the registered (now approved) package.",
        timeout_seconds=Timeouts.ENDPOINT_CALL,
    )


def _create_endpoint_config() -> TrimmedTask:
    return sagemaker_task(
        "CreateEndpointConfig",
        "createEndpointConfig",
        parameters={
            "EndpointConfigName.$": NEW_CONFIG,
            "ProductionVariants": [
                {
                    "VariantName": VARIANT_NAME,
                    "ModelName.$": "$.run.names.model",
                    "InstanceType.$": "$.run.deployment.instance_type",
                    "InitialInstanceCount.$": "$.run.deployment.initial_instance_count",
                    "InitialVariantWeight": 1,
                }
            ],
            # Every new fleet captures as the last one did: capture survives blue/green updates.
            "DataCaptureConfig.$": "$.run.deployment.data_capture",
            "Tags": execution_tags(),
        },
        result_selector={"arn.$": "$.EndpointConfigArn"},
        result_path="$.deployment.config",
        comment="The endpoint config of the new (green) fleet.",
        timeout_seconds=Timeouts.ENDPOINT_CALL,
    )


def _create_endpoint() -> TrimmedTask:
    return sagemaker_task(
        "CreateEndpoint",
        "createEndpoint",
        parameters={"EndpointName.$": ENDPOINT, "EndpointConfigName.$": NEW_CONFIG, "Tags": execution_tags()},
        result_selector={"arn.$": "$.EndpointArn"},
        result_path="$.deployment.endpoint",
        comment="First deployment: the endpoint is created with the candidate.",
        timeout_seconds=Timeouts.ENDPOINT_CALL,
    )


def _update_endpoint() -> TrimmedTask:
    # The AWS SDK integration, not the optimized `sagemaker:updateEndpoint`: Step Functions checks
    # an optimized integration's fields when the state machine is created, and no AWS document says
    # that one takes `DeploymentConfig`; the SDK integration takes every field of the API.
    return sagemaker_sdk_task(
        "UpdateEndpoint",
        "updateEndpoint",
        parameters={
            "EndpointName.$": ENDPOINT,
            "EndpointConfigName.$": NEW_CONFIG,
            "RetainAllVariantProperties": False,
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration.$": "$.run.deployment.traffic_routing",
                    "TerminationWaitInSeconds.$": "$.run.deployment.termination_wait_seconds",
                    "MaximumExecutionTimeoutInSeconds.$": "$.run.deployment.maximum_execution_timeout_seconds",
                },
                "AutoRollbackConfiguration": {"Alarms.$": "$.run.deployment.alarms"},
            },
        },
        result_selector={"arn.$": "$.EndpointArn"},
        result_path="$.deployment.endpoint",
        comment="Blue/green update: traffic shifts to the new fleet by the configured routing; "
        "SageMaker rolls back by itself if an alarm fires.",
    )


def _endpoint_polling(failure: State) -> Pass:
    """The bounded Wait/DescribeEndpoint loop and where each status leads; returns its first state."""
    start_polling = Pass(
        "StartEndpointPolling",
        comment="Counts the DescribeEndpoint polls from zero.",
        result={"polls": 0},
        result_path="$.deployment.wait",
    )
    wait_for_endpoint = Wait(
        "WaitForEndpoint",
        comment="Waits between two looks at the endpoint.",
        seconds_path="$.run.deployment.poll_seconds",
    )
    check_endpoint = sagemaker_sdk_task(
        "CheckEndpoint",
        "describeEndpoint",
        parameters={"EndpointName.$": ENDPOINT},
        result_selector={"status.$": "$.EndpointStatus", "config.$": "$.EndpointConfigName"},
        result_path="$.deployment.current",
        comment="The endpoint's status and the config it serves.",
    )
    check_endpoint.add_catch(catch_all(failure))
    count_poll = Pass(
        "CountEndpointPoll",
        comment="One more poll.",
        parameters={"polls.$": "States.MathAdd($.deployment.wait.polls, 1)"},
        result_path="$.deployment.wait",
    )

    endpoint_failed = fail_with(
        "EndpointFailed",
        EndpointDeploymentFailed.__name__,
        "The endpoint went to Failed while deploying the candidate. Read its FailureReason with "
        "DescribeEndpoint, fix the model or the instance settings, then start a new run.",
        failure,
    )
    endpoint_timed_out = fail_with(
        "EndpointTimedOut",
        EndpointDeploymentFailed.__name__,
        "The endpoint did not reach InService within deployment.max_endpoint_polls polls. Check it "
        "with DescribeEndpoint; raise the bound in retrain.toml if rollouts take longer.",
        failure,
    )

    status = Choice("EndpointStatus?", comment="InService on the new config, rolled back, failed, or still going?")
    status.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.StringEquals(STATUS, "InService"),
                ChoiceRule.StringEqualsPath("$.deployment.current.config", NEW_CONFIG),
            ]
        ),
        _promote_and_notify(failure),
    )
    # InService on another config: SageMaker rolled the update back to the champion's.
    status.add_choice(ChoiceRule.StringEquals(STATUS, "InService"), _record_rollback())
    status.add_choice(
        ChoiceRule.Or(
            [
                ChoiceRule.StringEquals(STATUS, "Failed"),
                ChoiceRule.StringEquals(STATUS, "UpdateRollbackFailed"),
            ]
        ),
        endpoint_failed,
    )
    status.add_choice(
        ChoiceRule.NumericGreaterThanEqualsPath("$.deployment.wait.polls", "$.run.deployment.max_polls"),
        endpoint_timed_out,
    )
    status.default_choice(count_poll)
    count_poll.next(wait_for_endpoint)
    start_polling.next(wait_for_endpoint)
    wait_for_endpoint.next(check_endpoint)
    check_endpoint.next(status)
    return start_polling


def _record_rollback() -> TrimmedTask:
    """Why SageMaker rolled back, read from the endpoint (an alarm, or a failed health check); the
    package of the rolled-back candidate is marked Rejected with it; the run ends DeploymentRolledBack."""
    # The Choice below looks for FailureReason, which may be absent.
    read_cause = describe_endpoint_whole(
        "ReadRollbackCause",
        result_path="$.deployment.rollback",
        comment="The endpoint's FailureReason says why SageMaker returned traffic to the champion.",
    )
    cause_given = Choice("RollbackCauseGiven?", comment="Did SageMaker say why it rolled back?")
    from_endpoint = Pass(
        "RollbackCauseFromEndpoint",
        comment="SageMaker's reason.",
        parameters={"cause.$": "$.deployment.rollback.described.FailureReason"},
        result_path="$.deployment.rollback",
    )
    unknown = Pass(
        "RollbackCauseUnknown",
        comment="SageMaker gave no reason.",
        parameters={"cause": "SageMaker gave no FailureReason"},
        result_path="$.deployment.rollback",
    )
    cause_given.add_choice(ChoiceRule.IsPresent("$.deployment.rollback.described.FailureReason", True), from_endpoint)
    cause_given.default_choice(unknown)
    record_rollback = reject_package(
        "RecordRollback",
        "States.Format('Rolled back by SageMaker during the blue/green "
        "update of endpoint {}: {}', $.run.deployment.endpoint_name, $.deployment.rollback.cause)",
        comment="The candidate was rolled back: its package is marked Rejected with the reason.",
    )
    rollback_error = Pass(
        "RollbackError",
        comment="The run's error, with SageMaker's reason.",
        parameters={
            "Error": DeploymentRolledBack.__name__,
            "Cause.$": "States.Format('SageMaker returned all traffic to the champion, which is still serving: {} "
            "Look at the endpoint and the logs of the candidate, fix it, then start a new run.', "
            "$.deployment.rollback.cause)",
        },
        result_path="$.error",
    )
    rolled_back = FailFromPaths(
        "DeploymentRolledBack",
        comment="The blue/green update was rolled back; SageMaker returned all traffic to the champion, "
        "which keeps serving.",
        error_path="$.error.Error",
        cause_path="$.error.Cause",
    )
    # The rollback happened whether or not the package could be marked.
    read_cause.add_catch(catch_all(unknown, result_path="$.deployment.rollback_error"))
    record_rollback.add_catch(catch_all(rollback_error, result_path="$.record_error"))
    read_cause.next(cause_given)
    from_endpoint.next(record_rollback)
    unknown.next(record_rollback)
    record_rollback.next(rollback_error)
    rollback_error.next(rolled_back)
    return read_cause


def _promote_and_notify(failure: State) -> TrimmedTask:
    promote = lambda_task(
        "PromoteChampion",
        Placeholder.PROMOTE_CHAMPION_FUNCTION_ARN,
        payload={
            "run.$": "$.run",
            "data.$": "$.data",
            "model_package_arn.$": "$.package.arn",
            "model_data_url.$": "$.training.model_data_url",
            "decision.$": "$.decision",
            "approval.$": "$.approval",
        },
        result_selector=select_fields(Champion),
        result_path="$.champion",
        comment="The package is Approved; the champion and the watermark are recorded.",
    )
    promote.add_catch(catch_all(failure))
    promoted = Succeed("Promoted", comment="The candidate is the new champion and serves all traffic.")
    # The model is live either way; a failed notice must not turn a promotion into a failure.
    notify_success = notice(
        "NotifySuccess",
        payload={"kind": "success", "run.$": "$.run", "execution_arn.$": "$$.Execution.Id", "decision.$": "$.decision"},
        comment="Tells the team the new champion is live.",
        then=promoted,
    )
    promote.next(_schedule_monitoring(notify_success))
    return promote


# The aws-sdk integration names a service error `<Service>.<Error>` with the `Exception` suffix even where
# the API's error has none (developer guide, "AWS SDK service integrations"): SageMaker's ResourceNotFound.
SCHEDULE_NOT_FOUND = "SageMaker.ResourceNotFoundException"
MONITORING = "$.run.deployment.monitoring"


def _schedule_monitoring(then: State) -> Choice:
    """The endpoint's monitoring schedule, pointed at the new champion's baseline: updated, or created
    the first time. The champion is live either way: a failure is kept in `$.monitoring_error`."""
    monitoring_on = Choice("MonitoringOn?", comment="Does the config keep a monitoring schedule on the endpoint?")
    schedule = {
        "MonitoringScheduleName.$": f"{MONITORING}.schedule_name",
        "MonitoringScheduleConfig.$": f"{MONITORING}.schedule_config",
    }
    update = sagemaker_sdk_task(
        "ScheduleMonitoring",
        "updateMonitoringSchedule",
        parameters=schedule,
        result_selector={"schedule_arn.$": "$.MonitoringScheduleArn"},
        result_path="$.monitoring",
        comment="The endpoint's data-quality schedule now compares its traffic with the champion's baseline.",
    )
    create = sagemaker_sdk_task(
        "CreateMonitoringSchedule",
        "createMonitoringSchedule",
        parameters={**schedule, "Tags": execution_tags()},
        result_selector={"schedule_arn.$": "$.MonitoringScheduleArn"},
        result_path="$.monitoring",
        comment="The endpoint has no schedule yet (its first champion, or it was deleted): it is created.",
    )
    update.add_catch(Catch(error_equals=[SCHEDULE_NOT_FOUND], next_step=create, result_path="$.monitoring"))
    for task in (update, create):
        task.add_catch(catch_all(then, result_path="$.monitoring_error"))
        task.next(then)
    monitoring_on.add_choice(ChoiceRule.IsNull(MONITORING, False), update)
    monitoring_on.default_choice(then)
    return monitoring_on
