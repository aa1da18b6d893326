"""cdk-nag acknowledgments, and how cdk-nag names a finding so one can list exactly the ones it
justifies (cdk-nag 3 acknowledges each wildcard finding separately)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import Construct, IConstruct

# `cdk synth -c retrain:auditFindings=true` skips every acknowledgment, so the validation report
# lists all findings (the infra tests use it to prove no acknowledgment is stale).
AUDIT_CONTEXT_KEY = "retrain:auditFindings"


def logical_id(construct: Construct) -> str:
    """The logical ID of a construct's CloudFormation resource, as cdk-nag prints it."""
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return str(Stack.of(construct).resolve(child.logical_id))


def objects_under(bucket: Construct, prefix: str) -> str:
    """The finding of `arn_for_objects(prefix + "*")` on a bucket of this stack."""
    return f"Resource::<{logical_id(bucket)}.Arn>/{prefix}*"


def stack_arn(service: str, resource: str) -> str:
    """The finding of an ARN built from the stack's partition, region and account."""
    return f"Resource::arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def acknowledge(construct: IConstruct, rule: str, reason: str, findings: Sequence[str] = ()) -> None:
    """Acknowledge a cdk-nag rule on a construct, finding by finding when it reports several.

    Every acknowledgment carries its reason in place, next to the resource it is about.
    """
    if construct.node.try_get_context(AUDIT_CONTEXT_KEY) in (True, "true"):
        return  # audit mode: report every finding, acknowledged or not
    pack = rule.split("-", 1)[0]  # "AwsSolutions-IAM5" is reported by the AwsSolutions plugin
    ids = [f"{pack}::{rule}[{finding}]" for finding in findings] or [f"{pack}::{rule}"]
    Validations.of(construct).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in ids))
