"""SecurityAudit as a task on the embedded AWS: findings on the task record and in AwsTaskCompleted's result."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e
CERBERUS = "333333333333"


def test_security_audit_task_reports_the_seeded_violations(local_agent: Any) -> None:
    ec2 = local_agent.session(CERBERUS).client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="rdp-open", Description="seeded", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])  # fmt: skip
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=4)["VolumeId"]

    task_id = "e2e-audit-1"
    local_agent.submit({"task_id": task_id, "task": {"task_type": "SecurityAudit", "account_name": "Cerberus"}})
    assert local_agent.run([task_id], timeout=120)[task_id] == "Completed"

    from aws_agent.pipeline.runtime import runtime

    record = runtime().tasks.get(task_id) or {}
    found = {(f["check"], f["resource_id"]) for f in record["audit"]["findings"]}
    assert found == {
        ("open-security-group", group),
        ("unencrypted-volume", volume),
        ("cloudtrail", f"{CERBERUS}/us-east-1"),  # the emulated account has no trail
        ("guardduty", f"{CERBERUS}/us-east-1"),  # nor a GuardDuty detector
    }
    assert record["guard"]["decision"] == "allow" and record["guard"]["risk"] == 0
    events = [e for e in local_agent.results() if e["detail"].get("task_id") == task_id]
    (completed,) = [e for e in events if e["detail-type"] == "AwsTaskCompleted"]
    result = completed["detail"]["result"]
    assert result["operation"] == "security-audit" and result["compliant"] is False
    assert result["counts"]["open-security-group"] == 1 and len(result["findings"]) == 4
