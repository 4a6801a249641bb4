"""EcsServiceProvider against moto: cluster, task definition revisions, service rollout, scale-to-zero delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.ecs import PLACEHOLDER_IMAGE, EcsServiceProvider

MakeCtx = Callable[..., Any]
ECS = AwsResourceType.ECS_SERVICE
T = AwsTaskType
provider = EcsServiceProvider()
ID = "web/shop"


def ecs() -> Any:
    return boto3.client("ecs", region_name="us-east-1")


@pytest.fixture
def subnet(mocked_aws: None) -> str:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"])


def params(subnet: str, **extra: Any) -> dict[str, Any]:
    return {"cluster": "web", "service_name": "shop", "subnet_ids": [subnet], **extra}


def create(make_ctx: MakeCtx, subnet: str, task_id: str = "task-0001", **extra: Any) -> Any:
    return provider.create(make_ctx(ECS, params(subnet, **extra), task_id=task_id))


def op(make_ctx: MakeCtx, task_type: AwsTaskType, **extra: Any) -> Any:
    return make_ctx(ECS, {"cluster": "web", "service_name": "shop", **extra}, task_id="task-op", task_type=task_type)


def service() -> dict[str, Any]:
    return dict(ecs().describe_services(cluster="web", services=["shop"], include=["TAGS"])["services"][0])


def test_registry_and_long_running_settings(mocked_aws: None) -> None:
    assert isinstance(provider_for(ECS), EcsServiceProvider)
    assert EcsServiceProvider.poll_seconds == 15 and EcsServiceProvider.deadline_seconds == 1800


def test_create_makes_cluster_task_definition_and_tagged_service(
    make_ctx: MakeCtx, subnet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "2")  # moto starts this many tasks at once
    outcome = create(
        make_ctx,
        subnet,
        image="public.ecr.aws/docker/library/httpd:2.4",
        container_port=80,
        desired_count=2,
        cpu=512,
        memory=1024,
        environment={"MODE": "prod"},
        tags={"Team": "shop"},
    )

    assert outcome.id == ID and outcome.managed
    assert outcome.state is ResourceState.ACTIVE and outcome.ready  # all tasks running: rollout COMPLETED
    assert outcome.metadata["desired_count"] == 2 and outcome.metadata["cpu"] == 512
    assert outcome.arn.endswith("service/web/shop")
    clusters = ecs().describe_clusters(clusters=["web"], include=["TAGS"])["clusters"]
    assert clusters[0]["status"] == "ACTIVE"
    described = service()
    assert described["launchType"] == "FARGATE" and described["desiredCount"] == 2
    network = described["networkConfiguration"]["awsvpcConfiguration"]
    assert network["subnets"] == [subnet] and network["assignPublicIp"] == "DISABLED"
    tags = {t["key"]: t["value"] for t in described["tags"]}
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Team"] == "shop"
    definition = ecs().describe_task_definition(taskDefinition=described["taskDefinition"])["taskDefinition"]
    assert definition["family"] == "shop" and definition["requiresCompatibilities"] == ["FARGATE"]
    container = definition["containerDefinitions"][0]
    assert container["image"] == "public.ecr.aws/docker/library/httpd:2.4"
    assert container["portMappings"][0]["containerPort"] == 80
    assert container["environment"] == [{"name": "MODE", "value": "prod"}]


def test_create_defaults_to_the_placeholder_image_and_uses_an_existing_cluster(make_ctx: MakeCtx, subnet: str) -> None:
    ecs().create_cluster(clusterName="web")
    create(make_ctx, subnet)
    definition = ecs().describe_task_definition(taskDefinition=service()["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == PLACEHOLDER_IMAGE
    assert (definition["cpu"], definition["memory"]) == ("256", "512")
    assert len(ecs().list_clusters()["clusterArns"]) == 1


def test_create_replay_registers_no_second_revision(make_ctx: MakeCtx, subnet: str) -> None:
    first = create(make_ctx, subnet)
    second = create(make_ctx, subnet)
    assert first.arn == second.arn
    assert len(ecs().list_task_definitions(familyPrefix="shop")["taskDefinitionArns"]) == 1
    with pytest.raises(ResourceConflict, match="belongs to task task-0001"):
        create(make_ctx, subnet, task_id="task-other")


def test_status_reports_a_rollout_in_progress(make_ctx: MakeCtx, subnet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "0")  # moto: no task ever starts
    outcome = create(make_ctx, subnet)
    assert outcome.state is ResourceState.CREATING and not outcome.ready
    assert outcome.metadata["rollout_state"] == "IN_PROGRESS"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"subnet_ids": None}, "subnet_ids"),
        ({"subnet_ids": ["nope"]}, "invalid subnet"),
        ({"cpu": 256, "memory": 4096}, "takes memory 512 to 2048"),
        ({"cpu": 300, "memory": 512}, "must be one of"),
        ({"service_name": "bad name"}, "letters, digits"),
        ({"execution_role_arn": "role"}, "IAM role ARN"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, subnet: str, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        create(make_ctx, subnet, **extra)
    assert ecs().list_clusters()["clusterArns"] == []


def test_update_registers_a_revision_scales_and_forces_a_deployment(make_ctx: MakeCtx, subnet: str) -> None:
    create(make_ctx, subnet, container_port=8080)
    ctx = op(
        make_ctx,
        T.UPDATE_RESOURCE,
        image="public.ecr.aws/nginx/nginx:mainline",
        desired_count=3,
        force_new_deployment=True,
        tags={"Env": "prod"},
    )
    outcome = provider.update(ctx, provider.resource_id(ctx))
    described = service()
    assert described["taskDefinition"].endswith("shop:2") and described["desiredCount"] == 3
    definition = ecs().describe_task_definition(taskDefinition="shop:2")["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == "public.ecr.aws/nginx/nginx:mainline"
    assert definition["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 8080  # kept
    assert outcome.metadata["previous_task_definition"].endswith("shop:1")
    assert outcome.tags["Env"] == "prod" and outcome.tags["MiyabiTask"] == "task-0001"


def test_update_needs_something(make_ctx: MakeCtx, subnet: str) -> None:
    create(make_ctx, subnet)
    with pytest.raises(TaskAnalysisError, match="at least one"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE), ID)


def test_unmanaged_services_are_left_alone(make_ctx: MakeCtx, subnet: str) -> None:
    ecs().create_cluster(clusterName="web")
    ecs().register_task_definition(family="hand", containerDefinitions=[{"name": "a", "image": "x", "memory": 128}])
    ecs().create_service(cluster="web", serviceName="shop", taskDefinition="hand", desiredCount=1)
    with pytest.raises(ResourceNotManaged):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, desired_count=0), ID)
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE), ID)
    assert service()["status"] == "ACTIVE" and service()["desiredCount"] == 1


def test_delete_scales_to_zero_then_deletes(make_ctx: MakeCtx, subnet: str) -> None:
    create(make_ctx, subnet, desired_count=2)
    plan = provider.plan(op(make_ctx, T.DELETE_RESOURCE))
    assert plan["calls"] == ["ecs:UpdateService (desiredCount 0)", "ecs:DeleteService"]
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE), ID)
    assert outcome.state is ResourceState.TERMINATED  # moto marks the service INACTIVE at once
    assert service()["status"] == "INACTIVE" and service()["desiredCount"] == 0
    with pytest.raises(ResourceNotFound):  # the wait loop's poll: INACTIVE counts as gone
        provider.status(op(make_ctx, T.DELETE_RESOURCE), ID)


def test_status_of_missing_cluster_or_service_is_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match="cluster nowhere"):
        provider.status(make_ctx(ECS, {}), "nowhere/shop")


def test_discover_lists_live_services_of_every_cluster(make_ctx: MakeCtx, subnet: str) -> None:
    create(make_ctx, subnet)
    ecs().create_cluster(clusterName="other")
    ecs().register_task_definition(family="hand", containerDefinitions=[{"name": "a", "image": "x", "memory": 128}])
    ecs().create_service(cluster="other", serviceName="legacy", taskDefinition="hand", desiredCount=1)
    found = {o.id: o.managed for o in provider.discover(make_ctx(ECS, {}, task_type=T.DISCOVER_RESOURCES))}
    assert found == {ID: True, "other/legacy": False}


def test_tag_adds_tags(make_ctx: MakeCtx, subnet: str) -> None:
    create(make_ctx, subnet)
    provider.tag(make_ctx(ECS, {}), ID, {"Cost": "cc"})
    assert {t["key"]: t["value"] for t in service()["tags"]}["Cost"] == "cc"


def test_plan_create_changes_nothing(make_ctx: MakeCtx, subnet: str) -> None:
    plan = provider.plan(make_ctx(ECS, params(subnet)))
    assert plan["calls"][-1] == "ecs:CreateService" and plan["parameters"]["cpu"] == 256
    assert ecs().list_clusters()["clusterArns"] == []


def test_daily_cost_prices_the_fargate_tasks_of_the_service(make_ctx: MakeCtx, subnet: str) -> None:
    from decimal import Decimal

    from aws_agent.pricing import estimate

    outcome = create(make_ctx, subnet, cpu=1024, memory=2048, desired_count=2)
    cost = estimate(ECS, outcome.metadata)
    # 2 tasks x (1 vCPU x 0.04048 + 2 GB x 0.004445) x 24 h
    assert cost.priced and cost.daily == Decimal("2.3698")
