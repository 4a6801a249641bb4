"""AutoScalingGroupProvider against moto: launch template + group, capacity updates, force delete of managed only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.autoscaling import AutoScalingGroupProvider
from aws_agent.resources.vpc import VpcNetworkProvider

MakeCtx = Callable[..., Any]
ASG = AwsResourceType.AUTO_SCALING_GROUP
T = AwsTaskType
provider = AutoScalingGroupProvider()


@pytest.fixture
def subnets(make_ctx: MakeCtx) -> list[str]:
    vpc = VpcNetworkProvider().create(make_ctx(AwsResourceType.VPC_NETWORK, {"az_count": 2}, task_id="net"))
    return list(vpc.metadata["private_subnet_ids"])


def groups() -> list[dict[str, Any]]:
    return list(
        boto3.client("autoscaling", region_name="us-east-1").describe_auto_scaling_groups()["AutoScalingGroups"]
    )


def templates() -> list[dict[str, Any]]:
    return list(boto3.client("ec2", region_name="us-east-1").describe_launch_templates()["LaunchTemplates"])


def op(make_ctx: MakeCtx, task_type: AwsTaskType, name: str, **params: Any) -> Any:
    return make_ctx(ASG, {"group_name": name, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_asg_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(ASG), AutoScalingGroupProvider)


def test_create_launch_template_and_group_with_propagated_tags(make_ctx: MakeCtx, subnets: list[str]) -> None:
    outcome = provider.create(
        make_ctx(ASG, {"subnet_ids": subnets, "min_size": 1, "max_size": 3, "desired_capacity": 2})
    )
    assert outcome.id == "miyabi-task-0001" and outcome.state is ResourceState.ACTIVE
    assert outcome.metadata["capacity"] == {"MinSize": 1, "MaxSize": 3, "DesiredCapacity": 2}
    assert outcome.ready and outcome.metadata["in_service"] == 2
    (group,) = groups()
    assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(subnets)
    tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
    assert tags["MiyabiManaged"] == ("true", True) and tags["MiyabiAgent"] == ("Napoleon", True)
    (template,) = templates()
    assert {t["Key"]: t["Value"] for t in template["Tags"]}["MiyabiTask"] == "task-0001"


def test_create_is_idempotent_and_refuses_foreign_names(make_ctx: MakeCtx, subnets: list[str]) -> None:
    first = provider.create(make_ctx(ASG, {"subnet_ids": subnets, "group_name": "web"}))
    assert provider.create(make_ctx(ASG, {"subnet_ids": subnets, "group_name": "web"})).id == first.id
    assert len(groups()) == 1 and len(templates()) == 1
    with pytest.raises(ResourceConflict, match="not created by this task"):
        provider.create(make_ctx(ASG, {"subnet_ids": subnets, "group_name": "web"}, task_id="other"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "subnet_ids"),
        ({"subnet_ids": ["x"]}, "invalid ids"),
        ({"subnet_ids": ["subnet-0123456789abcdef0"], "min_size": 3, "max_size": 2}, "min_size <= desired_capacity"),
        ({"subnet_ids": ["subnet-0123456789abcdef0"], "max_size": 1000}, "between 0 and 100"),
    ],
)
def test_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(ASG, params))
    assert groups() == []


def test_plan_changes_nothing(make_ctx: MakeCtx, subnets: list[str]) -> None:
    plan = provider.plan(make_ctx(ASG, {"subnet_ids": subnets}))
    assert plan["calls"] == ["ec2:CreateLaunchTemplate", "autoscaling:CreateAutoScalingGroup"]
    assert groups() == [] and templates() == []


def test_update_capacity_and_tags(make_ctx: MakeCtx, subnets: list[str]) -> None:
    name = provider.create(make_ctx(ASG, {"subnet_ids": subnets, "max_size": 4})).id
    outcome = provider.update(op(make_ctx, T.UPDATE_RESOURCE, name, desired_capacity=3, tags={"Tier": "web"}), name)
    assert outcome.metadata["capacity"] == {"MinSize": 0, "MaxSize": 4, "DesiredCapacity": 3}
    assert outcome.tags["Tier"] == "web"
    with pytest.raises(TaskAnalysisError, match="min_size <= desired_capacity"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, name, desired_capacity=9), name)


def test_delete_forces_the_managed_group_and_its_template(make_ctx: MakeCtx, subnets: list[str]) -> None:
    name = provider.create(make_ctx(ASG, {"subnet_ids": subnets})).id
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE, name), name)
    assert outcome.state is ResourceState.DELETING and not outcome.ready
    assert groups() == [] and templates() == []
    with pytest.raises(ResourceNotFound):
        provider.status(op(make_ctx, T.DELETE_RESOURCE, name), name)


def test_unmanaged_group_is_never_deleted(make_ctx: MakeCtx, subnets: list[str]) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_launch_template(LaunchTemplateName="theirs", LaunchTemplateData={"ImageId": "ami-12c6146b"})
    boto3.client("autoscaling", region_name="us-east-1").create_auto_scaling_group(
        AutoScalingGroupName="theirs",
        LaunchTemplate={"LaunchTemplateName": "theirs"},
        MinSize=0,
        MaxSize=1,
        VPCZoneIdentifier=subnets[0],
    )
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE, "theirs"), "theirs")
    assert len(groups()) == 1


def test_discover_and_tag(make_ctx: MakeCtx, subnets: list[str]) -> None:
    name = provider.create(make_ctx(ASG, {"subnet_ids": subnets})).id
    found = provider.discover(make_ctx(ASG, {}, task_type=T.DISCOVER_RESOURCES))
    assert [o.id for o in found] == [name] and found[0].managed
    provider.tag(make_ctx(ASG, {}), name, {"Owner": "ops"})
    assert provider.status(make_ctx(ASG, {}), name).tags["Owner"] == "ops"
