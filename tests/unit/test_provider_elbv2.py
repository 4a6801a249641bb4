"""LoadBalancerProvider against moto: ALB + target group + listener, health check and default action updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.elbv2 import LoadBalancerProvider
from aws_agent.resources.vpc import VpcNetworkProvider

MakeCtx = Callable[..., Any]
LB = AwsResourceType.LOAD_BALANCER
T = AwsTaskType
provider = LoadBalancerProvider()


@pytest.fixture
def subnets(make_ctx: MakeCtx) -> list[str]:
    vpc = VpcNetworkProvider().create(make_ctx(AwsResourceType.VPC_NETWORK, {"az_count": 2}, task_id="net"))
    return list(vpc.metadata["public_subnet_ids"])


def elb() -> Any:
    return boto3.client("elbv2", region_name="us-east-1")


def op(make_ctx: MakeCtx, task_type: AwsTaskType, name: str, **params: Any) -> Any:
    return make_ctx(LB, {"load_balancer_name": name, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_lb_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(LB), LoadBalancerProvider)


def test_create_alb_target_group_and_listener_tagged(make_ctx: MakeCtx, subnets: list[str]) -> None:
    outcome = provider.create(make_ctx(LB, {"subnet_ids": subnets, "health_check_path": "/health"}))
    assert outcome.id == "miyabi-task-0001" and outcome.state is ResourceState.ACTIVE
    assert outcome.metadata["scheme"] == "internal"  # reachable from the internet only when asked
    assert outcome.metadata["listeners"] == [{"port": 80, "protocol": "HTTP", "default_action": "forward"}]
    assert outcome.metadata["health_check_paths"] == ["/health"]
    arns = [outcome.arn, *outcome.metadata["target_group_arns"]]
    for description in elb().describe_tags(ResourceArns=arns)["TagDescriptions"]:
        tags = {t["Key"]: t["Value"] for t in description["Tags"]}
        assert tags["MiyabiManaged"] == "true" and tags["MiyabiAgent"] == "Napoleon"


def test_create_is_idempotent_and_refuses_foreign_names(make_ctx: MakeCtx, subnets: list[str]) -> None:
    first = provider.create(make_ctx(LB, {"subnet_ids": subnets}))
    assert provider.create(make_ctx(LB, {"subnet_ids": subnets})).arn == first.arn
    assert len(elb().describe_load_balancers()["LoadBalancers"]) == 1
    assert len(elb().describe_target_groups()["TargetGroups"]) == 1
    with pytest.raises(ResourceConflict):
        provider.create(make_ctx(LB, {"subnet_ids": subnets, "load_balancer_name": first.id}, task_id="other"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "at least two subnets"),
        ({"subnet_ids": ["subnet-0123456789abcdef0"]}, "at least two"),
        ({"load_balancer_name": "bad_name!", "subnet_ids": ["subnet-0123456789abcdef0"] * 2}, "load balancer name"),
        ({"scheme": "public", "subnet_ids": ["subnet-0123456789abcdef0"] * 2}, "scheme"),
    ],
)
def test_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(LB, params))


def test_plan_changes_nothing(make_ctx: MakeCtx, subnets: list[str]) -> None:
    plan = provider.plan(make_ctx(LB, {"subnet_ids": subnets}))
    assert "elasticloadbalancing:CreateListener" in plan["calls"]
    assert elb().describe_load_balancers()["LoadBalancers"] == []


def test_update_default_action_and_health_check(make_ctx: MakeCtx, subnets: list[str]) -> None:
    name = provider.create(make_ctx(LB, {"subnet_ids": subnets})).id
    ctx = op(
        make_ctx,
        T.UPDATE_RESOURCE,
        name,
        default_action="fixed-response",
        health_check_path="/ok",
        health_check_interval=15,
    )
    outcome = provider.update(ctx, name)
    assert outcome.metadata["listeners"][0]["default_action"] == "fixed-response"
    (group,) = elb().describe_target_groups()["TargetGroups"]
    assert group["HealthCheckPath"] == "/ok" and group["HealthCheckIntervalSeconds"] == 15
    back = provider.update(op(make_ctx, T.UPDATE_RESOURCE, name, default_action="forward"), name)
    assert back.metadata["listeners"][0]["default_action"] == "forward"


def test_delete_removes_listener_balancer_and_target_group(make_ctx: MakeCtx, subnets: list[str]) -> None:
    name = provider.create(make_ctx(LB, {"subnet_ids": subnets})).id
    plan = provider.plan(op(make_ctx, T.DELETE_RESOURCE, name))
    assert [c.split(":")[1] for c in plan["calls"]] == ["DeleteListener", "DeleteLoadBalancer", "DeleteTargetGroup"]
    provider.delete(op(make_ctx, T.DELETE_RESOURCE, name), name)
    assert elb().describe_load_balancers()["LoadBalancers"] == []
    assert elb().describe_target_groups()["TargetGroups"] == []
    with pytest.raises(ResourceNotFound):
        provider.status(op(make_ctx, T.DELETE_RESOURCE, name), name)


def test_unmanaged_balancer_is_never_deleted(make_ctx: MakeCtx, subnets: list[str]) -> None:
    elb().create_load_balancer(Name="theirs", Subnets=subnets)
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE, "theirs"), "theirs")
    assert len(elb().describe_load_balancers()["LoadBalancers"]) == 1


def test_discover_and_tag(make_ctx: MakeCtx, subnets: list[str]) -> None:
    name = provider.create(make_ctx(LB, {"subnet_ids": subnets})).id
    elb().create_load_balancer(Name="theirs", Subnets=subnets)
    found = {o.id: o for o in provider.discover(make_ctx(LB, {}, task_type=T.DISCOVER_RESOURCES))}
    assert found[name].managed and not found["theirs"].managed
    provider.tag(make_ctx(LB, {}), name, {"Owner": "ops"})
    assert provider.status(make_ctx(LB, {}), name).tags["Owner"] == "ops"
