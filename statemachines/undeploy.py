"""What a rollout that failed before the endpoint took the candidate leaves behind, undone.

    FindCandidateOnEndpoint → CandidateOnEndpoint?
        no endpoint config of the run serves or is being deployed → RejectUndeployedCandidate
            → DeleteCandidateEndpointConfig → DeleteCandidateModel → the failure path
        the endpoint has (or is moving to) the run's config, or cannot be read → the failure path

The candidate's package was approved by a person but never served: it is marked Rejected with the
deploy error, and the run's model and endpoint config are deleted (absent ones are fine). Every step
is best effort and keeps `$.error`, so the run still fails with the original error and cause; what a
step could not do is kept under `$.undeploy`.
"""

from __future__ import annotations

from stepfunctions.steps import Choice, ChoiceRule
from stepfunctions.steps.states import State

from statemachines.sdk_extensions import TrimmedTask
from statemachines.states import catch_all, describe_endpoint_whole, reject_package, sagemaker_sdk_task

NEW_CONFIG = "$.run.names.endpoint_config"
DESCRIBED = "$.undeploy.endpoint.described"


def undeploy_candidate(failure: State) -> TrimmedTask:
    """The cleanup before `failure`; returns its first state. It expects the deploy error in `$.error`."""
    find = describe_endpoint_whole(
        "FindCandidateOnEndpoint",
        result_path="$.undeploy.endpoint",
        comment="Does the endpoint serve, or is it moving to, this run's config? Then nothing is undone.",
    )
    reject = reject_package(
        "RejectUndeployedCandidate",
        "States.Format('Not deployed: the rollout to endpoint {} failed before it served the candidate: {}: {}', "
        "$.run.deployment.endpoint_name, $.error.Error, $.error.Cause)",
        comment="The approved candidate never served: its package is marked Rejected with the deploy error.",
    )
    delete_config = sagemaker_sdk_task(
        "DeleteCandidateEndpointConfig",
        "deleteEndpointConfig",
        parameters={"EndpointConfigName.$": NEW_CONFIG},
        result_selector=None,
        result_path=None,
        comment="The run's endpoint config, if it was created; nothing serves it.",
    )
    delete_model = sagemaker_sdk_task(
        "DeleteCandidateModel",
        "deleteModel",
        parameters={"ModelName.$": "$.run.names.model"},
        result_selector=None,
        result_path=None,
        comment="The run's model, if it was created; no endpoint config of the run refers to it any more.",
    )
    # Best effort: a step that fails (a resource never created answers ValidationException) goes on.
    reject.add_catch(catch_all(delete_config, result_path="$.undeploy.reject_error"))
    delete_config.add_catch(catch_all(delete_model, result_path="$.undeploy.config_error"))
    delete_model.add_catch(catch_all(failure, result_path="$.undeploy.model_error"))
    reject.next(delete_config)
    delete_config.next(delete_model)
    delete_model.next(failure)

    on_endpoint = Choice(
        "CandidateOnEndpoint?", comment="Rules in order: anything but a plain endpoint on another config leaves all."
    )
    # An update in progress may be this run's (its answer lost); EndpointConfigName is optional in the API.
    on_endpoint.add_choice(ChoiceRule.IsPresent(f"{DESCRIBED}.PendingDeploymentSummary", True), failure)
    on_endpoint.add_choice(ChoiceRule.IsPresent(f"{DESCRIBED}.EndpointConfigName", False), failure)
    on_endpoint.add_choice(ChoiceRule.StringEqualsPath(f"{DESCRIBED}.EndpointConfigName", NEW_CONFIG), failure)
    on_endpoint.default_choice(reject)

    # DescribeEndpoint of a missing endpoint fails ('Could not find endpoint'): nothing serves the
    # candidate. Any other error (access denied...) leaves everything rather than guess.
    no_endpoint = Choice("NoEndpoint?", comment="Did DescribeEndpoint fail because there is no endpoint?")
    no_endpoint.add_choice(ChoiceRule.StringMatches("$.undeploy.lookup.Cause", "*Could not find endpoint*"), reject)
    no_endpoint.default_choice(failure)
    find.add_catch(catch_all(no_endpoint, result_path="$.undeploy.lookup"))
    find.next(on_endpoint)
    return find
