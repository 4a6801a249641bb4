"""RdsInstanceProvider and AuroraClusterProvider against moto (RDS's status transitions set on moto's backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto.rds.models import rds_backends

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.base import ProviderContext, ResourceOutcome
from aws_agent.resources.rds import AuroraClusterProvider, RdsInstanceProvider, final_snapshot_name

MakeCtx = Callable[..., ProviderContext]
RDS = AwsResourceType.RDS_INSTANCE
AURORA = AwsResourceType.AURORA_CLUSTER
T = AwsTaskType
ACCOUNT = "123456789012"
instances = RdsInstanceProvider()
clusters = AuroraClusterProvider()


def rds() -> Any:
    return boto3.client("rds", region_name="us-east-1")


def backend() -> Any:
    return rds_backends[ACCOUNT]["us-east-1"]


def create_instance(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> ResourceOutcome:
    return instances.create(make_ctx(RDS, params, task_id=task_id))


def test_registry_serves_both_rds_types(mocked_aws: None) -> None:
    assert isinstance(provider_for(RDS), RdsInstanceProvider)
    assert isinstance(provider_for(AURORA), AuroraClusterProvider)
    assert RdsInstanceProvider.deadline_seconds >= 40 * 60 and AuroraClusterProvider.deadline_seconds >= 60 * 60


# --- RDS instance: create ---------------------------------------------------------------------------------------


def test_create_uses_a_deterministic_identifier_tags_at_creation_and_waits(make_ctx: MakeCtx) -> None:
    outcome = create_instance(make_ctx, tags={"Team": "data"}, db_instance_class="db.t4g.small")
    assert outcome.id.startswith("miyabi-") and outcome.id == instances.resource_id(make_ctx(RDS, {}))
    # The create response is not the settled state: the wait loop's first status check confirms it.
    assert outcome.state is ResourceState.CREATING and outcome.ready is False
    described = rds().describe_db_instances(DBInstanceIdentifier=outcome.id)["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in described["TagList"]}
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Team"] == "data"
    assert described["DBInstanceClass"] == "db.t4g.small"
    assert described["StorageEncrypted"] is True and described["PubliclyAccessible"] is False
    status = instances.status(make_ctx(RDS, {}), outcome.id)
    assert status.state is ResourceState.ACTIVE and status.ready is True


def test_replayed_create_returns_the_same_instance(make_ctx: MakeCtx) -> None:
    first = create_instance(make_ctx, db_instance_identifier="orders-db")
    again = create_instance(make_ctx, db_instance_identifier="orders-db")
    assert again.id == first.id == "orders-db"
    assert len(rds().describe_db_instances()["DBInstances"]) == 1


def test_create_refuses_an_identifier_owned_by_another_task(make_ctx: MakeCtx) -> None:
    create_instance(make_ctx, db_instance_identifier="orders-db")
    with pytest.raises(ResourceConflict, match="belongs to task task-0001"):
        create_instance(make_ctx, task_id="task-0002", db_instance_identifier="orders-db")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"db_instance_identifier": "1bad"}, "not a valid RDS identifier"),
        ({"db_instance_identifier": "two--hyphens"}, "not a valid RDS identifier"),
        ({"engine": "oracle-ee"}, "engine"),
        ({"db_instance_class": "t3.micro"}, "DB instance class"),
        ({"allocated_storage": 5}, "allocated_storage"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        create_instance(make_ctx, **params)
    assert rds().describe_db_instances()["DBInstances"] == []


# --- RDS instance: status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rds_status", "state", "ready"),
    [
        ("creating", ResourceState.CREATING, False),
        ("backing-up", ResourceState.CREATING, False),
        ("modifying", ResourceState.CREATING, False),
        ("available", ResourceState.ACTIVE, True),
        ("stopped", ResourceState.ACTIVE, True),
        ("deleting", ResourceState.DELETING, False),
        ("failed", ResourceState.FAILED, True),
        ("incompatible-parameters", ResourceState.FAILED, True),
    ],
)
def test_status_maps_rds_statuses(make_ctx: MakeCtx, rds_status: str, state: ResourceState, ready: bool) -> None:
    outcome = create_instance(make_ctx, db_instance_identifier="mapped-db")
    backend().databases[outcome.id].status = rds_status
    status = instances.status(make_ctx(RDS, {}), outcome.id)
    assert (status.state, status.ready, status.metadata["db_instance_status"]) == (state, ready, rds_status)
    if state is ResourceState.FAILED:
        assert rds_status in status.metadata["reason"]


def test_status_of_a_missing_instance_is_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match="nope-db"):
        instances.status(make_ctx(RDS, {}), "nope-db")


# --- RDS instance: update ---------------------------------------------------------------------------------------


def test_update_changes_class_immediately_and_waits_for_it(make_ctx: MakeCtx) -> None:
    created = create_instance(make_ctx, db_instance_identifier="grow-db")
    ctx = make_ctx(
        RDS,
        {
            "db_instance_identifier": "grow-db",
            "db_instance_class": "db.t4g.medium",
            "allocated_storage": 50,
            "apply_immediately": True,
        },
        task_id="task-0002",
        task_type=T.UPDATE_RESOURCE,
    )
    outcome = instances.update(ctx, created.id)
    assert outcome.state is ResourceState.UPDATING and outcome.ready is False
    assert outcome.metadata["requested_changes"] == {"DBInstanceClass": "db.t4g.medium", "AllocatedStorage": 50}
    described = rds().describe_db_instances(DBInstanceIdentifier="grow-db")["DBInstances"][0]
    assert described["DBInstanceClass"] == "db.t4g.medium" and described["AllocatedStorage"] == 50
    assert instances.status(ctx, "grow-db").ready is True  # moto applies at once: the next check settles it


def test_update_refuses_to_shrink_storage_and_unmanaged_instances(make_ctx: MakeCtx) -> None:
    create_instance(make_ctx, db_instance_identifier="keep-db", allocated_storage=100)
    shrink = make_ctx(RDS, {"db_instance_identifier": "keep-db", "allocated_storage": 50}, task_type=T.UPDATE_RESOURCE)
    with pytest.raises(TaskAnalysisError, match="can only grow"):
        instances.update(shrink, "keep-db")
    rds().create_db_instance(
        DBInstanceIdentifier="human-db", Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20
    )
    ctx = make_ctx(
        RDS, {"db_instance_identifier": "human-db", "db_instance_class": "db.t3.small"}, task_type=T.UPDATE_RESOURCE
    )
    with pytest.raises(ResourceNotManaged):
        instances.update(ctx, "human-db")
    assert (
        rds().describe_db_instances(DBInstanceIdentifier="human-db")["DBInstances"][0]["DBInstanceClass"]
        == "db.t3.micro"
    )


def test_update_tags_and_tag_merge(make_ctx: MakeCtx) -> None:
    create_instance(make_ctx, db_instance_identifier="tag-db")
    ctx = make_ctx(RDS, {"db_instance_identifier": "tag-db", "tags": {"Env": "prod"}}, task_type=T.UPDATE_RESOURCE)
    outcome = instances.update(ctx, "tag-db")
    assert outcome.ready is True and outcome.tags["Env"] == "prod" and outcome.tags["MiyabiManaged"] == "true"
    instances.tag(ctx, "tag-db", {"Owner": "ops"})
    assert instances.status(ctx, "tag-db").tags["Owner"] == "ops"


# --- RDS instance: delete, discover, plan -----------------------------------------------------------------------


def test_delete_takes_a_deterministic_final_snapshot_by_default(make_ctx: MakeCtx) -> None:
    create_instance(make_ctx, db_instance_identifier="old-db")
    ctx = make_ctx(RDS, {"db_instance_identifier": "old-db"}, task_id="task-0009", task_type=T.DELETE_RESOURCE)
    outcome = instances.delete(ctx, "old-db")
    assert outcome.state is ResourceState.DELETING and outcome.ready is False
    snapshot = final_snapshot_name("old-db", "task-0009")
    assert outcome.metadata["final_snapshot"] == snapshot
    snapshots = [s["DBSnapshotIdentifier"] for s in rds().describe_db_snapshots()["DBSnapshots"]]
    assert snapshot in snapshots
    with pytest.raises(ResourceNotFound):
        instances.status(ctx, "old-db")
    # The same delete again (a retried step): this task's final snapshot shows the goal is reached.
    replay = instances.delete(ctx, "old-db")
    assert replay.state is ResourceState.TERMINATED and replay.metadata["replay"] is True
    assert replay.tags["MiyabiManaged"] == "true"
    other = make_ctx(RDS, {"db_instance_identifier": "old-db"}, task_id="task-0010", task_type=T.DELETE_RESOURCE)
    with pytest.raises(ResourceNotFound):
        instances.delete(other, "old-db")


def test_delete_can_skip_the_final_snapshot_and_refuses_unmanaged(make_ctx: MakeCtx) -> None:
    create_instance(make_ctx, db_instance_identifier="temp-db")
    ctx = make_ctx(RDS, {"db_instance_identifier": "temp-db", "skip_final_snapshot": True}, task_type=T.DELETE_RESOURCE)
    assert instances.delete(ctx, "temp-db").metadata["final_snapshot"] is None
    assert rds().describe_db_snapshots()["DBSnapshots"] == []
    rds().create_db_instance(
        DBInstanceIdentifier="human-db", Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20
    )
    with pytest.raises(ResourceNotManaged):
        instances.delete(make_ctx(RDS, {"db_instance_identifier": "human-db"}, task_type=T.DELETE_RESOURCE), "human-db")
    assert rds().describe_db_instances(DBInstanceIdentifier="human-db")["DBInstances"]


def test_discover_lists_instances_but_not_aurora_members(make_ctx: MakeCtx) -> None:
    create_instance(make_ctx, db_instance_identifier="solo-db")
    clusters.create(make_ctx(AURORA, {"db_cluster_identifier": "team-cluster"}, task_id="task-0002"))
    found = instances.discover(make_ctx(RDS, {}, task_type=T.DISCOVER_RESOURCES))
    assert [o.id for o in found] == ["solo-db"] and found[0].managed


def test_plan_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = instances.plan(make_ctx(RDS, {"db_instance_identifier": "plan-db"}))
    assert plan["calls"] == ["rds:CreateDBInstance"] and plan["parameters"]["ManageMasterUserPassword"] is True
    create_instance(make_ctx, db_instance_identifier="plan-db")
    ctx = make_ctx(RDS, {"db_instance_identifier": "plan-db"}, task_type=T.DELETE_RESOURCE)
    assert instances.plan(ctx)["parameters"]["final_snapshot"] == final_snapshot_name("plan-db", "task-0001")
    assert rds().describe_db_instances(DBInstanceIdentifier="plan-db")["DBInstances"]


# --- Aurora cluster -----------------------------------------------------------------------------------------------


def test_aurora_create_makes_a_tagged_cluster_and_writer_idempotently(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(AURORA, {"db_cluster_identifier": "app-cluster", "engine": "aurora-mysql"})
    outcome = clusters.create(ctx)
    assert outcome.state is ResourceState.CREATING and outcome.ready is False
    assert outcome.metadata["members"] == {"app-cluster-writer": "available"}
    again = clusters.create(ctx)
    assert again.id == "app-cluster"
    assert len(rds().describe_db_clusters()["DBClusters"]) == 1
    writer = rds().describe_db_instances(DBInstanceIdentifier="app-cluster-writer")["DBInstances"][0]
    assert writer["DBClusterIdentifier"] == "app-cluster"
    assert {t["Key"]: t["Value"] for t in writer["TagList"]}["MiyabiManaged"] == "true"
    status = clusters.status(ctx, "app-cluster")
    assert status.state is ResourceState.ACTIVE and status.ready and status.managed


def test_aurora_status_is_failed_when_the_writer_fails(make_ctx: MakeCtx) -> None:
    clusters.create(make_ctx(AURORA, {"db_cluster_identifier": "bad-cluster"}))
    backend().databases["bad-cluster-writer"].status = "incompatible-network"
    status = clusters.status(make_ctx(AURORA, {}), "bad-cluster")
    assert status.state is ResourceState.FAILED and "incompatible-network" in status.metadata["reason"]


def test_aurora_update_resizes_the_writer_and_tags(make_ctx: MakeCtx) -> None:
    clusters.create(make_ctx(AURORA, {"db_cluster_identifier": "big-cluster"}))
    ctx = make_ctx(
        AURORA,
        {"db_cluster_identifier": "big-cluster", "db_instance_class": "db.r6g.large", "apply_immediately": True},
        task_id="task-0002",
        task_type=T.UPDATE_RESOURCE,
    )
    outcome = clusters.update(ctx, "big-cluster")
    assert outcome.ready is False and outcome.state is ResourceState.UPDATING
    writer = rds().describe_db_instances(DBInstanceIdentifier="big-cluster-writer")["DBInstances"][0]
    assert writer["DBInstanceClass"] == "db.r6g.large"
    clusters.tag(ctx, "big-cluster", {"Env": "prod"})
    assert clusters.status(ctx, "big-cluster").tags["Env"] == "prod"


def test_aurora_delete_removes_the_writer_then_the_cluster_with_a_final_snapshot(make_ctx: MakeCtx) -> None:
    clusters.create(make_ctx(AURORA, {"db_cluster_identifier": "gone-cluster"}))
    ctx = make_ctx(AURORA, {"db_cluster_identifier": "gone-cluster"}, task_id="task-0003", task_type=T.DELETE_RESOURCE)
    outcome = clusters.delete(ctx, "gone-cluster")
    assert outcome.state is ResourceState.DELETING and outcome.ready is False
    assert rds().describe_db_instances()["DBInstances"] == []
    with pytest.raises(ResourceNotFound):
        clusters.status(ctx, "gone-cluster")
    snapshots = [s["DBClusterSnapshotIdentifier"] for s in rds().describe_db_cluster_snapshots()["DBClusterSnapshots"]]
    assert final_snapshot_name("gone-cluster", "task-0003") in snapshots
    assert clusters.delete(ctx, "gone-cluster").state is ResourceState.TERMINATED  # replayed


def test_aurora_discover_lists_aurora_clusters(make_ctx: MakeCtx) -> None:
    clusters.create(make_ctx(AURORA, {"db_cluster_identifier": "found-cluster"}))
    found = clusters.discover(make_ctx(AURORA, {}, task_type=T.DISCOVER_RESOURCES))
    assert [o.id for o in found] == ["found-cluster"]
    assert found[0].metadata["writer"] == "found-cluster-writer"


def test_aurora_plan_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = clusters.plan(make_ctx(AURORA, {"db_cluster_identifier": "plan-cluster"}))
    assert plan["calls"] == ["rds:CreateDBCluster", "rds:CreateDBInstance"]
    assert plan["parameters"]["writer"]["DBInstanceIdentifier"] == "plan-cluster-writer"
    assert rds().describe_db_clusters()["DBClusters"] == []
    clusters.create(make_ctx(AURORA, {"db_cluster_identifier": "plan-cluster"}))
    ctx = make_ctx(AURORA, {"db_cluster_identifier": "plan-cluster"}, task_type=T.DELETE_RESOURCE)
    plan = clusters.plan(ctx)
    assert plan["parameters"]["members"] == {"plan-cluster-writer": "available"}
    update = make_ctx(
        AURORA,
        {"db_cluster_identifier": "plan-cluster", "db_instance_class": "db.r6g.large"},
        task_type=T.UPDATE_RESOURCE,
    )
    assert clusters.plan(update)["calls"] == ["rds:ModifyDBInstance"]
    assert len(rds().describe_db_instances()["DBInstances"]) == 1
