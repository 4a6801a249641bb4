"""Cost optimization end to end on the embedded AWS: an OptimizeCosts task runs the Distributed Map workflow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def _launch(agent: Any, tags: dict[str, str]) -> str:
    ec2 = agent.session().client("ec2")
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}],
    )["Instances"][0]
    return str(instance["InstanceId"])


def _cpu(agent: Any, instance_id: str, values: list[float]) -> None:
    now = datetime.now(UTC)
    agent.session().client("cloudwatch").put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Timestamp": now - timedelta(hours=hour + 1),
                "Value": value,
                "Unit": "Percent",
            }
            for hour, value in enumerate(values)
        ],
    )


def _state(agent: Any, instance_id: str) -> str:
    ec2 = agent.session().client("ec2")
    return str(ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"])


@pytest.fixture(scope="module")
def fleet(local_agent: Any) -> dict[str, str]:
    idle = _launch(local_agent, {"MiyabiManaged": "true", "Name": "idle"})
    busy = _launch(local_agent, {"MiyabiManaged": "true", "Name": "busy"})
    spiky = _launch(local_agent, {"MiyabiManaged": "true", "Name": "spiky"})
    unmanaged = _launch(local_agent, {"Name": "not-ours"})
    opted_out = _launch(local_agent, {"MiyabiManaged": "true", "MiyabiOptimize": "off"})
    for instance in (idle, unmanaged, opted_out):
        _cpu(local_agent, instance, [1.0, 2.0, 3.5, 0.5])
    _cpu(local_agent, busy, [40.0, 70.0, 55.0])
    _cpu(local_agent, spiky, [1.0, 45.0, 1.0])  # one busy hour: Maximum is 45 %, not idle
    return {"idle": idle, "busy": busy, "spiky": spiky, "unmanaged": unmanaged, "opted_out": opted_out}


def _optimize(agent: Any, task_id: str, **parameters: Any) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    agent.submit({"task_id": task_id, "task": {"task_type": "OptimizeCosts", "parameters": parameters}})
    statuses = agent.run([task_id], timeout=180)
    assert statuses[task_id] == "Completed", runtime().tasks.get(task_id)
    record = runtime().tasks.get(task_id)
    assert record is not None
    return record


def test_dry_run_sweep_reports_and_changes_nothing(local_agent: Any, fleet: dict[str, str]) -> None:
    record = _optimize(local_agent, "e2e-optimize-dry")
    report = record["result"]["report"]
    assert report["dry_run"] is True and report["optimizations"] == 0
    assert report["recommendations"] >= 1 and report["targets"] == 1
    assert all(_state(local_agent, i) == "running" for i in fleet.values())
    events = [e for e in local_agent.results() if e["detail-type"] == "CostReportReady"]
    assert events and events[-1]["detail"]["dry_run"] is True


def test_applied_sweep_stops_only_the_idle_managed_instance(local_agent: Any, fleet: dict[str, str]) -> None:
    record = _optimize(local_agent, "e2e-optimize-apply", apply=True)
    report = record["result"]["report"]
    assert report["dry_run"] is False and report["optimizations"] == 1
    assert _state(local_agent, fleet["idle"]) in ("stopping", "stopped")
    for name in ("busy", "spiky", "unmanaged", "opted_out"):
        assert _state(local_agent, fleet[name]) == "running", name
    events = [e for e in local_agent.results() if e["detail-type"] == "CostReportReady"]
    latest = events[-1]["detail"]
    assert latest["optimizations"] == 1 and float(latest["total_savings"]) > 0
    assert {t["resource_id"] for t in latest["top"]} >= {fleet["idle"]}
    # the full report is stored under the run
    from aws_agent.pipeline.runtime import runtime
    from aws_agent.registry import CostReportRepository

    rt = runtime()
    assert rt.settings.cost_reports_table
    stored = CostReportRepository(rt.dynamodb, rt.settings.cost_reports_table).parts(report["run_id"], "report")
    assert len(stored) == 1 and fleet["idle"] in stored[0]


def test_cli_shows_the_stored_report(local_agent: Any, fleet: dict[str, str], tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from aws_agent.cli import app

    record = _optimize(local_agent, "e2e-optimize-cli")
    run_id = record["result"]["report"]["run_id"]
    out = local_agent.outputs
    env = {
        "AGENT_TASKS_TABLE": out["TasksTableName"],
        "AGENT_RESOURCES_TABLE": out["ResourcesTableName"],
        "AGENT_AGENTS_TABLE": out["AgentsTableName"],
        "AGENT_EVENT_BUS": out["EventBusName"],
        "AGENT_COST_REPORTS_TABLE": out["CostReportsTableName"],
    }
    saved = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["cost-report", run_id, "--output", str(saved)], env=env)
    assert result.exit_code == 0, result.output
    assert "Cost optimization (dry run)" in result.output and "total" in result.output
    stored = json.loads(saved.read_text())
    assert stored["dry_run"] is True and stored["targets"] == 1  # the stored CostReport of this very run
    assert {"optimizations", "recommendations", "total_savings"} <= set(stored)
    missing = CliRunner().invoke(app, ["cost-report", "no-such-run"], env=env)
    assert missing.exit_code == 1 and "no report" in missing.output
