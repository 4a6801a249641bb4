"""cdk-nag acknowledgments: every finding is acknowledged by its full id, with the reason beside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Acknowledgment, Aws, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, findings: Mapping[str, str]) -> None:
    """Acknowledge each finding id (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope` and its children."""
    for finding_id, reason in findings.items():
        Validations.of(scope).acknowledge(Acknowledgment(id=finding_id, reason=reason))


INDEX_REASON = "The L2 table grant covers that one table's GSIs ('<table arn>/index/*'), which the step queries."


def acknowledge_indexes(role: IConstruct | None, tables: Iterable[IConstruct], reason: str = INDEX_REASON) -> None:
    """The index wildcard every L2 DynamoDB table grant adds, acknowledged on `role` for each of `tables`."""
    if role is not None:
        acknowledge(role, {wildcard(f"{arn_of(table)}/index/*"): reason for table in tables})


def wildcard(resource: str) -> str:
    """The id of cdk-nag's IAM5 finding for one wildcard resource (as cdk-nag renders it)."""
    return f"AwsSolutions-IAM5[Resource::{resource}]"


def wildcard_action(action: str) -> str:
    """The id of cdk-nag's IAM5 finding for one wildcard action."""
    return f"AwsSolutions-IAM5[Action::{action}]"


def arn_of(construct: IConstruct) -> str:
    """How cdk-nag renders `Fn::GetAtt <construct>.Arn` in a finding id."""
    default_child = construct.node.default_child
    if not isinstance(default_child, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return f"<{Stack.of(construct).get_logical_id(default_child)}.Arn>"


def executions_of(state_machine: IConstruct, suffix: str = ":*") -> str:
    """How cdk-nag renders the executions ARN pattern of a state machine (grant_read, Distributed Map)."""
    default_child = state_machine.node.default_child
    if not isinstance(default_child, CfnElement):
        raise TypeError(f"{state_machine.node.path} has no CloudFormation resource")
    logical = Stack.of(state_machine).get_logical_id(default_child)
    name = '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + logical + '"}]}]}'
    return f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}{suffix}"


def rendered(resource: str) -> str:
    """A resource ARN with its pseudo-parameter tokens written the way cdk-nag renders them in a finding id."""
    return resource.replace(Aws.PARTITION, "<AWS::Partition>").replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")
