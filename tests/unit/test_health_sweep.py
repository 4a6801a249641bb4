"""The health sweep and the HealthCheck task: alarms repaired, direct status read, coverage reported."""

from __future__ import annotations

import boto3
import pytest
from health_fixtures import ACCOUNT, MEMBER, alarm_names, make_runtime, member_session, register

from aws_agent.errors import TaskAnalysisError
from aws_agent.health.sweep import scheduled_sweep, sweep
from aws_agent.model import AwsResourceType, ResourceState
from aws_agent.pipeline import execute, finish
from aws_agent.pipeline.runtime import Runtime


@pytest.fixture
def rt(mocked_aws: None) -> Runtime:
    return make_runtime()


def _fleet(rt: Runtime) -> str:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    register(rt, AwsResourceType.EC2_INSTANCE, instance)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="assets")
    register(rt, AwsResourceType.S3_BUCKET, "assets")
    register(rt, AwsResourceType.DYNAMODB_TABLE, "orders", account_id=MEMBER)
    register(rt, AwsResourceType.SNS, "gone", state=ResourceState.TERMINATED)  # deleted: not swept
    return str(instance)


def test_sweep_repairs_a_deleted_alarm_and_reports_full_coverage(rt: Runtime) -> None:
    instance = _fleet(rt)
    lost = f"miyabi/{ACCOUNT}/Ec2Instance/{instance}/CPUUtilization"
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(AlarmNames=[lost])
    member_session().client("cloudwatch").delete_alarms(
        AlarmNames=[f"miyabi/{MEMBER}/DynamoDbTable/orders/SystemErrors"]
    )
    assert lost not in alarm_names()

    result = scheduled_sweep(rt, {})
    assert result["checked"] == 3 and result["coverage_percent"] == 100.0 and result["not_covered"] == []
    assert result["alarms_repaired"] == 2
    assert lost in alarm_names()
    assert f"miyabi/{MEMBER}/DynamoDbTable/orders/SystemErrors" in alarm_names(member_session())
    by_resource = {f["resource"]: f for f in result["findings"]}
    ec2 = by_resource[f"{ACCOUNT}#us-east-1#Ec2Instance#{instance}"]
    assert ec2["repaired"] == [lost] and ec2["direct"]["healthy"] is True
    assert ec2["direct"]["status"].startswith("running")
    assert by_resource[f"{ACCOUNT}#us-east-1#S3Bucket#assets"]["direct"] == {"status": "exists", "healthy": True}
    assert result["health"] == {"Healthy": 0, "Degraded": 0, "Unhealthy": 0, "Unknown": 4}

    again = sweep(rt)  # nothing left to repair
    assert again["alarms_repaired"] == 0 and again["coverage_percent"] == 100.0


def test_sweep_without_repair_reports_the_gap(rt: Runtime) -> None:
    instance = _fleet(rt)
    lost = f"miyabi/{ACCOUNT}/Ec2Instance/{instance}/StatusCheckFailed"
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(AlarmNames=[lost])
    result = sweep(rt, repair=False)
    assert result["coverage_percent"] == pytest.approx(66.67) and result["not_covered"] == [
        f"{ACCOUNT}#us-east-1#Ec2Instance#{instance}"
    ]
    assert lost not in alarm_names()


def test_direct_status_sees_a_vanished_resource(rt: Runtime) -> None:
    _fleet(rt)
    boto3.client("s3", region_name="us-east-1").delete_bucket(Bucket="assets")
    findings = {f["resource"]: f for f in sweep(rt)["findings"]}
    assert findings[f"{ACCOUNT}#us-east-1#S3Bucket#assets"]["direct"] == {"status": "missing", "healthy": False}


def _health_task(task_id: str, **parameters: object) -> dict:
    return {"id": task_id, "task_type": "HealthCheck", "account_id": ACCOUNT, "region": "us-east-1",
            "parameters": parameters}  # fmt: skip


def test_health_check_task_runs_on_demand_and_completes_with_findings(rt: Runtime) -> None:
    instance = _fleet(rt)
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(
        AlarmNames=[f"miyabi/{ACCOUNT}/Ec2Instance/{instance}/CPUUtilization"]
    )
    rt.tasks.create_pending("hc-1", source="event")
    task = _health_task("hc-1", scope="account")
    execution = execute.execute(rt, {"task": task})
    assert execution["next"] == "complete" and execution["ready"] is True
    assert execution["checked"] == 2 and execution["coverage_percent"] == 100.0  # the agent's account only
    assert execution["alarms_repaired"] == 1
    outcome = finish.complete(rt, {"task": task, "execution": execution})
    assert outcome["status"] == "Completed"
    record = rt.tasks.get("hc-1")
    assert record is not None and record["status"] == "Completed"
    assert record["result"]["operation"] == "health-check" and record["result"]["coverage_percent"] == 100.0
    assert record["result"]["findings"][0]["repaired"] == [f"miyabi/{ACCOUNT}/Ec2Instance/{instance}/CPUUtilization"]


def test_health_check_scopes(rt: Runtime) -> None:
    instance = _fleet(rt)
    one = execute.execute(rt, {"task": {**_health_task("hc-2", resource_id=instance), "resource_type": "Ec2Instance"}})
    assert one["scope"]["resource_id"] == instance and one["checked"] == 1
    region = execute.execute(rt, {"task": _health_task("hc-3", scope="region")})
    assert region["checked"] == 3  # every account in us-east-1
    dry = execute.execute(rt, {"task": {**_health_task("hc-4", scope="region"), "dry_run": True}})
    assert dry["dry_run"] is True and dry["alarms_repaired"] == 0
    with pytest.raises(TaskAnalysisError, match="resource_id"):
        execute.execute(rt, {"task": _health_task("hc-5", scope="resource")})
    with pytest.raises(TaskAnalysisError, match="scope"):
        execute.execute(rt, {"task": _health_task("hc-6", scope="galaxy")})
