"""Member accounts forward alarm changes and creation calls: their rules, the StackSet per region, the bus policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

OUS = ["ou-ab12-11111111", "r-ab12"]
AGENT_ACCOUNT = "123456789012"
ORG = "o-a1b2c3d4e5"
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from infrastructure.app import build_app

    context = {
        "aws-agent:member-ous": ",".join(OUS),
        "aws-agent:organization-id": ORG,
        "aws-agent:agent-account": AGENT_ACCOUNT,
        "aws-agent:config": {"allowed_regions": REGIONS},
    }
    app, _ = build_app(context=context, outdir=str(tmp_path_factory.mktemp("cdk.forwarding")))
    assembly = app.synth()  # cdk-nag runs here: an unacknowledged finding fails the synthesis
    return {s.stack_name: dict(s.template) for s in assembly.stacks}


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v for v in template["Resources"].values() if v["Type"] == kind]


def _rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["Description"]: r["Properties"] for r in _of_type(template, "AWS::Events::Rule")}


def _forwarding_stack_set(synthesized: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (stack_set,) = [
        s["Properties"]
        for s in _of_type(synthesized["AwsAgent"], "AWS::CloudFormation::StackSet")
        if s["Properties"]["StackSetName"] == "MiyabiMemberForwarding"
    ]
    return stack_set


def test_stack_set_covers_every_allowed_region_of_the_ous(synthesized: dict[str, dict[str, Any]]) -> None:
    props = _forwarding_stack_set(synthesized)
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    (instances,) = props["StackInstancesGroup"]
    assert instances["DeploymentTargets"]["OrganizationalUnitIds"] == OUS
    assert instances["Regions"] == REGIONS  # EventBridge is regional: one pair of rules per region
    (parameter,) = props["Parameters"]
    assert parameter["ParameterKey"] == "AgentEventBusArn"
    assert parameter["ParameterValue"]["Fn::GetAtt"][0].startswith("MessagingBus")
    body = json.loads(props["TemplateBody"])
    assert "BootstrapVersion" not in body.get("Parameters", {})
    assert len(_rules(body)) == 2


@pytest.mark.parametrize("source", ["stack set", "hand-deployed"])
def test_member_rules_match_what_the_agent_listens_for(synthesized: dict[str, dict[str, Any]], source: str) -> None:
    member = (
        json.loads(_forwarding_stack_set(synthesized)["TemplateBody"])
        if source == "stack set"
        else synthesized["MiyabiMemberForwarding"]
    )
    rules = list(_rules(member).values())
    agent_rules = [r for r in _rules(synthesized["AwsAgent"]).values() if "EventBusName" in r]
    agent_patterns = [json.dumps(r["EventPattern"], sort_keys=True) for r in agent_rules]
    for rule in rules:
        assert "EventBusName" not in rule  # the member's default bus, where CloudWatch and CloudTrail deliver
        # The same pattern the health router or Cerberus' watch has on the agent's bus.
        assert json.dumps(rule["EventPattern"], sort_keys=True) in agent_patterns
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Ref": "AgentEventBusArn"} and "RoleArn" in target
    alarms = next(r for r in rules if r["EventPattern"]["source"] == ["aws.cloudwatch"])
    assert alarms["EventPattern"]["detail"] == {"alarmName": [{"prefix": "miyabi/"}]}


def test_forwarding_role_may_only_put_events_on_the_agent_bus(synthesized: dict[str, dict[str, Any]]) -> None:
    member = synthesized["MiyabiMemberForwarding"]
    (role,) = _of_type(member, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"
    }
    statements = [
        s for p in _of_type(member, "AWS::IAM::Policy") for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [{"Action": "events:PutEvents", "Effect": "Allow", "Resource": {"Ref": "AgentEventBusArn"}}]
    default = member["Parameters"]["AgentEventBusArn"]["Default"]
    assert default == f"arn:aws:events:us-east-1:{AGENT_ACCOUNT}:event-bus/aws-agent"


def test_agent_bus_accepts_only_aws_sources_from_the_ous(synthesized: dict[str, dict[str, Any]]) -> None:
    (policy,) = _of_type(synthesized["AwsAgent"], "AWS::Events::EventBusPolicy")
    statement = policy["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents" and statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"]["ForAnyValue:StringLike"] == {
        "aws:PrincipalOrgPaths": [f"{ORG}/r-*/*ou-ab12-11111111/*", f"{ORG}/r-ab12/*"]
    }
    assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == ORG  # pinned to this organization
    sources = statement["Condition"]["StringEquals"]["events:source"]
    assert "aws.cloudwatch" in sources and all(s.startswith("aws.") for s in sources)
    assert "miyabi.orchestrator" not in sources  # a member account can never submit a task


def test_forwarded_creation_calls_reach_cerberus(synthesized: dict[str, dict[str, Any]]) -> None:
    agent = synthesized["AwsAgent"]
    watches = [
        r
        for r in _rules(agent).values()
        if r.get("EventPattern", {}).get("detail-type") == ["AWS API Call via CloudTrail"]
    ]
    assert len(watches) == 2  # the default bus (this account) and the agent's bus (forwarded)
    first, second = (r["Targets"][0]["Arn"] for r in watches)
    assert first == second  # both invoke the watch function
    assert sum("EventBusName" in r for r in watches) == 1


def _alarm_change(name: str, account: str = "222222222222") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "evt-1",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "region": "eu-west-1",
        "resources": [f"arn:aws:cloudwatch:eu-west-1:{account}:alarm:{name}"],
        "detail": {"alarmName": name, "state": {"value": "ALARM"}, "previousState": {"value": "OK"}},
    }


def _creation_call(event_source: str, event_name: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "evt-2",
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{event_source.split('.')[0]}",
        "account": "222222222222",
        "region": "eu-west-1",
        "detail": {"eventSource": event_source, "eventName": event_name, "requestParameters": {}},
    }


def test_member_rules_forward_exactly_the_events_the_agent_uses(synthesized: dict[str, dict[str, Any]]) -> None:
    """The synthesized patterns, matched by moto's EventBridge pattern engine against real event shapes."""
    from moto.events.models import EventPattern

    patterns = [
        EventPattern.load(json.dumps(r["EventPattern"])) for r in _rules(synthesized["MiyabiMemberForwarding"]).values()
    ]

    def forwarded(event: dict[str, Any]) -> bool:
        return any(p.matches_event(event) for p in patterns)

    assert forwarded(_alarm_change("miyabi/222222222222/Ec2Instance/i-0abc/CPUUtilization"))
    assert forwarded(_creation_call("ec2.amazonaws.com", "RunInstances"))
    assert forwarded(_creation_call("s3.amazonaws.com", "PutBucketPolicy"))
    assert not forwarded(_alarm_change("billing-team/EstimatedCharges"))  # not the agent's alarm
    assert not forwarded(_creation_call("ec2.amazonaws.com", "DescribeInstances"))  # reads stay home
    assert not forwarded(
        {"source": "miyabi.orchestrator", "detail-type": "AwsTaskRequested", "account": "222222222222", "detail": {}}
    )


def test_without_the_organization_id_nothing_is_forwarded(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The bus policy must name the organization; without its id the stack forwards nothing and says so."""
    from aws_cdk.assertions import Annotations, Match

    from infrastructure.app import build_app

    app, stack = build_app(context={"aws-agent:member-ous": OUS[0]}, outdir=str(tmp_path_factory.mktemp("cdk.no-org")))
    template = app.synth().get_stack_by_name(stack.stack_name).template
    assert not _of_type(template, "AWS::Events::EventBusPolicy")
    names = [s["Properties"]["StackSetName"] for s in _of_type(template, "AWS::CloudFormation::StackSet")]
    assert names == ["MiyabiMemberRole"]
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("aws-agent:organization-id"))
