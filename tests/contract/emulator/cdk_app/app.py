"""A tiny CDK app that exercises what the pipeline's stack needs from the local AWS.

A bucket that sends its events to EventBridge, a Python Lambda from an asset, a state machine whose
definition gets the Lambda's ARN through `DefinitionSubstitutions`, and a rule that starts the state
machine when an object lands under `incoming/`. Context: `stack_name`.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

DEFINITION = {
    "Comment": "Calls the echo function with the execution's input",
    "StartAt": "Echo",
    "States": {
        "Echo": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${EchoFunctionArn}", "Payload.$": "$"},
            "ResultSelector": {"echo.$": "$.Payload"},
            "End": True,
        }
    },
}


class ContractStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        bucket = s3.Bucket(self, "Data", event_bridge_enabled=True, removal_policy=cdk.RemovalPolicy.DESTROY)
        function = lambda_.Function(
            self,
            "Echo",
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="handler.handler",
            code=lambda_.Code.from_asset("function"),
        )
        machine = sfn.StateMachine(
            self,
            "Machine",
            definition_body=sfn.DefinitionBody.from_string(json.dumps(DEFINITION)),
            definition_substitutions={"EchoFunctionArn": function.function_arn},
        )
        function.grant_invoke(machine)
        events.Rule(
            self,
            "OnIncoming",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [{"prefix": "incoming/"}]}},
            ),
            targets=[targets.SfnStateMachine(machine)],
        )
        cdk.CfnOutput(self, "BucketName", value=bucket.bucket_name)
        cdk.CfnOutput(self, "FunctionName", value=function.function_name)
        cdk.CfnOutput(self, "StateMachineArn", value=machine.state_machine_arn)


app = cdk.App()
ContractStack(
    app,
    "ContractStack",
    stack_name=app.node.try_get_context("stack_name") or "retrain-contract",
    synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
)
app.synth()
