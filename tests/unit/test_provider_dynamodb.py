"""DynamoDbTableProvider against moto (table and index statuses in flight set on moto's backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.dynamodb.models import dynamodb_backends

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.base import ProviderContext
from aws_agent.resources.dynamodb import DynamoDbTableProvider

MakeCtx = Callable[..., ProviderContext]
DDB = AwsResourceType.DYNAMODB_TABLE
T = AwsTaskType
provider = DynamoDbTableProvider()


def ddb() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def tags_of(name: str) -> dict[str, str]:
    arn = ddb().describe_table(TableName=name)["Table"]["TableArn"]
    return {t["Key"]: t["Value"] for t in ddb().list_tags_of_resource(ResourceArn=arn)["Tags"]}


def create(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> Any:
    params.setdefault("partition_key", "pk")
    return provider.create(make_ctx(DDB, params, task_id=task_id))


def update_ctx(make_ctx: MakeCtx, name: str, **params: Any) -> ProviderContext:
    return make_ctx(DDB, {"table_name": name, **params}, task_id="task-0002", task_type=T.UPDATE_RESOURCE)


def test_registry_and_deadline(mocked_aws: None) -> None:
    assert isinstance(provider_for(DDB), DynamoDbTableProvider)
    assert DynamoDbTableProvider.deadline_seconds == 600


def test_create_builds_key_schema_billing_gsis_and_tags(make_ctx: MakeCtx) -> None:
    outcome = create(
        make_ctx,
        table_name="orders",
        partition_key={"name": "customer", "type": "S"},
        sort_key={"name": "placed_at", "type": "N"},
        global_secondary_indexes=[{"name": "by-status", "partition_key": "status"}],
        tags={"Team": "shop"},
    )
    assert outcome.id == "orders" and outcome.state is ResourceState.ACTIVE
    table = ddb().describe_table(TableName="orders")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"customer": "HASH", "placed_at": "RANGE"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-status"]
    tags = tags_of("orders")
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Team"] == "shop"


def test_create_provisioned_needs_capacities(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskAnalysisError, match="read_capacity"):
        create(make_ctx, table_name="prov-table", billing_mode="PROVISIONED")
    outcome = create(make_ctx, table_name="prov-table", billing_mode="provisioned", read_capacity=5, write_capacity=2)
    assert outcome.metadata["billing_mode"] == "PROVISIONED" and outcome.metadata["read_capacity"] == 5


def test_replayed_create_is_idempotent_and_foreign_tables_conflict(make_ctx: MakeCtx) -> None:
    first = create(make_ctx)
    assert first.id.startswith("miyabi-")
    again = create(make_ctx)
    assert again.id == first.id and len(ddb().list_tables()["TableNames"]) == 1
    with pytest.raises(ResourceConflict, match="belongs to task task-0001"):
        create(make_ctx, task_id="task-0002", table_name=first.id)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"partition_key": None}, "partition_key"),
        ({"partition_key": {"name": "pk", "type": "X"}}, "partition_key"),
        ({"sort_key": "pk"}, "must differ"),
        ({"table_name": "ab"}, "not a DynamoDB table name"),
        ({"billing_mode": "FREE"}, "billing_mode"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(DDB, {"partition_key": "pk", **params}))
    assert ddb().list_tables()["TableNames"] == []


def test_status_waits_for_an_index_being_built(make_ctx: MakeCtx) -> None:
    create(make_ctx, table_name="watched", global_secondary_indexes=[{"name": "gsi-one", "partition_key": "g"}])
    index = dynamodb_backends["123456789012"]["us-east-1"].tables["watched"].global_indexes[0]
    index.status = "CREATING"
    ctx = update_ctx(make_ctx, "watched")
    outcome = provider.status(ctx, "watched")
    assert (outcome.state, outcome.ready) == (ResourceState.UPDATING, False)
    assert outcome.metadata["global_secondary_indexes"] == {"gsi-one": "CREATING"}
    index.status = "ACTIVE"
    assert provider.status(ctx, "watched").ready is True


class StubSessions:
    """Hands the provider one Stubber-backed client (moto reports every table ACTIVE, whatever its state)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str, target: Any, *, session_name: str | None = None) -> Any:
        return self._client


@pytest.mark.parametrize(
    ("table_status", "state", "ready"),
    [
        ("CREATING", ResourceState.CREATING, False),
        ("UPDATING", ResourceState.CREATING, False),
        ("ACTIVE", ResourceState.ACTIVE, True),
        ("DELETING", ResourceState.DELETING, False),
        ("INACCESSIBLE_ENCRYPTION_CREDENTIALS", ResourceState.FAILED, True),
    ],
)
def test_status_maps_table_statuses_stubbed(
    make_ctx: MakeCtx, table_status: str, state: ResourceState, ready: bool
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/stubbed"
    with Stubber(client) as stub:
        stub.add_response(
            "describe_table",
            {
                "Table": {
                    "TableName": "stubbed",
                    "TableArn": arn,
                    "TableStatus": table_status,
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                }
            },
            {"TableName": "stubbed"},
        )
        stub.add_response(
            "list_tags_of_resource", {"Tags": [{"Key": "MiyabiManaged", "Value": "true"}]}, {"ResourceArn": arn}
        )
        ctx = make_ctx(DDB, {})
        ctx.sessions = StubSessions(client)  # type: ignore[assignment]
        outcome = provider.status(ctx, "stubbed")
        stub.assert_no_pending_responses()
    assert (outcome.state, outcome.ready, outcome.managed) == (state, ready, True)
    if state is ResourceState.FAILED:
        assert "INACCESSIBLE_ENCRYPTION_CREDENTIALS" in outcome.metadata["reason"]


def test_update_switches_billing_mode(make_ctx: MakeCtx) -> None:
    create(make_ctx, table_name="billing", global_secondary_indexes=[{"name": "gsi-one", "partition_key": "g"}])
    ctx = update_ctx(make_ctx, "billing", billing_mode="PROVISIONED", read_capacity=3, write_capacity=4)
    outcome = provider.update(ctx, "billing")
    assert outcome.metadata["billing_mode"] == "PROVISIONED"
    table = ddb().describe_table(TableName="billing")["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    back = provider.update(update_ctx(make_ctx, "billing", billing_mode="PAY_PER_REQUEST"), "billing")
    assert back.metadata["billing_mode"] == "PAY_PER_REQUEST"


def test_update_adds_and_removes_a_gsi_one_change_per_task(make_ctx: MakeCtx) -> None:
    create(make_ctx, table_name="indexed")
    added = provider.update(
        update_ctx(make_ctx, "indexed", add_gsi={"name": "by-email", "partition_key": "email"}), "indexed"
    )
    assert "by-email" in added.metadata["global_secondary_indexes"]
    with pytest.raises(ResourceConflict, match="already has an index"):
        provider.update(update_ctx(make_ctx, "indexed", add_gsi={"name": "by-email", "partition_key": "e"}), "indexed")
    with pytest.raises(TaskAnalysisError, match="one change per UpdateTable"):
        provider.update(
            update_ctx(
                make_ctx,
                "indexed",
                remove_gsi="by-email",
                billing_mode="PROVISIONED",
                read_capacity=1,
                write_capacity=1,
            ),
            "indexed",
        )
    removed = provider.update(update_ctx(make_ctx, "indexed", remove_gsi="by-email"), "indexed")
    assert removed.metadata["global_secondary_indexes"] == {}
    names = [
        i["IndexName"] for i in ddb().describe_table(TableName="indexed")["Table"].get("GlobalSecondaryIndexes", [])
    ]
    assert names == []


def test_update_tags_and_refuses_unmanaged_tables(make_ctx: MakeCtx) -> None:
    create(make_ctx, table_name="tagged")
    outcome = provider.update(update_ctx(make_ctx, "tagged", tags={"Env": "prod"}), "tagged")
    assert outcome.tags["Env"] == "prod"
    provider.tag(make_ctx(DDB, {}), "tagged", {"Owner": "ops"})
    assert tags_of("tagged")["Owner"] == "ops" and tags_of("tagged")["MiyabiManaged"] == "true"
    ddb().create_table(
        TableName="human",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ResourceNotManaged):
        provider.update(
            update_ctx(make_ctx, "human", billing_mode="PROVISIONED", read_capacity=1, write_capacity=1), "human"
        )


def test_delete_removes_managed_tables_only(make_ctx: MakeCtx) -> None:
    create(make_ctx, table_name="doomed")
    ctx = make_ctx(DDB, {"table_name": "doomed"}, task_type=T.DELETE_RESOURCE)
    outcome = provider.delete(ctx, "doomed")
    assert outcome.state in (ResourceState.TERMINATED, ResourceState.DELETING)
    assert "doomed" not in ddb().list_tables()["TableNames"]
    with pytest.raises(ResourceNotFound):
        provider.delete(ctx, "doomed")
    ddb().create_table(
        TableName="human",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ResourceNotManaged):
        provider.delete(make_ctx(DDB, {"table_name": "human"}, task_type=T.DELETE_RESOURCE), "human")
    assert "human" in ddb().list_tables()["TableNames"]


def test_discover_and_plan(make_ctx: MakeCtx) -> None:
    create(make_ctx, table_name="listed")
    found = provider.discover(make_ctx(DDB, {}, task_type=T.DISCOVER_RESOURCES))
    assert [o.id for o in found] == ["listed"] and found[0].managed
    plan = provider.plan(make_ctx(DDB, {"table_name": "planned", "partition_key": "pk"}))
    assert plan["calls"] == ["dynamodb:CreateTable"] and plan["parameters"]["BillingMode"] == "PAY_PER_REQUEST"
    plan = provider.plan(
        update_ctx(make_ctx, "listed", remove_gsi=None, add_gsi={"name": "gsi-x", "partition_key": "x"})
    )
    assert plan["calls"] == ["dynamodb:UpdateTable"]
    assert "planned" not in ddb().list_tables()["TableNames"]
