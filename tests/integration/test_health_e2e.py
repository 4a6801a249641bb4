"""End to end on the embedded AWS: a resource created through the pipeline gets its alarms; health flows from them."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

APOLLO = "222222222222"


def _run(agent: Any, detail: dict[str, Any]) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    agent.submit(detail)
    statuses = agent.run([detail["task_id"]], timeout=120)
    assert statuses[detail["task_id"]] in ("Completed", "Failed"), statuses
    record = runtime().tasks.get(detail["task_id"])
    assert record is not None
    return record


def _alarms(agent: Any, instance: str) -> dict[str, str]:
    cloudwatch = agent.session(APOLLO).client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNamePrefix=f"miyabi/{APOLLO}/Ec2Instance/{instance}/")["MetricAlarms"]
    return {a["AlarmName"].rsplit("/", 1)[-1]: a["StateValue"] for a in found}


def test_created_resource_gets_alarms_health_check_repairs_and_health_flows(local_agent: Any) -> None:
    created = _run(
        local_agent,
        {"task_id": "e2e-health-ec2",
         "task": {"task_type": "CreateResource", "resource_type": "Ec2Instance", "account_name": "Apollo"}},
    )  # fmt: skip
    assert created["status"] == "Completed", created
    instance = created["resource_id"]
    # Registration created the instance's alarm set in its own account (Apollo), not in the agent's.
    assert set(_alarms(local_agent, instance)) == {"StatusCheckFailed", "CPUUtilization"}
    own = local_agent.session().client("cloudwatch").describe_alarms(AlarmNamePrefix=f"miyabi/{APOLLO}/")
    assert own["MetricAlarms"] == []

    # An alarm goes missing; a HealthCheck task over the account finds and repairs it.
    local_agent.session(APOLLO).client("cloudwatch").delete_alarms(
        AlarmNames=[f"miyabi/{APOLLO}/Ec2Instance/{instance}/CPUUtilization"]
    )
    check = _run(
        local_agent,
        {"task_id": "e2e-health-check",
         "task": {"task_type": "HealthCheck", "account_name": "Apollo", "parameters": {"scope": "account"}}},
    )  # fmt: skip
    assert check["status"] == "Completed", check
    assert check["result"]["coverage_percent"] == 100.0 and check["result"]["alarms_repaired"] == 1
    assert set(_alarms(local_agent, instance)) == {"StatusCheckFailed", "CPUUtilization"}

    # The deployed health function turns the alarm's state change into the service agent's health.
    health_function = next(name for name, step in local_agent.stack.functions.items() if step == "health")
    event = {
        "version": "0", "id": "e2e", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
        "account": APOLLO, "time": "2026-01-01T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "alarmName": f"miyabi/{APOLLO}/Ec2Instance/{instance}/CPUUtilization",
            "state": {"value": "ALARM", "reason": "CPU high", "timestamp": "2026-01-01T10:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "", "timestamp": "2026-01-01T09:00:00.000+0000"},
            "configuration": {"metrics": []},
        },
    }  # fmt: skip
    lam = local_agent.session().client("lambda")
    response = lam.invoke(FunctionName=health_function, Payload=json.dumps(event))
    routed = json.loads(response["Payload"].read())
    assert routed["health"] == "Degraded" and routed["changed"] is True, routed
    changed = [e for e in local_agent.results() if e["detail-type"] == "ServiceAgentHealthChanged"]
    assert [e["detail"]["health"] for e in changed] == ["Degraded"]

    deleted = _run(
        local_agent,
        {"task_id": "e2e-health-ec2-delete",
         "task": {"task_type": "DeleteResource", "resource_type": "Ec2Instance", "account_name": "Apollo",
                  "parameters": {"instance_id": instance}}},
    )  # fmt: skip
    assert deleted["status"] == "Completed", deleted
    assert _alarms(local_agent, instance) == {}
