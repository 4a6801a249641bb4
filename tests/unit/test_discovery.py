"""Org-wide discovery and reconciliation on moto: 4 accounts x 2 regions, drift, discovered records, request count."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import boto3
import pytest
from organization import REGIONS, ZEUS, Org, make_org

from aws_agent.accounts.directory import clear_cache
from aws_agent.accounts.reconcile import DISCOVERED
from aws_agent.accounts.workflow import discover_one, plan_discovery
from aws_agent.aws import Target
from aws_agent.config import AgentConfig, MultiAccountConfig
from aws_agent.model import (
    AwsResource,
    AwsResourceType,
    AwsTask,
    AwsTaskType,
    HealthStatus,
    HistoricalAgent,
    ResourceState,
    ServiceAgent,
)
from aws_agent.pipeline.execute import execute
from aws_agent.pipeline.runtime import Runtime
from aws_agent.settings import Settings

pytestmark = pytest.mark.usefixtures("mocked_aws")
MANAGED = {"MiyabiManaged": "true", "MiyabiAgent": "SteveJobs", "MiyabiTask": "t-seed"}


def make_runtime(org: Org, **multi: Any) -> Runtime:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    string = [{"AttributeName": n, "AttributeType": "S"} for n in ("resource_key", "account_id", "type_id")]
    ddb.create_table(
        TableName="resources",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=string,
        KeySchema=[{"AttributeName": "resource_key", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-account-type",
                "KeySchema": [
                    {"AttributeName": "account_id", "KeyType": "HASH"},
                    {"AttributeName": "type_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    ddb.create_table(
        TableName="agents",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
    )
    events = boto3.client("events", region_name="us-east-1")
    events.create_event_bus(Name="agent-bus")
    url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="observer")["QueueUrl"]
    events.put_rule(Name="all", EventBusName="agent-bus", EventPattern=json.dumps({"source": ["miyabi.aws-agent"]}))
    events.put_targets(
        Rule="all", EventBusName="agent-bus", Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ZEUS}:observer"}]
    )
    config = AgentConfig(
        accounts={"Zeus": ZEUS},
        allowed_regions=list(REGIONS),
        multi_account=MultiAccountConfig(**multi),
    )
    rt = Runtime(Settings("tasks", "resources", "agents", "agent-bus", agent_account_id=ZEUS, preset_config=config))
    rt.observer_url = url  # type: ignore[attr-defined]
    clear_cache()
    return rt


def drift_events(rt: Runtime) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=rt.observer_url, MaxNumberOfMessages=10).get("Messages", [])  # type: ignore[attr-defined]
        if not batch:
            return found
        for message in batch:
            body = json.loads(message["Body"])
            if body["detail-type"] == "ResourceDriftDetected":
                found.append(body["detail"])
            sqs.delete_message(QueueUrl=rt.observer_url, ReceiptHandle=message["ReceiptHandle"])  # type: ignore[attr-defined]


def client(rt: Runtime, service: str, account: str, region: str) -> Any:
    return rt.sessions.client(service, Target(account, region), session_name="seed")


def register(rt: Runtime, account: str, region: str, rtype: AwsResourceType, ident: str, arn: str) -> str:
    resource = AwsResource(
        id=ident,
        arn=arn,
        resource_type=rtype,
        region=region,
        account_id=account,
        state=ResourceState.ACTIVE,
        owner_agent=HistoricalAgent.STEVE_JOBS,
        tags=MANAGED,
    )
    agent = ServiceAgent(
        name=resource.key,
        service_type=rtype,
        state=ResourceState.ACTIVE,
        autonomy_level=6,
        decision_maker=HistoricalAgent.STEVE_JOBS,
        cost_per_day=Decimal("1.5"),
        health_status=HealthStatus.UNKNOWN,
    )
    rt.resources.save(resource, agent)
    return resource.key


def run_instance(rt: Runtime, account: str, region: str, tags: dict[str, str]) -> str:
    ec2 = client(rt, "ec2", account, region)
    spec: dict[str, Any] = {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro"}
    if tags:
        spec["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return str(ec2.run_instances(**spec)["Instances"][0]["InstanceId"])


def seed(rt: Runtime, org: Org) -> dict[str, Any]:
    apollo, cerberus, athena = org.accounts["Apollo"], org.accounts["Cerberus"], org.accounts["Athena"]
    s = {}
    # Apollo us-east-1: a managed bucket deleted behind the agent's back, a managed instance whose tags change.
    s3 = client(rt, "s3", apollo, "us-east-1")
    s3.create_bucket(Bucket="apollo-managed")
    s["bucket_key"] = register(
        rt, apollo, "us-east-1", AwsResourceType.S3_BUCKET, "apollo-managed", "arn:aws:s3:::apollo-managed"
    )
    s3.delete_bucket(Bucket="apollo-managed")
    instance = run_instance(rt, apollo, "us-east-1", MANAGED)
    s["instance_key"] = register(
        rt, apollo, "us-east-1", AwsResourceType.EC2_INSTANCE, instance, f"arn:aws:ec2:us-east-1:{apollo}:instance/x"
    )
    client(rt, "ec2", apollo, "us-east-1").create_tags(Resources=[instance], Tags=[{"Key": "Owner", "Value": "bob"}])
    # Unmanaged: a bucket in Apollo, an instance in Cerberus eu-west-1, a tagged DynamoDB table in Athena (Tagging API).
    s3.create_bucket(Bucket="apollo-wild")
    s["wild_instance"] = run_instance(rt, cerberus, "eu-west-1", {"Team": "red"})
    client(rt, "dynamodb", athena, "eu-west-1").create_table(
        TableName="athena-orders",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        Tags=[{"Key": "Team", "Value": "blue"}],
    )
    # Managed and untouched in Zeus eu-west-1 (the agent's own account).
    zeus_instance = run_instance(rt, ZEUS, "eu-west-1", MANAGED)
    s["zeus_key"] = register(
        rt, ZEUS, "eu-west-1", AwsResourceType.EC2_INSTANCE, zeus_instance, f"arn:aws:ec2:eu-west-1:{ZEUS}:instance/x"
    )
    return s


# The seeded kinds: listing all twenty types would also find what AWS made itself (default VPCs, root volumes).
SEEDED_TYPES = [AwsResourceType.EC2_INSTANCE, AwsResourceType.S3_BUCKET, AwsResourceType.DYNAMODB_TABLE]


def test_org_wide_discovery_reconciles_and_announces_drift() -> None:
    org = make_org()
    rt = make_runtime(org, discovery_resource_types=SEEDED_TYPES)
    seeded = seed(rt, org)
    plan = plan_discovery(rt, {"run_id": "run-1"})
    assert len(plan["targets"]) == 8  # 4 accounts x 2 regions
    assert {t["account_id"] for t in plan["targets"]} == set(org.accounts.values())

    requests: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        requests[".".join(event_name.split(".")[1:])] += 1

    rt.sessions._base.events.register("before-send", count)
    for sts in rt.sessions._sts.values():  # STS clients created while seeding
        sts.meta.events.register("before-send", count)
    summaries = [discover_one(rt, {"run_id": "run-1", "target": t}) for t in plan["targets"]]
    one_run = dict(requests)
    assert all("error" not in s for s in summaries), summaries
    totals = Counter({k: 0 for k in ("found", "terminated", "updated", "discovered")})
    for s in summaries:
        totals.update({k: s[k] for k in totals})
    assert totals["terminated"] == 1 and totals["updated"] == 1
    assert totals["found"] == 5  # instance (Apollo), bucket (Apollo), instance (Cerberus), table (Athena), Zeus
    assert totals["discovered"] == 3

    bucket = rt.resources.get(seeded["bucket_key"])
    assert bucket is not None and bucket["state"] == "Terminated"
    agent = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="agents", Key={"name": {"S": seeded["bucket_key"]}}
    )["Item"]
    assert agent["state"]["S"] == "Terminated" and Decimal(agent["cost_per_day"]["N"]) == 0
    instance = rt.resources.get(seeded["instance_key"])
    assert instance is not None and instance["tags"]["Owner"] == "bob" and instance["state"] == "Active"
    zeus = rt.resources.get(seeded["zeus_key"])
    assert zeus is not None and zeus["state"] == "Active"

    drift = {(d["drift"], d["resource_id"]) for d in drift_events(rt)}
    assert ("deleted", "apollo-managed") in drift
    assert any(kind == "tags" for kind, _ in drift)
    assert len(drift) == 2

    # Unmanaged resources: recorded as discovered, apart from the managed records, never adopted.
    discovered = boto3.client("dynamodb", region_name="us-east-1").scan(
        TableName="resources", FilterExpression="record_kind = :d", ExpressionAttributeValues={":d": {"S": DISCOVERED}}
    )["Items"]
    kinds = {(i["resource_type"]["S"], i["id"]["S"], i["discovered_in"]["S"]) for i in discovered}
    assert kinds == {
        ("S3Bucket", "apollo-wild", org.accounts["Apollo"]),
        ("Ec2Instance", seeded["wild_instance"], org.accounts["Cerberus"]),
        ("DynamoDbTable", "athena-orders", org.accounts["Athena"]),
    }
    assert {r["id"] for r in rt.resources.by_account(org.accounts["Apollo"])} == {"apollo-managed", instance["id"]}
    wild = client(rt, "ec2", org.accounts["Cerberus"], "eu-west-1").describe_instances(
        InstanceIds=[seeded["wild_instance"]]
    )["Reservations"][0]["Instances"][0]
    assert {t["Key"] for t in wild.get("Tags", [])} == {"Team"}  # no MiyabiManaged added
    assert "agents" not in json.dumps(discovered)

    # A second run changes nothing and announces nothing.
    again = [discover_one(rt, {"run_id": "run-2", "target": t}) for t in plan["targets"]]
    assert sum(s["terminated"] + s["updated"] for s in again) == 0
    assert drift_events(rt) == []

    # The figure of the README: requests to AWS (STS and the member accounts' APIs) of one run, per resource found.
    per_resource = sum(one_run.values()) / totals["found"]
    print(f"\nAWS requests, one discovery of 4 accounts x 2 regions: {one_run} -> {per_resource:.1f} per resource")
    assert one_run["sts.AssumeRole"] == 3  # once per member account, shared by its two regions
    assert "resource-groups-tagging-api.GetResources" not in one_run  # every type has a provider that lists it
    assert per_resource < 10


def test_vanished_discovered_records_are_forgotten_and_cap_is_respected() -> None:
    org = make_org()
    rt = make_runtime(org, discovery_max_resources_per_target=2, discovery_resource_types=SEEDED_TYPES)
    apollo = org.accounts["Apollo"]
    s3 = client(rt, "s3", apollo, "us-east-1")
    for n in range(4):
        s3.create_bucket(Bucket=f"wild-{n}")
    summary = discover_one(rt, {"run_id": "r", "target": {"account_id": apollo, "region": "us-east-1"}})
    assert summary["truncated"] is True and summary["found"] == 2
    rt.settings.config.multi_account.discovery_max_resources_per_target = 100
    discover_one(rt, {"run_id": "r", "target": {"account_id": apollo, "region": "us-east-1"}})
    for n in range(4):
        s3.delete_bucket(Bucket=f"wild-{n}")
    summary = discover_one(rt, {"run_id": "r", "target": {"account_id": apollo, "region": "us-east-1"}})
    assert summary["forgotten"] == 4 and summary["found"] == 0


def test_unreachable_account_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_agent.errors import AccessDenied

    org = make_org()
    rt = make_runtime(org)

    def deny(*_: Any, **__: Any) -> Any:
        raise AccessDenied("assume arn:aws:iam::x:role/MiyabiAgentRole: AccessDenied")

    monkeypatch.setattr(rt.sessions, "credentials", deny)
    summary = discover_one(rt, {"run_id": "r", "target": {"account_id": org.accounts["Athena"], "region": "us-east-1"}})
    assert summary["error"].startswith("AccessDenied")


def test_discover_resources_task_reconciles_its_scope() -> None:
    org = make_org()
    rt = make_runtime(org)
    seeded = seed(rt, org)
    apollo = org.accounts["Apollo"]
    task = AwsTask(
        id="t-disc-1",
        task_type=AwsTaskType.DISCOVER_RESOURCES,
        resource_type=AwsResourceType.S3_BUCKET,
        account_id=apollo,
        region="us-east-1",
    )
    result = execute(rt, {"task": task.model_dump(mode="json")})
    assert result["operation"] == "discover" and result["next"] == "register" and result["resources"] == []
    assert result["unmanaged"] == 1 and result["reconciliation"]["terminated"] == 1
    bucket = rt.resources.get(seeded["bucket_key"])
    assert bucket is not None and bucket["state"] == "Terminated"
    instance = rt.resources.get(seeded["instance_key"])
    assert instance is not None and "Owner" not in instance["tags"]  # out of the task's scope (S3 only)
    assert [d["drift"] for d in drift_events(rt)] == ["deleted"]


def test_discover_task_in_an_unassumable_account_fails_with_access_denied() -> None:
    from botocore.exceptions import ClientError

    from aws_agent.errors import AccessDenied

    org = make_org()
    rt = make_runtime(org)

    def refuse(params: dict[str, Any], **_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole")

    rt.sessions._base.events.register("provide-client-params.sts.AssumeRole", refuse)
    task = AwsTask(
        id="t-disc-2",
        task_type=AwsTaskType.DISCOVER_RESOURCES,
        resource_type=AwsResourceType.EC2_INSTANCE,
        account_id=org.accounts["Athena"],
        region="us-east-1",
    )
    with pytest.raises(AccessDenied, match="MiyabiAgentRole"):
        execute(rt, {"task": task.model_dump(mode="json")})
    summary = discover_one(rt, {"run_id": "r", "target": {"account_id": org.accounts["Athena"], "region": "us-east-1"}})
    assert summary["error"].startswith("AccessDenied")
