"""The dependency graph against moto: dependencies before create, refusal and cascade before delete, cycles."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from aws_agent.config import AgentConfig
from aws_agent.errors import DependencyViolation
from aws_agent.model import AwsResourceType, AwsTask, AwsTaskType, ResourceState, resource_key
from aws_agent.pipeline import execute, register
from aws_agent.pipeline.runtime import Runtime
from aws_agent.resources.base import ResourceOutcome
from aws_agent.resources.efs import EfsFileSystemProvider
from aws_agent.settings import Settings

ACCOUNT = "123456789012"
REGION = "us-east-1"
R = AwsResourceType
T = AwsTaskType


def _table(ddb: Any, name: str, key: str, index: tuple[str, str, str] | None = None) -> None:
    attributes = {key} | (set(index[1:]) if index else set())
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if index:
        args["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index[0],
                "KeySchema": [
                    {"AttributeName": index[1], "KeyType": "HASH"},
                    {"AttributeName": index[2], "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    ddb.create_table(**args)


@pytest.fixture
def rt(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """A Runtime over tables shaped like infrastructure/state.py's (Resources with its by-account-type index)."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    _table(ddb, "tasks", "task_id", ("by-status", "status", "created_at"))
    _table(ddb, "resources", "resource_key", ("by-account-type", "account_id", "type_id"))
    _table(ddb, "agents", "name", ("by-decision-maker", "decision_maker", "name"))
    monkeypatch.setattr(EfsFileSystemProvider, "wait", {"attempts": 3, "delay": 0.0})
    settings = Settings(
        tasks_table="tasks",
        resources_table="resources",
        agents_table="agents",
        event_bus="bus",
        agent_account_id=ACCOUNT,
        preset_config=AgentConfig(),
    )
    return Runtime(settings)


def _task(
    task_id: str, kind: AwsResourceType, task_type: AwsTaskType, params: dict[str, Any], deps: list[str]
) -> AwsTask:
    return AwsTask(
        id=task_id,
        task_type=task_type,
        resource_type=kind,
        account_id=ACCOUNT,
        region=REGION,
        parameters=params,
        dependencies=deps,
    )


def run(rt: Runtime, task: AwsTask) -> dict[str, Any]:
    """Execute, the wait loop (without waiting), Tag and Register, as the state machine runs them."""
    payload: dict[str, Any] = {"task": task.model_dump(mode="json")}
    result = execute.execute(rt, payload)
    for _ in range(20):
        if result.get("ready", True):
            break
        result = execute.check_status(rt, {**payload, "execution": result})
    assert result["ready"], result
    if result["next"] == "tag":
        execute.tag(rt, {**payload, "execution": result})
    register.register(rt, {**payload, "execution": result})
    return result


def create(rt: Runtime, task_id: str, kind: AwsResourceType, params: dict[str, Any], deps: list[str] = []) -> str:  # noqa: B006
    return str(run(rt, _task(task_id, kind, T.CREATE_RESOURCE, params, deps))["resource"]["id"])


def key(kind: AwsResourceType, resource_id: str) -> str:
    return resource_key(ACCOUNT, REGION, kind, resource_id)


def record(rt: Runtime, kind: AwsResourceType, resource_id: str) -> dict[str, Any]:
    found = rt.resources.get(key(kind, resource_id))
    assert found is not None
    return found


def chain(rt: Runtime) -> tuple[str, str, str]:
    """VPC <- EFS (mount targets in the VPC's subnets) <- CloudWatch alarm on the file system."""
    vpc = create(rt, "dep-vpc", R.VPC_NETWORK, {"az_count": 2})
    subnets = record(rt, R.VPC_NETWORK, vpc)["metadata"]["private_subnet_ids"]
    efs = create(rt, "dep-efs", R.EFS_FILE_SYSTEM, {"subnet_ids": subnets}, [key(R.VPC_NETWORK, vpc)])
    arn = record(rt, R.EFS_FILE_SYSTEM, efs)["arn"]
    alarm_params = {
        "metric_name": "BurstCreditBalance",
        "namespace": "AWS/EFS",
        "threshold": 1,
        "comparison_operator": "LessThanThreshold",
        "dimensions": {"FileSystemId": efs},
    }
    alarm = create(rt, "dep-alarm", R.CLOUDWATCH, alarm_params, [arn])  # by ARN
    return vpc, efs, alarm


def aws_state() -> dict[str, Any]:
    ec2, efs, cw = (boto3.client(s, region_name=REGION) for s in ("ec2", "efs", "cloudwatch"))
    return {
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]),
        "file_systems": sorted(f["FileSystemId"] for f in efs.describe_file_systems()["FileSystems"]),
        "alarms": sorted(a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]),
    }


# --- before create ------------------------------------------------------------------------------------------------


def test_create_with_missing_dependencies_names_them_and_creates_nothing(rt: Runtime) -> None:
    before = aws_state()
    task = _task(
        "dep-missing",
        R.EFS_FILE_SYSTEM,
        T.CREATE_RESOURCE,
        {},
        [key(R.VPC_NETWORK, "vpc-0123456789abcdef0"), "vpc-nothere1"],
    )
    with pytest.raises(DependencyViolation) as error:
        execute.execute(rt, {"task": task.model_dump(mode="json")})
    assert error.value.code == "DependencyViolation"
    assert "vpc-0123456789abcdef0" in error.value.message and "vpc-nothere1" in error.value.message
    assert "missing" in error.value.message
    assert aws_state() == before


def test_create_with_a_dependency_that_is_not_active_is_refused(rt: Runtime) -> None:
    vpc = create(rt, "dep-vpc", R.VPC_NETWORK, {"az_count": 1})
    resource = record(rt, R.VPC_NETWORK, vpc)
    rt.resources.client.update_item(
        TableName="resources",
        Key={"resource_key": {"S": resource["resource_key"]}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": "Creating"}},
    )
    task = _task("dep-efs", R.EFS_FILE_SYSTEM, T.CREATE_RESOURCE, {}, [vpc])  # by bare id
    with pytest.raises(DependencyViolation, match=rf"not Active: {vpc} is Creating"):
        execute.execute(rt, {"task": task.model_dump(mode="json")})
    assert aws_state()["file_systems"] == []


def test_create_with_active_dependencies_records_them(rt: Runtime) -> None:
    vpc, efs, alarm = chain(rt)
    assert record(rt, R.EFS_FILE_SYSTEM, efs)["dependencies"] == [key(R.VPC_NETWORK, vpc)]
    assert record(rt, R.CLOUDWATCH, alarm)["dependencies"] == [record(rt, R.EFS_FILE_SYSTEM, efs)["arn"]]
    assert [d["id"] for d in rt.resources.dependents(ACCOUNT, [key(R.VPC_NETWORK, vpc)])] == [efs]


def test_an_update_keeps_the_recorded_dependencies(rt: Runtime) -> None:
    vpc, efs, _ = chain(rt)
    run(rt, _task("dep-upd", R.EFS_FILE_SYSTEM, T.UPDATE_RESOURCE, {"file_system_id": efs, "tags": {"Env": "dev"}}, []))
    assert record(rt, R.EFS_FILE_SYSTEM, efs)["dependencies"] == [key(R.VPC_NETWORK, vpc)]
    assert [d["id"] for d in rt.resources.dependents(ACCOUNT, [key(R.VPC_NETWORK, vpc)])] == [efs]


# --- before delete ------------------------------------------------------------------------------------------------


def test_delete_with_dependents_is_refused_and_changes_nothing(rt: Runtime) -> None:
    vpc, efs, alarm = chain(rt)
    before_aws = aws_state()
    before_records = rt.resources.list_resources()
    task = _task("dep-del", R.VPC_NETWORK, T.DELETE_RESOURCE, {"vpc_id": vpc}, [])
    with pytest.raises(DependencyViolation) as error:
        execute.execute(rt, {"task": task.model_dump(mode="json")})
    message = error.value.message
    assert f"EfsFileSystem {efs}" in message and f"CloudWatch {alarm}" in message
    assert "cascade=true" in message and "nothing was changed" in message
    assert aws_state() == before_aws
    assert rt.resources.list_resources() == before_records


def test_cascade_delete_removes_dependents_in_reverse_topological_order(rt: Runtime) -> None:
    vpc, efs, alarm = chain(rt)
    result = run(rt, _task("dep-del", R.VPC_NETWORK, T.DELETE_RESOURCE, {"vpc_id": vpc, "cascade": True}, []))
    assert result["cascade"]["deleted"] == [key(R.CLOUDWATCH, alarm), key(R.EFS_FILE_SYSTEM, efs)]
    assert result["cascade"]["pending"] is False
    assert aws_state() == {"vpcs": [], "file_systems": [], "alarms": []}
    for kind, resource_id in ((R.CLOUDWATCH, alarm), (R.EFS_FILE_SYSTEM, efs), (R.VPC_NETWORK, vpc)):
        assert record(rt, kind, resource_id)["state"] == "Terminated", kind
    assert rt.resources.dependents(ACCOUNT, [key(R.VPC_NETWORK, vpc)]) == []


def test_cascade_terminates_an_instance_in_the_networks_subnet(rt: Runtime) -> None:
    vpc, efs, alarm = chain(rt)
    subnet = record(rt, R.VPC_NETWORK, vpc)["metadata"]["public_subnet_ids"][0]
    instance = create(rt, "dep-ec2", R.EC2_INSTANCE, {"subnet_id": subnet}, [vpc])  # by bare id
    result = run(rt, _task("dep-del", R.VPC_NETWORK, T.DELETE_RESOURCE, {"vpc_id": vpc, "cascade": True}, []))
    deleted = result["cascade"]["deleted"]
    assert set(deleted) == {key(R.CLOUDWATCH, alarm), key(R.EFS_FILE_SYSTEM, efs), key(R.EC2_INSTANCE, instance)}
    assert deleted.index(key(R.CLOUDWATCH, alarm)) < deleted.index(key(R.EFS_FILE_SYSTEM, efs))
    assert record(rt, R.EC2_INSTANCE, instance)["state"] == "Terminated"
    reservations = boto3.client("ec2", region_name=REGION).describe_instances(InstanceIds=[instance])["Reservations"]
    assert reservations[0]["Instances"][0]["State"]["Name"] == "terminated"
    assert aws_state()["vpcs"] == []


def test_cascade_waits_for_a_long_delete_through_the_wait_loop(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    vpc, efs, _ = chain(rt)
    # moto deletes a file system at once; AWS takes a while. After the delete call, report "deleting" twice.
    original_status, original_delete = EfsFileSystemProvider.status, EfsFileSystemProvider.delete
    lingering = {"left": 0, "seen": 0}

    def delete(self: EfsFileSystemProvider, ctx: Any, resource_id: str) -> Any:
        outcome = original_delete(self, ctx, resource_id)
        lingering["left"] = 2
        return outcome

    def status(self: EfsFileSystemProvider, ctx: Any, resource_id: str) -> Any:
        if lingering["left"] > 0:
            lingering["left"] -= 1
            lingering["seen"] += 1
            return ResourceOutcome(
                id=resource_id,
                arn="arn:aws:elasticfilesystem:::x",
                state=ResourceState.DELETING,
                ready=False,
                tags={"MiyabiManaged": "true"},
            )
        return original_status(self, ctx, resource_id)

    monkeypatch.setattr(EfsFileSystemProvider, "delete", delete)
    monkeypatch.setattr(EfsFileSystemProvider, "status", status)
    task = _task("dep-del", R.VPC_NETWORK, T.DELETE_RESOURCE, {"vpc_id": vpc, "cascade": "true"}, [])
    payload = {"task": task.model_dump(mode="json")}
    first = execute.execute(rt, payload)
    assert first["ready"] is False and first["cascade"]["pending"] is True
    assert record(rt, R.EFS_FILE_SYSTEM, efs)["state"] == "Deleting"
    assert aws_state()["vpcs"] == [vpc]  # the root waits for its dependents
    second = execute.check_status(rt, {**payload, "execution": first})
    assert second["ready"] is False and second["cascade"]["pending"] is True and second["polls"] == 1
    third = execute.check_status(rt, {**payload, "execution": second})
    assert third["cascade"]["pending"] is False and third["polls"] == 2
    assert record(rt, R.EFS_FILE_SYSTEM, efs)["state"] == "Terminated"
    assert aws_state()["vpcs"] == []
    assert lingering["seen"] == 2


def test_delete_without_dependents_is_a_plain_delete(rt: Runtime) -> None:
    vpc = create(rt, "dep-vpc", R.VPC_NETWORK, {"az_count": 1})
    result = run(rt, _task("dep-del", R.VPC_NETWORK, T.DELETE_RESOURCE, {"vpc_id": vpc}, []))
    assert "cascade" not in result
    assert record(rt, R.VPC_NETWORK, vpc)["state"] == "Terminated"


# --- cycles -------------------------------------------------------------------------------------------------------


def _cycle(rt: Runtime) -> tuple[str, str]:
    a = create(rt, "cyc-a", R.CLOUDWATCH, {"metric_name": "M", "namespace": "N", "threshold": 1})
    b = create(
        rt, "cyc-b", R.CLOUDWATCH, {"metric_name": "M", "namespace": "N", "threshold": 2}, [key(R.CLOUDWATCH, a)]
    )
    # Make a depend on b behind the pipeline's back: the registry is now inconsistent (a cycle).
    rt.resources.client.update_item(
        TableName="resources",
        Key={"resource_key": {"S": key(R.CLOUDWATCH, a)}},
        UpdateExpression="SET dependencies = :d",
        ExpressionAttributeValues={":d": {"L": [{"S": key(R.CLOUDWATCH, b)}]}},
    )
    return a, b


def test_a_cycle_is_a_clear_error_on_create_and_on_cascade(rt: Runtime) -> None:
    a, b = _cycle(rt)
    task = _task("cyc-c", R.CLOUDWATCH, T.CREATE_RESOURCE, {"metric_name": "M", "namespace": "N", "threshold": 3}, [a])
    with pytest.raises(DependencyViolation, match=r"cycle: .*CloudWatch alarm/.* -> .*CloudWatch alarm/"):
        execute.execute(rt, {"task": task.model_dump(mode="json")})
    delete = _task("cyc-d", R.CLOUDWATCH, T.DELETE_RESOURCE, {"alarm_name": a.split("/", 1)[1], "cascade": True}, [])
    with pytest.raises(DependencyViolation, match="cycle"):
        execute.execute(rt, {"task": delete.model_dump(mode="json")})
    assert sorted(aws_state()["alarms"]) == sorted([a.split("/", 1)[1], b.split("/", 1)[1]])


def test_ambiguous_bare_id_asks_for_the_resource_key(rt: Runtime) -> None:
    vpc = create(rt, "dep-vpc", R.VPC_NETWORK, {"az_count": 1})
    resource = record(rt, R.VPC_NETWORK, vpc)
    twin = {**resource, "resource_key": resource_key(ACCOUNT, REGION, R.EBS_VOLUME, vpc), "type_id": f"EbsVolume#{vpc}"}
    from aws_agent.registry import _json, to_item

    twin["metadata_json"] = _json(twin.pop("metadata"))
    rt.resources.client.put_item(TableName="resources", Item=to_item(twin))
    task = _task(
        "dep-x", R.CLOUDWATCH, T.CREATE_RESOURCE, {"metric_name": "M", "namespace": "N", "threshold": 1}, [vpc]
    )
    with pytest.raises(DependencyViolation, match="ambiguous"):
        execute.execute(rt, {"task": task.model_dump(mode="json")})
