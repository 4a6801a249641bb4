"""XRayProvider with botocore's Stubber against the real X-Ray model (moto 5.2.5 has no group/sampling-rule calls)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.xray import XRayProvider

MakeCtx = Callable[..., Any]
XR = AwsResourceType.XRAY
T = AwsTaskType
provider = XRayProvider()
GROUP_ARN = "arn:aws:xray:us-east-1:123456789012:group/api/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
RULE_ARN = "arn:aws:xray:us-east-1:123456789012:sampling-rule/slow"
MANAGED = [{"Key": "MiyabiManaged", "Value": "true"}, {"Key": "MiyabiTask", "Value": "task-0001"}]


@pytest.fixture
def xray(mocked_aws: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("xray", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def ctx_with(make_ctx: MakeCtx, client: Any, params: dict[str, Any], **kwargs: Any) -> Any:
    ctx = make_ctx(XR, params, **kwargs)
    ctx.client = lambda service: client  # type: ignore[method-assign]
    return ctx


def group(expression: str = 'service("api")') -> dict[str, Any]:
    return {"GroupName": "api", "GroupARN": GROUP_ARN, "FilterExpression": expression}


def rule(rate: float = 0.05) -> dict[str, Any]:
    return {
        "RuleName": "slow",
        "RuleARN": RULE_ARN,
        "ResourceARN": "*",
        "Priority": 10,
        "FixedRate": rate,
        "ReservoirSize": 1,
        "ServiceName": "*",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "*",
        "URLPath": "/slow",
        "Version": 1,
    }


def group_status(stubber: Stubber, tags: list[dict[str, str]] = MANAGED, expression: str = 'service("api")') -> None:
    stubber.add_response("get_group", {"Group": group(expression)}, {"GroupName": "api"})
    stubber.add_response("list_tags_for_resource", {"Tags": tags}, {"ResourceARN": GROUP_ARN})


def rule_status(stubber: Stubber, tags: list[dict[str, str]] = MANAGED, rate: float = 0.05) -> None:
    stubber.add_response("get_sampling_rules", {"SamplingRuleRecords": [{"SamplingRule": rule(rate)}]}, {})
    stubber.add_response("list_tags_for_resource", {"Tags": tags}, {"ResourceARN": RULE_ARN})


def test_registry_returns_the_xray_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(XR), XRayProvider)


def test_create_group_tagged_at_creation(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    stubber.add_client_error("get_group", "InvalidRequestException", "Group not found")
    stubber.add_response(
        "create_group",
        {"Group": group()},
        {"GroupName": "api", "FilterExpression": 'service("api")', "Tags": ANY},
    )
    group_status(stubber)
    outcome = provider.create(
        ctx_with(make_ctx, client, {"kind": "group", "group_name": "api", "filter_expression": 'service("api")'})
    )
    assert outcome.id == "group/api" and outcome.arn == GROUP_ARN and outcome.state is ResourceState.ACTIVE
    assert outcome.managed


def test_create_group_replay_and_conflict(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    params = {"kind": "group", "group_name": "api", "filter_expression": 'service("api")'}
    group_status(stubber)  # a replay: this task's group is there
    assert provider.create(ctx_with(make_ctx, client, params)).id == "group/api"
    group_status(stubber, tags=[])  # someone else's group of that name
    with pytest.raises(ResourceConflict, match="not created by this task"):
        provider.create(ctx_with(make_ctx, client, params))


def test_create_sampling_rule(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    stubber.add_response("get_sampling_rules", {"SamplingRuleRecords": []}, {})
    stubber.add_response(
        "create_sampling_rule", {"SamplingRuleRecord": {"SamplingRule": rule()}}, {"SamplingRule": ANY, "Tags": ANY}
    )
    rule_status(stubber)
    params = {"kind": "sampling_rule", "rule_name": "slow", "priority": 10, "url_path": "/slow", "fixed_rate": 0.05}
    outcome = provider.create(ctx_with(make_ctx, client, params))
    assert outcome.id == "sampling-rule/slow" and outcome.metadata["fixedrate"] == 0.05


def test_bad_parameters_make_no_call(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    stubber.add_client_error("get_group", "InvalidRequestException", "Group not found")
    with pytest.raises(TaskAnalysisError, match="filter_expression"):
        provider.create(ctx_with(make_ctx, client, {"kind": "group", "group_name": "api"}))
    with pytest.raises(TaskAnalysisError, match="kind"):
        provider.create(ctx_with(make_ctx, client, {"kind": "trace"}))


def test_update_group_and_rule(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    group_status(stubber)
    stubber.add_response(
        "update_group", {"Group": group('service("web")')}, {"GroupName": "api", "FilterExpression": 'service("web")'}
    )
    group_status(stubber, expression='service("web")')
    ctx = ctx_with(
        make_ctx, client, {"group_name": "api", "filter_expression": 'service("web")'}, task_type=T.UPDATE_RESOURCE
    )
    assert provider.update(ctx, "group/api").metadata["filter_expression"] == 'service("web")'
    rule_status(stubber)
    stubber.add_response("get_sampling_rules", {"SamplingRuleRecords": [{"SamplingRule": rule()}]}, {})
    stubber.add_response(
        "update_sampling_rule", {"SamplingRuleRecord": {"SamplingRule": rule(0.5)}}, {"SamplingRuleUpdate": ANY}
    )
    rule_status(stubber, rate=0.5)
    ctx = ctx_with(make_ctx, client, {"rule_name": "slow", "fixed_rate": 0.5}, task_type=T.UPDATE_RESOURCE)
    assert provider.update(ctx, "sampling-rule/slow").metadata["fixedrate"] == 0.5


def test_delete_managed_only(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    group_status(stubber, tags=[])
    with pytest.raises(ResourceNotManaged):
        provider.delete(ctx_with(make_ctx, client, {"group_name": "api"}, task_type=T.DELETE_RESOURCE), "group/api")
    group_status(stubber)
    stubber.add_response("delete_group", {}, {"GroupName": "api"})
    deleted = provider.delete(
        ctx_with(make_ctx, client, {"group_name": "api"}, task_type=T.DELETE_RESOURCE), "group/api"
    )
    assert deleted.state is ResourceState.TERMINATED
    rule_status(stubber)
    stubber.add_response("delete_sampling_rule", {"SamplingRuleRecord": {"SamplingRule": rule()}}, {"RuleName": "slow"})
    ctx = ctx_with(make_ctx, client, {"rule_name": "slow"}, task_type=T.DELETE_RESOURCE)
    assert provider.delete(ctx, "sampling-rule/slow").state is ResourceState.TERMINATED
    with pytest.raises(ResourceConflict, match="built-in"):
        provider.delete(ctx, "sampling-rule/Default")


def test_status_of_a_missing_group(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    stubber.add_client_error("get_group", "InvalidRequestException", "Group not found")
    with pytest.raises(ResourceNotFound):
        provider.status(ctx_with(make_ctx, client, {}), "group/api")


def test_discover_skips_the_defaults_and_tag(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, stubber = xray
    default = {"GroupName": "Default", "GroupARN": "arn:aws:xray:us-east-1:123456789012:group/Default"}
    stubber.add_response("get_groups", {"Groups": [default, group()]}, {})
    stubber.add_response("list_tags_for_resource", {"Tags": MANAGED}, {"ResourceARN": GROUP_ARN})
    default_rule = {
        **rule(),
        "RuleName": "Default",
        "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default",
    }
    stubber.add_response(
        "get_sampling_rules", {"SamplingRuleRecords": [{"SamplingRule": default_rule}, {"SamplingRule": rule()}]}, {}
    )
    stubber.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceARN": RULE_ARN})
    found = provider.discover(ctx_with(make_ctx, client, {}, task_type=T.DISCOVER_RESOURCES))
    assert [(o.id, o.managed) for o in found] == [("group/api", True), ("sampling-rule/slow", False)]
    group_status(stubber)
    stubber.add_response("tag_resource", {}, {"ResourceARN": GROUP_ARN, "Tags": [{"Key": "Team", "Value": "sre"}]})
    provider.tag(ctx_with(make_ctx, client, {}), "group/api", {"Team": "sre"})


def test_plan_makes_no_change(make_ctx: MakeCtx, xray: tuple[Any, Stubber]) -> None:
    client, _ = xray
    plan = provider.plan(ctx_with(make_ctx, client, {"kind": "group", "group_name": "api", "filter_expression": "ok"}))
    assert plan["calls"] == ["xray:CreateGroup"]
