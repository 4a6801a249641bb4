"""VpcNetworkProvider against moto: subnets across AZs, routing, idempotent create, ordered teardown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.vpc import VpcNetworkProvider, subnet_layout

MakeCtx = Callable[..., Any]
VPC = AwsResourceType.VPC_NETWORK
T = AwsTaskType
provider = VpcNetworkProvider()


def ec2() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def own_vpcs() -> list[dict[str, Any]]:
    return [v for v in ec2().describe_vpcs()["Vpcs"] if not v["IsDefault"]]


def test_registry_returns_the_vpc_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(VPC), VpcNetworkProvider)


def test_subnet_layout_splits_the_range_per_role_and_zone() -> None:
    layout = subnet_layout("10.0.0.0/16", ["a", "b", "c"], True, True)
    assert [(r, z) for r, z, _ in layout] == [
        ("public", "a"),
        ("public", "b"),
        ("public", "c"),
        ("private", "a"),
        ("private", "b"),
        ("private", "c"),
    ]
    assert [c for _, _, c in layout][:2] == ["10.0.0.0/19", "10.0.32.0/19"]
    with pytest.raises(TaskAnalysisError, match="too small"):
        subnet_layout("10.0.0.0/26", ["a", "b", "c", "d", "e", "f"], True, True)


def test_create_builds_subnets_across_azs_with_public_routing_tagged_at_creation(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(VPC, {"cidr": "10.1.0.0/16", "az_count": 3, "name": "core"}))
    assert outcome.state is ResourceState.ACTIVE and outcome.ready
    assert outcome.arn == f"arn:aws:ec2:us-east-1:123456789012:vpc/{outcome.id}"
    meta = outcome.metadata
    assert len(meta["public_subnet_ids"]) == 3 and len(meta["private_subnet_ids"]) == 3
    assert meta["availability_zones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    subnets = ec2().describe_subnets(Filters=[{"Name": "vpc-id", "Values": [outcome.id]}])["Subnets"]
    assert all(tags_of(s)["MiyabiManaged"] == "true" and tags_of(s)["MiyabiTask"] == "task-0001" for s in subnets)
    assert tags_of(own_vpcs()[0])["Name"] == "core"
    (igw,) = ec2().describe_internet_gateways(InternetGatewayIds=[meta["internet_gateway_id"]])["InternetGateways"]
    assert igw["Attachments"][0]["VpcId"] == outcome.id and tags_of(igw)["MiyabiManaged"] == "true"
    (table,) = ec2().describe_route_tables(RouteTableIds=meta["route_table_ids"])["RouteTables"]
    assert {"0.0.0.0/0"} <= {r.get("DestinationCidrBlock") for r in table["Routes"]}
    assert {a["SubnetId"] for a in table["Associations"]} == set(meta["public_subnet_ids"])


def test_private_only_network_has_no_gateway(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(VPC, {"az_count": 2, "public": False}))
    assert outcome.metadata["public_subnet_ids"] == [] and "internet_gateway_id" not in outcome.metadata


def test_create_is_idempotent_for_a_task(make_ctx: MakeCtx) -> None:
    first = provider.create(make_ctx(VPC, {"az_count": 2}))
    second = provider.create(make_ctx(VPC, {"az_count": 2}))
    assert second.id == first.id and second.metadata == first.metadata
    assert len(own_vpcs()) == 1
    assert len(ec2().describe_subnets(Filters=[{"Name": "vpc-id", "Values": [first.id]}])["Subnets"]) == 4


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cidr": "10.0.0.0/8"}, "between /16 and /24"),
        ({"cidr": "nope"}, "not an IPv4"),
        ({"az_count": 9}, "az_count"),
        ({"public": False, "private": False}, "public or private"),
    ],
)
def test_bad_parameters_are_clear_errors(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(VPC, params))
    assert own_vpcs() == []


def test_plan_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(VPC, {"az_count": 2}))
    assert plan["calls"].count("ec2:CreateSubnet") == 4 and "ec2:CreateInternetGateway" in plan["calls"]
    assert own_vpcs() == []


def test_status_of_a_missing_vpc(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound):
        provider.status(make_ctx(VPC, {}), "vpc-0123456789abcdef0")


def test_update_tags_the_vpc_and_its_pieces(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(VPC, {"az_count": 1}))
    updated = provider.update(
        make_ctx(VPC, {"vpc_id": outcome.id, "tags": {"Env": "dev"}}, task_type=T.UPDATE_RESOURCE), outcome.id
    )
    assert updated.tags["Env"] == "dev"
    subnets = ec2().describe_subnets(Filters=[{"Name": "vpc-id", "Values": [outcome.id]}])["Subnets"]
    assert all(tags_of(s)["Env"] == "dev" for s in subnets)
    with pytest.raises(TaskAnalysisError, match="CIDR and subnets are fixed"):
        provider.update(
            make_ctx(VPC, {"vpc_id": outcome.id, "cidr": "10.9.0.0/16"}, task_type=T.UPDATE_RESOURCE), outcome.id
        )


def test_delete_tears_down_in_order(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(VPC, {"az_count": 2}))
    plan = provider.plan(make_ctx(VPC, {"vpc_id": outcome.id}, task_type=T.DELETE_RESOURCE))
    assert plan["calls"][-1] == "ec2:DeleteVpc" and plan["calls"][0] == "ec2:DeleteSubnet"
    deleted = provider.delete(make_ctx(VPC, {"vpc_id": outcome.id}, task_type=T.DELETE_RESOURCE), outcome.id)
    assert deleted.state is ResourceState.TERMINATED
    assert own_vpcs() == []
    assert ec2().describe_internet_gateways(InternetGatewayIds=[])["InternetGateways"] == []
    assert [s for s in ec2().describe_subnets()["Subnets"] if s["VpcId"] == outcome.id] == []


def test_delete_refuses_while_interfaces_use_the_network(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(VPC, {"az_count": 1}))
    ec2().create_network_interface(SubnetId=outcome.metadata["private_subnet_ids"][0])
    with pytest.raises(ResourceConflict, match="network interface"):
        provider.delete(make_ctx(VPC, {"vpc_id": outcome.id}, task_type=T.DELETE_RESOURCE), outcome.id)
    assert len(own_vpcs()) == 1


def test_unmanaged_vpc_is_never_deleted(make_ctx: MakeCtx) -> None:
    vpc_id = ec2().create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(ResourceNotManaged):
        provider.delete(make_ctx(VPC, {"vpc_id": vpc_id}, task_type=T.DELETE_RESOURCE), vpc_id)
    assert len(own_vpcs()) == 1


def test_discover_lists_managed_and_unmanaged(make_ctx: MakeCtx) -> None:
    managed = provider.create(make_ctx(VPC, {"az_count": 1}))
    ec2().create_vpc(CidrBlock="10.5.0.0/16")
    found = {o.id: o for o in provider.discover(make_ctx(VPC, {}, task_type=T.DISCOVER_RESOURCES))}
    assert found[managed.id].managed and found[managed.id].metadata["subnet_ids"]
    assert sum(1 for o in found.values() if not o.managed) >= 2  # the unmanaged one and moto's default VPC


def test_tag_adds_tags(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(VPC, {"az_count": 1}))
    provider.tag(make_ctx(VPC, {}), outcome.id, {"Owner": "ops"})
    assert tags_of(own_vpcs()[0])["Owner"] == "ops"
