"""The managed policies of the network, storage, scaling and monitoring providers, as the template carries them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Synthesized

MANAGED = {"StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}}
REQUESTED = {"StringEquals": {"aws:RequestTag/MiyabiManaged": "true"}}
MUTATING = (
    "Delete",
    "Modify",
    "Update",
    "Detach",
    "Attach",
    "Put",
    "Associate",
    "Disassociate",
    "Create",
    "Add",
    "Tag",
)
# Mutating grants that are not tag-conditioned, each for a reason the policy module documents.
NOT_TAG_CONDITIONED = {
    "CloudWatchOwnDashboards",  # dashboards cannot be tagged: scoped to the agent's name prefix instead
    "Ec2VolumesFromSnapshots",  # the snapshot side of CreateVolume; the volume side needs the request tag
    "Ec2DetachFromInstances",  # the instance side of DetachVolume; the volume side needs the managed tag
    "EfsMountTargetInterfaces",  # only when EFS makes the call (aws:CalledVia)
    "Ec2TagOnCreate",  # only as part of a create (ec2:CreateAction), which itself needs the request tag
    "ElbTagListenersOnCreate",  # only as part of CreateListener on a managed load balancer
}


def _policies(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.of_type("AWS::IAM::ManagedPolicy").items() if k.startswith("NetProviders")}


def _statements(synth: Synthesized) -> list[dict[str, Any]]:
    return [s for p in _policies(synth).values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _role_of(synth: Synthesized, step: str) -> str:
    return str(synth.resources[synth.logical_id_of(step)]["Properties"]["Role"]["Fn::GetAtt"][0])


def _resolved(value: Any) -> Any:
    """The document with its intrinsics resolved the way IAM sees it (partition aws, a 12-digit account)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_resolved(p)) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::AccountId": "123456789012"}[value["Ref"]]
    if isinstance(value, dict):
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def test_two_managed_policies_attach_to_the_resource_steps_only(synth: Synthesized) -> None:
    policies = _policies(synth)
    assert len(policies) == 2
    resource_roles = [{"Ref": _role_of(synth, step)} for step in ("execute", "status", "tag")]
    for policy in policies.values():
        assert sorted(policy["Properties"]["Roles"], key=json.dumps) == sorted(resource_roles, key=json.dumps)
    assert not synth.of_type("AWS::IAM::Policy").keys() & policies.keys()  # managed, not inline


def test_each_policy_fits_iams_managed_policy_limit(synth: Synthesized) -> None:
    for logical_id, policy in _policies(synth).items():
        document = json.dumps(_resolved(policy["Properties"]["PolicyDocument"]), separators=(",", ":"))
        assert len(document) <= 6144, (logical_id, len(document))


def test_mutating_actions_need_the_managed_tag_or_a_documented_scope(synth: Synthesized) -> None:
    for statement in _statements(synth):
        mutating = [a for a in _actions(statement) if a.split(":")[1].startswith(MUTATING)]
        if not mutating or statement["Sid"] in NOT_TAG_CONDITIONED:
            continue
        assert statement.get("Condition") in (MANAGED, REQUESTED), statement["Sid"]
    creates = [
        s for s in _statements(synth) if any(":Create" in a for a in _actions(s)) and s.get("Condition") == REQUESTED
    ]
    created = {a for s in creates for a in _actions(s)}
    for action in (
        "ec2:CreateVpc",
        "ec2:CreateSubnet",
        "ec2:CreateVolume",
        "elasticfilesystem:CreateFileSystem",
        "autoscaling:CreateAutoScalingGroup",
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
        "xray:CreateGroup",
        "xray:CreateSamplingRule",
    ):
        assert action in created, action


@pytest.mark.parametrize(
    "action",
    [
        "ec2:DeleteVpc",
        "ec2:DeleteSubnet",
        "ec2:DeleteVolume",
        "ec2:ModifyVolume",
        "elasticfilesystem:DeleteFileSystem",
        "autoscaling:DeleteAutoScalingGroup",
        "elasticloadbalancing:DeleteLoadBalancer",
        "cloudwatch:DeleteAlarms",
        "xray:DeleteGroup",
        "xray:DeleteSamplingRule",
    ],
)
def test_destructive_actions_are_granted_only_on_managed_resources(synth: Synthesized, action: str) -> None:
    granting = [s for s in _statements(synth) if action in _actions(s)]
    assert granting and all(s["Condition"] == MANAGED for s in granting)


def test_dashboards_are_scoped_to_the_agents_prefix(synth: Synthesized) -> None:
    (statement,) = [s for s in _statements(synth) if "cloudwatch:DeleteDashboards" in _actions(s)]
    assert _resolved(statement["Resource"]) == "arn:aws:cloudwatch::123456789012:dashboard/miyabi-*"


def test_no_wildcard_actions(synth: Synthesized) -> None:
    for statement in _statements(synth):
        assert not any("*" in action for action in _actions(statement)), statement["Sid"]


def test_cascade_steps_may_write_resource_and_agent_records(synth: Synthesized) -> None:
    for step in ("execute", "status"):
        role = {"Ref": _role_of(synth, step)}
        writes = {
            json.dumps(s["Resource"])
            for p in synth.of_type("AWS::IAM::Policy").values()
            if role in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if "dynamodb:PutItem" in _actions(s)
        }
        assert any("ResourcesTable" in w for w in writes) and any("ServiceAgentsTable" in w for w in writes), step


def test_cdk_nag_passes_with_the_net_policies(synth: Synthesized) -> None:
    assert synth.validation_error is None
