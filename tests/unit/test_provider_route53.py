"""Route53HostedZoneProvider against moto: zones by caller reference, record upserts, delete with its records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.route53 import Route53HostedZoneProvider

MakeCtx = Callable[..., Any]
R53 = AwsResourceType.ROUTE53_HOSTED_ZONE
T = AwsTaskType
ZONE = "example.com"
RECORDS = [
    {"name": "www", "type": "A", "values": ["192.0.2.10"], "ttl": 60},
    {"name": "api.example.com", "type": "CNAME", "values": "www.example.com"},
]
provider = Route53HostedZoneProvider()


def r53() -> Any:
    return boto3.client("route53", region_name="us-east-1")


def zones() -> list[dict[str, Any]]:
    return list(r53().list_hosted_zones()["HostedZones"])


def records(zone_id: str) -> dict[tuple[str, str], list[str]]:
    sets = r53().list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(s["Name"], s["Type"]): [r["Value"] for r in s.get("ResourceRecords", [])] for s in sets}


def create(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> Any:
    return provider.create(make_ctx(R53, {"zone_name": ZONE, **params}, task_id=task_id))


def op(make_ctx: MakeCtx, task_type: AwsTaskType, zone_id: str, **params: Any) -> Any:
    return make_ctx(R53, {"hosted_zone_id": zone_id, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_route53_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(R53), Route53HostedZoneProvider)


def test_create_makes_a_tagged_zone_with_records(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, records=RECORDS, tags={"Team": "web"})

    assert outcome.state is ResourceState.ACTIVE and outcome.ready and outcome.managed
    assert outcome.arn == f"arn:aws:route53:::hostedzone/{outcome.id}"
    assert outcome.metadata["zone_name"] == "example.com." and outcome.metadata["caller_reference"] == "task-0001"
    assert outcome.metadata["name_servers"]
    assert outcome.metadata["change"]["records"] == 2
    found = records(outcome.id)
    assert found[("www.example.com.", "A")] == ["192.0.2.10"]
    assert found[("api.example.com.", "CNAME")] == ["www.example.com"]
    tags = {
        t["Key"]: t["Value"]
        for t in r53().list_tags_for_resource(ResourceType="hostedzone", ResourceId=outcome.id)["ResourceTagSet"][
            "Tags"
        ]
    }
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Team"] == "web"


def test_create_replay_returns_the_same_zone(make_ctx: MakeCtx) -> None:
    first = create(make_ctx, records=RECORDS)
    second = create(make_ctx, records=RECORDS)
    assert first.id == second.id and len(zones()) == 1


def test_another_task_gets_its_own_zone(make_ctx: MakeCtx) -> None:
    # Route 53 allows several zones of one name (e.g. a migration); each task has its own caller reference.
    assert create(make_ctx, task_id="a").id != create(make_ctx, task_id="b").id


def test_create_private_zone_needs_a_vpc(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskAnalysisError, match="vpc_id"):
        create(make_ctx, private=True)
    vpc = boto3.client("ec2", region_name="us-east-1").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    assert create(make_ctx, private=True, vpc_id=vpc).metadata["private"] is True


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"zone_name": "not a domain"}, "not a domain"),
        ({}, "missing parameter 'zone_name'"),
        ({"zone_name": ZONE, "records": [{"name": "x", "type": "BOGUS", "values": ["1"]}]}, "type"),
        ({"zone_name": ZONE, "records": [{"name": "x", "type": "A", "values": []}]}, "values"),
        ({"zone_name": ZONE, "records": [{"name": "example.com", "type": "NS", "values": ["a"]}]}, "apex"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(R53, params))
    assert zones() == []


def test_update_upserts_and_deletes_records_and_sets_the_comment(make_ctx: MakeCtx) -> None:
    zone_id = create(make_ctx, records=RECORDS).id
    changes = [
        {"name": "www", "type": "A", "values": ["192.0.2.20"], "ttl": 60},
        {"name": "api", "type": "CNAME", "values": ["www.example.com"], "ttl": 300, "action": "DELETE"},
    ]
    ctx = op(make_ctx, T.UPDATE_RESOURCE, zone_id, records=changes, comment="moved", tags={"Env": "prod"})
    outcome = provider.update(ctx, provider.resource_id(ctx))
    found = records(zone_id)
    assert found[("www.example.com.", "A")] == ["192.0.2.20"]
    assert ("api.example.com.", "CNAME") not in found
    assert outcome.metadata["comment"] == "moved" and outcome.tags["Env"] == "prod"


def test_update_needs_something(make_ctx: MakeCtx) -> None:
    zone_id = create(make_ctx).id
    with pytest.raises(TaskAnalysisError, match="at least one"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, zone_id), zone_id)


def test_unmanaged_zones_are_left_alone(make_ctx: MakeCtx) -> None:
    zone_id = r53().create_hosted_zone(Name="other.org", CallerReference="human")["HostedZone"]["Id"]
    zone_id = zone_id.rsplit("/", 1)[-1]
    with pytest.raises(ResourceNotManaged):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, zone_id, comment="x"), zone_id)
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE, zone_id), zone_id)
    assert len(zones()) == 1


def test_delete_removes_records_then_the_zone(make_ctx: MakeCtx) -> None:
    zone_id = create(make_ctx, records=RECORDS).id
    plan = provider.plan(op(make_ctx, T.DELETE_RESOURCE, f"/hostedzone/{zone_id}"))
    assert plan["calls"] == ["route53:ChangeResourceRecordSets", "route53:DeleteHostedZone"]
    assert sorted(plan["parameters"]["records_to_delete"]) == ["api.example.com. CNAME", "www.example.com. A"]
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE, zone_id), zone_id)
    assert outcome.state is ResourceState.TERMINATED and outcome.metadata["records_deleted"] == 2
    assert zones() == []
    with pytest.raises(ResourceNotFound):
        provider.status(make_ctx(R53, {}), zone_id)


def test_resource_id_accepts_route53_forms(make_ctx: MakeCtx) -> None:
    assert provider.resource_id(make_ctx(R53, {"hosted_zone_id": "/hostedzone/Z123ABC"})) == "Z123ABC"
    with pytest.raises(TaskAnalysisError):
        provider.resource_id(make_ctx(R53, {"hosted_zone_id": "nope"}))


def test_discover_lists_all_zones_with_tags(make_ctx: MakeCtx) -> None:
    mine = create(make_ctx).id
    r53().create_hosted_zone(Name="other.org", CallerReference="human")
    found = {o.id: o.managed for o in provider.discover(make_ctx(R53, {}, task_type=T.DISCOVER_RESOURCES))}
    assert found[mine] is True and list(found.values()).count(False) == 1


def test_tag_adds_tags(make_ctx: MakeCtx) -> None:
    zone_id = create(make_ctx).id
    provider.tag(make_ctx(R53, {}), zone_id, {"Cost": "cc"})
    assert provider.status(make_ctx(R53, {}), zone_id).tags["Cost"] == "cc"


def test_plan_create_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(R53, {"zone_name": ZONE, "records": RECORDS}))
    assert plan["calls"][0] == "route53:CreateHostedZone" and plan["parameters"]["caller_reference"] == "task-0001"
    assert zones() == []


def test_daily_cost_is_the_monthly_zone_fee_over_thirty_days() -> None:
    from decimal import Decimal

    from aws_agent.pricing import estimate

    cost = estimate(R53, {"zone_name": "example.com."})
    assert cost.priced and cost.daily == Decimal("0.0167")
