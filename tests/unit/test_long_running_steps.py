"""Execute / CheckStatus for long-running types: per-provider poll interval and deadline, Failed and late resources
recorded with the reason; daily-cost estimates of the long-running types."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto.rds.models import rds_backends

from aws_agent.errors import AwsCallFailed
from aws_agent.model import AwsResourceType, AwsTask, AwsTaskType
from aws_agent.pipeline import execute
from aws_agent.pipeline.runtime import Runtime
from aws_agent.pricing import estimate
from aws_agent.resources import provider_for
from aws_agent.resources.base import ResourceProvider
from aws_agent.settings import Settings

ACCOUNT = "123456789012"


def _table(name: str, key: str) -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def rt(mocked_aws: None) -> Runtime:
    for name, key in (("tasks", "task_id"), ("resources", "resource_key"), ("agents", "name")):
        _table(name, key)
    settings = Settings(
        tasks_table="tasks",
        resources_table="resources",
        agents_table="agents",
        event_bus="bus",
        agent_account_id=ACCOUNT,
    )
    return Runtime(settings)


def _task(task_id: str, params: dict[str, Any], task_type: AwsTaskType = AwsTaskType.CREATE_RESOURCE) -> dict[str, Any]:
    task = AwsTask(
        id=task_id,
        task_type=task_type,
        resource_type=AwsResourceType.RDS_INSTANCE,
        account_id=ACCOUNT,
        region="us-east-1",
        parameters=params,
    )
    return task.model_dump(mode="json")


class _Default(ResourceProvider):
    """Only to read the interface's default timings."""


def test_deadlines_become_poll_budgets() -> None:
    assert (_Default.poll_seconds, _Default.deadline_seconds) == (10, 600)
    rds = provider_for(AwsResourceType.RDS_INSTANCE)
    assert execute.max_polls(rds) == 3600 // 30
    assert execute.max_polls(provider_for(AwsResourceType.AURORA_CLUSTER)) == 90 * 60 // 30
    assert execute.max_polls(provider_for(AwsResourceType.DYNAMODB_TABLE)) == 60
    assert execute.max_polls(provider_for(AwsResourceType.CLOUDFORMATION_STACK)) == 240
    assert execute.max_polls(provider_for(AwsResourceType.S3_BUCKET)) == execute.MAX_POLLS


def test_execute_hands_the_providers_interval_to_the_wait_loop_and_check_status_settles(rt: Runtime) -> None:
    rt.tasks.create_pending("t-rds", source="event")
    task = _task("t-rds", {"db_instance_identifier": "loop-db"})
    execution = execute.execute(rt, {"task": task})
    assert execution["poll_seconds"] == 30 and execution["ready"] is False and execution["polls"] == 0
    assert execution["resource"]["state"] == "Creating"
    polled = execute.check_status(rt, {"task": task, "execution": execution})
    assert polled["ready"] is True and polled["polls"] == 1 and polled["resource"]["state"] == "Active"


def test_a_resource_still_in_progress_is_recorded_in_flight_once(rt: Runtime) -> None:
    rt.tasks.create_pending("t-busy", source="event")
    task = _task("t-busy", {"db_instance_identifier": "busy-db"})
    execution = execute.execute(rt, {"task": task})
    database = rds_backends[ACCOUNT]["us-east-1"].databases["busy-db"]
    database.status = "creating"
    first = execute.check_status(rt, {"task": task, "execution": execution})
    assert first["ready"] is False and first["polls"] == 1
    key = f"{ACCOUNT}#us-east-1#RdsInstance#busy-db"
    record = rt.resources.get(key)
    assert record is not None and record["state"] == "Creating"
    database.status = "backing-up"
    second = execute.check_status(rt, {"task": task, "execution": first})
    assert second["ready"] is False and second["polls"] == 2
    database.status = "available"
    third = execute.check_status(rt, {"task": task, "execution": second})
    assert third["ready"] is True and third["resource"]["state"] == "Active"  # Register records Active next


def test_a_failed_resource_is_recorded_failed_with_the_reason(rt: Runtime) -> None:
    rt.tasks.create_pending("t-bad", source="event")
    task = _task("t-bad", {"db_instance_identifier": "bad-db"})
    execution = execute.execute(rt, {"task": task})
    rds_backends[ACCOUNT]["us-east-1"].databases["bad-db"].status = "storage-full"
    with pytest.raises(AwsCallFailed, match="storage-full"):
        execute.check_status(rt, {"task": task, "execution": execution})
    record = rt.resources.get(f"{ACCOUNT}#us-east-1#RdsInstance#bad-db")
    assert record is not None and record["state"] == "Failed"
    assert "storage-full" in record["metadata"]["reason"]


def test_past_the_deadline_the_last_state_is_recorded_and_the_task_times_out(rt: Runtime) -> None:
    rt.tasks.create_pending("t-slow", source="event")
    task = _task("t-slow", {"db_instance_identifier": "slow-db"})
    execution = execute.execute(rt, {"task": task})
    execution["polls"] = execute.max_polls(provider_for(AwsResourceType.RDS_INSTANCE))
    with pytest.raises(execute.ResourceTimeout, match="3600 s deadline"):
        execute.check_status(rt, {"task": task, "execution": execution})
    record = rt.resources.get(f"{ACCOUNT}#us-east-1#RdsInstance#slow-db")
    assert record is not None and record["state"] == "Creating"
    assert "deadline" in record["metadata"]["reason"]


@pytest.mark.parametrize(
    ("resource_type", "metadata", "daily", "priced"),
    [
        # db.t4g.micro 0.016 x 24 + 20 GB x 0.115 / 30
        (AwsResourceType.RDS_INSTANCE, {"db_instance_class": "db.t4g.micro", "allocated_storage": 20}, "0.4607", True),
        (
            AwsResourceType.RDS_INSTANCE,
            {"db_instance_class": "db.t4g.micro", "allocated_storage": 20, "multi_az": True},
            "0.8447",
            True,
        ),
        (AwsResourceType.RDS_INSTANCE, {"db_instance_class": "db.x99.huge"}, "0.0000", False),
        (AwsResourceType.AURORA_CLUSTER, {"db_instance_class": "db.t4g.medium"}, "1.7520", True),
        # 5 RCU x 0.00013 x 24 + 5 WCU x 0.00065 x 24
        (
            AwsResourceType.DYNAMODB_TABLE,
            {"billing_mode": "PROVISIONED", "read_capacity": 5, "write_capacity": 5},
            "0.0936",
            True,
        ),
        (AwsResourceType.DYNAMODB_TABLE, {"billing_mode": "PAY_PER_REQUEST", "size_bytes": 0}, "0.0000", True),
        (AwsResourceType.CLOUDFORMATION_STACK, {}, "0.0000", True),
    ],
)
def test_daily_cost_of_long_running_types(
    resource_type: AwsResourceType, metadata: dict[str, Any], daily: str, priced: bool
) -> None:
    result = estimate(resource_type, metadata)
    assert (result.daily, result.priced) == (Decimal(daily), priced), result.basis
