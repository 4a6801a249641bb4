"""The member role: its stack (trust, tag conditions) and the service-managed StackSet that rolls it out to OUs."""

from __future__ import annotations

import json
from typing import Any

import pytest

OUS = ["ou-ab12-11111111", "ou-ab12-22222222"]
AGENT_ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The app with the StackSet's OUs and the hand-deployed member stack (both from context)."""
    from infrastructure.app import build_app

    context = {
        "aws-agent:member-ous": ",".join(OUS),
        "aws-agent:agent-account": AGENT_ACCOUNT,
        "aws-agent:config": {"multi_account": {"member_role_external_id": "miyabi-external"}},
    }
    app, _ = build_app(context=context, outdir=str(tmp_path_factory.mktemp("cdk.member")))
    assembly = app.synth()  # cdk-nag runs here: an unacknowledged finding fails the synthesis
    return {s.stack_name: dict(s.template) for s in assembly.stacks}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _member_role_stack_set(synthesized: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (stack_set,) = [
        s
        for s in _of_type(synthesized["AwsAgent"], "AWS::CloudFormation::StackSet").values()
        if s["Properties"]["StackSetName"] == "MiyabiMemberRole"
    ]
    return stack_set


def _role(template: dict[str, Any], name: str) -> dict[str, Any]:
    (role,) = [r for r in _of_type(template, "AWS::IAM::Role").values() if r["Properties"].get("RoleName") == name]
    return role


def test_stack_set_is_service_managed_and_auto_deploys_to_the_ous(synthesized: dict[str, dict[str, Any]]) -> None:
    props = _member_role_stack_set(synthesized)["Properties"]
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    (instances,) = props["StackInstancesGroup"]
    assert instances["DeploymentTargets"]["OrganizationalUnitIds"] == OUS
    assert instances["Regions"] == [{"Ref": "AWS::Region"}]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
    assert parameters["AgentAccountId"] == {"Ref": "AWS::AccountId"}
    # The trusted principals are exactly the execution roles of the steps that act in member accounts.
    joined = parameters["AgentPrincipalArns"]["Fn::Join"][1]
    roles = {ref["Fn::GetAtt"][0] for ref in joined}
    assert len(roles) == 5 and all(r.startswith("Functions") and "Role" in r for r in roles)
    body = json.loads(props["TemplateBody"])
    assert "BootstrapVersion" not in body.get("Parameters", {})  # StackSets deploy the raw template
    assert _role(body, "MiyabiAgentRole")


@pytest.mark.parametrize("source", ["hand-deployed", "stack set"])
def test_member_role_trusts_only_the_agents_roles(synthesized: dict[str, dict[str, Any]], source: str) -> None:
    if source == "hand-deployed":
        template = synthesized["MiyabiMemberRole"]
        assert template["Parameters"]["AgentAccountId"]["Default"] == AGENT_ACCOUNT
        assert (
            template["Parameters"]["AgentPrincipalArns"]["Default"] == f"arn:aws:iam::{AGENT_ACCOUNT}:role/AwsAgent-*"
        )
    else:
        stack_set = _member_role_stack_set(synthesized)
        template = json.loads(stack_set["Properties"]["TemplateBody"])
    role = _role(template, "MiyabiAgentRole")["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"
    assert json.dumps(statement["Principal"]).count("AgentAccountId") == 1
    assert statement["Condition"]["ArnLike"] == {"aws:PrincipalArn": {"Ref": "AgentPrincipalArns"}}
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": "miyabi-external"}
    assert role["MaxSessionDuration"] == 3600
    execution = _role(template, "MiyabiLambdaExecutionRole")["Properties"]
    assert execution["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_member_role_changes_only_managed_resources(synthesized: dict[str, dict[str, Any]]) -> None:
    template = synthesized["MiyabiMemberRole"]
    statements = [
        s
        for policy in _of_type(template, "AWS::IAM::Policy").values()
        if policy["Properties"]["PolicyName"].startswith("AgentPolicy")
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    managed = {"StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}}
    assert by_sid["Ec2ManagedInstancesOnly"]["Condition"] == managed
    assert "ec2:TerminateInstances" in by_sid["Ec2ManagedInstancesOnly"]["Action"]
    assert by_sid["LambdaChangeManagedOnly"]["Condition"] == managed
    assert by_sid["LambdaCreateTaggedOnly"]["Condition"] == {"StringEquals": {"aws:RequestTag/MiyabiManaged": "true"}}
    assert by_sid["PassLambdaExecutionRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
    }
    # Every statement on "*" is read-only, except launching (RunInstances/CreateTags act on resources not yet there).
    for s in statements:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        if s["Resource"] == "*" and s["Sid"] != "Ec2Launch":
            assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in actions), s
    assert not any(
        a.startswith("iam:") and a not in ("iam:PassRole", "iam:GetRole")
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )


def test_without_ous_there_is_no_stack_set(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A plain deployment (no organization given) must not need StackSets' trusted access."""
    from aws_cdk.assertions import Template

    from infrastructure.app import build_app

    app, stack = build_app(outdir=str(tmp_path_factory.mktemp("cdk.plain")))
    Template.from_stack(stack).resource_count_is("AWS::CloudFormation::StackSet", 0)
    assert [s.stack_name for s in app.node.children if hasattr(s, "stack_name")] == ["AwsAgent"]


def _grants(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the managed policies attached to the role."""
    return [
        s
        for policy in _of_type(template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", [])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize(
    ("action", "condition"),
    [
        ("rds:CreateDBInstance", "aws:RequestTag/MiyabiManaged"),
        ("rds:DeleteDBInstance", "aws:ResourceTag/MiyabiManaged"),
        ("dynamodb:DeleteTable", "aws:ResourceTag/MiyabiManaged"),
        ("cloudformation:DeleteStack", "aws:ResourceTag/MiyabiManaged"),
        ("sns:DeleteTopic", "aws:ResourceTag/MiyabiManaged"),
        ("ecs:DeleteService", "aws:ResourceTag/MiyabiManaged"),
        ("cloudfront:DeleteDistribution", "aws:ResourceTag/MiyabiManaged"),
        ("ec2:DeleteVpc", "aws:ResourceTag/MiyabiManaged"),
        ("ec2:DeleteVolume", "aws:ResourceTag/MiyabiManaged"),
        ("elasticfilesystem:DeleteFileSystem", "aws:ResourceTag/MiyabiManaged"),
        ("ec2:RebootInstances", "aws:ResourceTag/MiyabiManaged"),  # heal
        ("lambda:UpdateAlias", "aws:ResourceTag/MiyabiManaged"),  # heal: Lambda rollback
        ("cloudwatch:PutMetricAlarm", None),  # the agent's alarms, by name prefix
        ("guardduty:ListDetectors", None),  # SecurityAudit
    ],
)
def test_member_role_holds_every_providers_health_and_audit_actions(
    synthesized: dict[str, dict[str, Any]], action: str, condition: str | None
) -> None:
    """The agent reaches a member account's resources through this role only: it carries the same tag-scoped
    provider policies as the agent's own roles, plus alarms, heals and the audit's reads."""
    template = synthesized["MiyabiMemberRole"]
    (role_id,) = [k for k, r in _of_type(template, "AWS::IAM::Role").items() if "AgentRole" in k]
    granting = [
        s
        for s in _grants(template, role_id)
        if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert granting, action
    if condition is not None:
        assert all(condition in json.dumps(s.get("Condition", {})) for s in granting), granting
    else:
        assert any(
            s["Resource"] != "*" or action.split(":")[1].startswith(("List", "Describe", "Get")) for s in granting
        )


def test_stack_set_body_stays_under_cloudformations_inline_template_limit(
    synthesized: dict[str, dict[str, Any]],
) -> None:
    stack_set = _member_role_stack_set(synthesized)
    assert len(stack_set["Properties"]["TemplateBody"].encode()) < 51_200
