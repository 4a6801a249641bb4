"""End to end on the embedded AWS: a dependency chain VPC -> EFS (mount targets in its subnets) -> CloudWatch alarm.

Created in order through the deployed pipeline; a delete of the VPC is refused while dependents exist (nothing
changes), and a cascade delete removes the chain in reverse order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
REGION = "us-east-1"
NET_TYPES = ["VpcNetwork", "EfsFileSystem", "CloudWatch", "EbsVolume", "AutoScalingGroup", "LoadBalancer", "XRay"]


@pytest.fixture(scope="module")
def agent(local_agent: Any) -> Iterator[Any]:
    """The shared local agent, configured as a deployment that allows the network types would be (the Guard's
    allow-list is CDK context `aws-agent:config` in the cloud)."""
    with local_agent.configured(allowed_resource_types=sorted({"S3Bucket", "Ec2Instance", *NET_TYPES})) as configured:
        yield configured


def _run(agent: Any, task_id: str, task: dict[str, Any]) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    agent.submit({"task_id": task_id, "task": task})
    status = agent.run([task_id], timeout=180)[task_id]
    assert status in ("Completed", "Failed"), status
    record = runtime().tasks.get(task_id)
    assert record is not None
    return record


def _key(resource_type: str, resource_id: str) -> str:
    return f"{ACCOUNT}#{REGION}#{resource_type}#{resource_id}"


def _record(key: str) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    found = runtime().resources.get(key)
    assert found is not None, key
    return found


def _aws(agent: Any) -> dict[str, Any]:
    session = agent.session()
    ec2, efs, cw = session.client("ec2"), session.client("efs"), session.client("cloudwatch")
    file_systems = [f for f in efs.describe_file_systems()["FileSystems"] if f["CreationToken"].startswith("e2e-dep")]
    return {
        "vpcs": sorted(
            v["VpcId"]
            for v in ec2.describe_vpcs(Filters=[{"Name": "tag:MiyabiTask", "Values": ["e2e-dep-vpc"]}])["Vpcs"]
        ),
        "subnets": sorted(
            s["SubnetId"]
            for s in ec2.describe_subnets(Filters=[{"Name": "tag:MiyabiTask", "Values": ["e2e-dep-vpc"]}])["Subnets"]
        ),
        "file_systems": sorted(f["FileSystemId"] for f in file_systems),
        "mount_targets": sorted(
            t["MountTargetId"]
            for f in file_systems
            for t in efs.describe_mount_targets(FileSystemId=f["FileSystemId"])["MountTargets"]
        ),
        "alarms": sorted(a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix="miyabi-e2e-dep")["MetricAlarms"]),
    }


@pytest.fixture(scope="module")
def chain(agent: Any) -> dict[str, str]:
    """VPC -> EFS -> alarm, each created by its own task through the pipeline, each naming its dependency."""
    # Out of order first: the file system's dependency does not exist yet, so nothing is created.
    early = _run(
        agent,
        "e2e-dep-early",
        {
            "task_type": "CreateResource",
            "resource_type": "EfsFileSystem",
            "dependencies": [_key("VpcNetwork", "vpc-0123456789abcdef0")],
        },
    )
    assert early["status"] == "Failed" and early["error_code"] == "DependencyViolation", early
    assert "vpc-0123456789abcdef0" in early["error_message"] and "missing" in early["error_message"]

    vpc_task = _run(
        agent,
        "e2e-dep-vpc",
        {
            "task_type": "CreateResource",
            "resource_type": "VpcNetwork",
            "parameters": {"cidr": "10.20.0.0/16", "az_count": 2},
        },
    )
    assert vpc_task["status"] == "Completed", vpc_task
    vpc = vpc_task["resource_id"]
    subnets = _record(_key("VpcNetwork", vpc))["metadata"]["private_subnet_ids"]
    efs_task = _run(
        agent,
        "e2e-dep-efs",
        {
            "task_type": "CreateResource",
            "resource_type": "EfsFileSystem",
            "parameters": {"subnet_ids": subnets},
            "dependencies": [_key("VpcNetwork", vpc)],
        },
    )
    assert efs_task["status"] == "Completed", efs_task
    efs = efs_task["resource_id"]
    alarm_task = _run(
        agent,
        "e2e-dep-alarm",
        {
            "task_type": "CreateResource",
            "resource_type": "CloudWatch",
            "parameters": {
                "metric_name": "BurstCreditBalance",
                "namespace": "AWS/EFS",
                "threshold": 1,
                "comparison_operator": "LessThanThreshold",
                "dimensions": {"FileSystemId": efs},
            },
            "dependencies": [_record(_key("EfsFileSystem", efs))["arn"]],
        },
    )
    assert alarm_task["status"] == "Completed", alarm_task
    return {"vpc": vpc, "efs": efs, "alarm": alarm_task["resource_id"]}


def test_the_chain_is_created_in_order_with_its_dependencies_recorded(agent: Any, chain: dict[str, str]) -> None:
    vpc, efs, alarm = (
        _record(_key(t, chain[k]))
        for t, k in (("VpcNetwork", "vpc"), ("EfsFileSystem", "efs"), ("CloudWatch", "alarm"))
    )
    assert [r["state"] for r in (vpc, efs, alarm)] == ["Active"] * 3
    assert vpc["created_at"] < efs["created_at"] < alarm["created_at"]
    assert efs["dependencies"] == [vpc["resource_key"]] and alarm["dependencies"] == [efs["arn"]]
    state = _aws(agent)
    assert state["vpcs"] == [chain["vpc"]] and state["file_systems"] == [chain["efs"]]
    assert len(state["mount_targets"]) == 2 and state["alarms"] == [chain["alarm"].split("/", 1)[1]]


def test_delete_with_dependents_fails_clearly_and_changes_nothing(agent: Any, chain: dict[str, str]) -> None:
    from aws_agent.pipeline.runtime import runtime

    before_aws = _aws(agent)
    before_records = {r["resource_key"]: r for r in runtime().resources.by_account(ACCOUNT)}
    record = _run(
        agent,
        "e2e-dep-del-refused",
        {"task_type": "DeleteResource", "resource_type": "VpcNetwork", "parameters": {"vpc_id": chain["vpc"]}},
    )
    assert record["status"] == "Failed" and record["error_code"] == "DependencyViolation"
    message = record["error_message"]
    assert f"EfsFileSystem {chain['efs']}" in message and f"CloudWatch {chain['alarm']}" in message
    assert "cascade=true" in message and "nothing was changed" in message
    assert _aws(agent) == before_aws
    assert {r["resource_key"]: r for r in runtime().resources.by_account(ACCOUNT)} == before_records
    events = [e for e in agent.results() if e["detail"].get("task_id") == "e2e-dep-del-refused"]
    assert [e["detail-type"] for e in events] == ["AwsTaskFailed"]
    assert events[0]["detail"]["error"]["code"] == "DependencyViolation"


def test_cascade_delete_removes_the_chain_in_reverse_order(agent: Any, chain: dict[str, str]) -> None:
    record = _run(
        agent,
        "e2e-dep-del-cascade",
        {
            "task_type": "DeleteResource",
            "resource_type": "VpcNetwork",
            "parameters": {"vpc_id": chain["vpc"], "cascade": True},
        },
    )
    assert record["status"] == "Completed", record
    keys = {k: _key(t, chain[k]) for t, k in (("VpcNetwork", "vpc"), ("EfsFileSystem", "efs"), ("CloudWatch", "alarm"))}
    assert record["result"]["cascade"]["deleted"] == [keys["alarm"], keys["efs"]]  # dependents first, deepest first
    records = {k: _record(key) for k, key in keys.items()}
    assert all(r["state"] == "Terminated" for r in records.values())
    assert records["alarm"]["updated_at"] < records["efs"]["updated_at"] < records["vpc"]["updated_at"]
    assert _aws(agent) == {"vpcs": [], "subnets": [], "file_systems": [], "mount_targets": [], "alarms": []}
