"""The template's managed policy for the RDS, Aurora, DynamoDB and CloudFormation providers: actions and conditions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixture's type, from this directory's conftest (only for annotations)
    from conftest import Synthesized

MANAGED = {"StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}}
REQUESTED = {"StringEquals": {"aws:RequestTag/MiyabiManaged": "true"}}


def _policy(synth: Synthesized) -> dict[str, Any]:
    (policy,) = [
        p
        for p in synth.of_type("AWS::IAM::ManagedPolicy").values()
        if "CloudFormation" in p["Properties"].get("Description", "")
    ]
    return policy


def _statements(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in _policy(synth)["Properties"]["PolicyDocument"]["Statement"]}


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _role_of(synth: Synthesized, step: str) -> str:
    return str(synth.resources[synth.logical_id_of(step)]["Properties"]["Role"]["Fn::GetAtt"][0])


def test_it_is_a_managed_policy_attached_to_the_resource_steps_only(synth: Synthesized) -> None:
    roles = _policy(synth)["Properties"]["Roles"]
    assert sorted(r["Ref"] for r in roles) == sorted(_role_of(synth, s) for s in ("execute", "status", "tag"))
    # A managed policy document may hold 6,144 characters (whitespace not counted).
    document = json.dumps(_policy(synth)["Properties"]["PolicyDocument"], separators=(",", ":"))
    assert len(document) < 6144, len(document)


@pytest.mark.parametrize(
    ("sid", "actions", "condition"),
    [
        ("RdsCreateTaggedOnly", {"rds:CreateDBInstance", "rds:CreateDBCluster", "rds:AddTagsToResource"}, REQUESTED),
        (
            "RdsChangeManagedOnly",
            {
                "rds:ModifyDBInstance",
                "rds:DeleteDBInstance",
                "rds:DeleteDBCluster",
                "rds:AddTagsToResource",
                "rds:CreateDBSnapshot",
                "rds:CreateDBClusterSnapshot",
            },
            MANAGED,
        ),
        ("DynamoDbCreateTaggedOnly", {"dynamodb:CreateTable", "dynamodb:TagResource"}, REQUESTED),
        (
            "DynamoDbChangeManagedOnly",
            {"dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:TagResource"},
            MANAGED,
        ),
        ("CfnCreateTaggedOnly", {"cloudformation:CreateStack", "cloudformation:TagResource"}, REQUESTED),
        (
            "CfnChangeManagedOnly",
            {
                "cloudformation:UpdateStack",
                "cloudformation:DeleteStack",
                "cloudformation:CreateChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DetectStackDrift",
                "cloudformation:TagResource",
            },
            MANAGED,
        ),
    ],
)
def test_creation_needs_the_request_tag_and_changes_the_resource_tag(
    synth: Synthesized, sid: str, actions: set[str], condition: dict[str, Any]
) -> None:
    statement = _statements(synth)[sid]
    assert statement["Effect"] == "Allow"
    assert _actions(statement) == actions
    assert statement["Condition"] == condition
    assert statement["Resource"] != "*"


def test_every_mutating_action_is_tag_conditioned(synth: Synthesized) -> None:
    mutating = ("Create", "Modify", "Delete", "Update", "Execute", "Tag", "AddTags", "Detect")
    unconditioned = {
        a
        for s in _statements(synth).values()
        if "Condition" not in s
        for a in _actions(s)
        if a.split(":")[1].startswith(mutating)
    }
    # Final snapshots (new, so untagged: creating one destroys nothing) and the RDS-created password secret.
    assert unconditioned == {
        "rds:CreateDBSnapshot",
        "rds:CreateDBClusterSnapshot",
        "rds:AddTagsToResource",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
    }
    snapshot_statement = _statements(synth)["RdsFinalSnapshots"]
    assert all(
        ":snapshot:*" in json.dumps(r) or ":cluster-snapshot:*" in json.dumps(r) for r in snapshot_statement["Resource"]
    )
    assert "secret:rds!*" in json.dumps(_statements(synth)["RdsMasterPasswordSecret"]["Resource"])


def test_reads_and_the_cloudformation_role(synth: Synthesized) -> None:
    statements = _statements(synth)
    assert _actions(statements["RdsRead"]) == {
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeEvents",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
    }
    assert _actions(statements["DynamoDbRead"]) == {"dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"}
    assert "cloudformation:DescribeStackDriftDetectionStatus" in _actions(statements["CfnReadAny"])
    pass_role = statements["CfnPassExecutionRole"]
    assert _actions(pass_role) == {"iam:PassRole"}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert "role/MiyabiCloudFormationExecutionRole" in json.dumps(pass_role["Resource"])


def test_no_other_step_gets_the_policy_and_nag_stays_clean(synth: Synthesized) -> None:
    for step in ("intake", "analyze", "guard", "register", "complete", "fail"):
        role = {"Ref": _role_of(synth, step)}
        assert role not in _policy(synth)["Properties"]["Roles"]
    assert synth.validation_error is None
