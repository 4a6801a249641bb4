"""Human approval end to end on the embedded AWS: the run waits with a task token; approve, reject, time out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e

# m5.4xlarge costs about $18.4/day: above Michael's default approval threshold ($10/day), within the budget.
EXPENSIVE = {
    "task_type": "CreateResource",
    "resource_type": "Ec2Instance",
    "parameters": {"instance_type": "m5.4xlarge"},
}


def _record(task_id: str) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    return runtime().tasks.get(task_id) or {}


def _wait_for_approval_request(agent: Any, task_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        agent.poll_once()
        record = _record(task_id)
        if (record.get("approval") or {}).get("status") == "requested":
            return record
        assert record.get("status") not in ("Completed", "Failed", "Cancelled"), record
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never asked for approval: {_record(task_id)}")


def _events(agent: Any, seen: list[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    seen.extend(agent.results())
    return [e for e in seen if e["detail"].get("task_id") == task_id]


@pytest.fixture(scope="module")
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def deployment_config(local_agent: Any) -> Iterator[Any]:
    """Redeploy-equivalent: change the deployment's configuration (its `policies`) for one test, then restore it."""
    with ExitStack() as stack:
        yield lambda policies: stack.enter_context(local_agent.configured(policies=policies))


def _cli(*args: str) -> Any:
    from aws_agent.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_approve_continues_to_execute_and_completes(local_agent: Any, seen: list) -> None:
    task_id = "e2e-approve-1"
    local_agent.submit({"task_id": task_id, "task": EXPENSIVE, "requested_by": "alice"})
    record = _wait_for_approval_request(local_agent, task_id)
    assert record["status"] == "InProgress"
    assert record["guard"]["decision"] == "needs-approval"
    assert any("Michael" in reason for reason in record["guard"]["reasons"])
    assert (
        local_agent.session()
        .client("ec2")
        .describe_instances(Filters=[{"Name": "tag:MiyabiTask", "Values": [task_id]}])["Reservations"]
        == []
    )  # nothing created while waiting

    requested = [e for e in _events(local_agent, seen, task_id) if e["detail-type"] == "ApprovalRequested"]
    assert len(requested) == 1
    detail = requested[0]["detail"]
    assert detail["requested_by"] == "alice" and detail["task_type"] == "CreateResource"
    assert float(detail["estimated_daily_cost"]) > 10 and detail["reasons"]

    output = _cli("approve", task_id, "--by", "bob").output
    assert "approved by bob" in output
    statuses = local_agent.run([task_id], timeout=120)
    assert statuses[task_id] == "Completed", _record(task_id)
    assert local_agent.execution_status(task_id) == "SUCCEEDED"
    final = _record(task_id)
    assert final["approval_decision"]["status"] == "approved" and final["approval_decision"]["decided_by"] == "bob"
    results = [e for e in _events(local_agent, seen, task_id) if e["detail-type"].startswith("AwsTask")]
    assert [e["detail-type"] for e in results] == ["AwsTaskCompleted"]
    # A second decision is refused: the task no longer waits.
    from aws_agent.cli import app

    refused = CliRunner().invoke(app, ["reject", task_id])
    assert refused.exit_code == 1 and "not waiting for approval" in refused.output


def test_reject_ends_cancelled_with_the_reason_and_one_event(local_agent: Any, seen: list) -> None:
    task_id = "e2e-reject-1"
    local_agent.submit({"task_id": task_id, "task": EXPENSIVE})
    _wait_for_approval_request(local_agent, task_id)
    _cli("reject", task_id, "--reason", "too expensive for this quarter", "--by", "carol")
    statuses = local_agent.run([task_id], timeout=60)
    assert statuses[task_id] == "Cancelled"
    assert local_agent.execution_status(task_id) == "FAILED"
    record = _record(task_id)
    assert record["error_code"] == "ApprovalRejected" and "too expensive" in record["error_message"]
    assert record["error_state"] == "Approval"
    results = [e for e in _events(local_agent, seen, task_id) if e["detail-type"].startswith("AwsTask")]
    assert len(results) == 1 and results[0]["detail"]["status"] == "Cancelled"
    assert results[0]["detail"]["error"]["code"] == "ApprovalRejected"
    ec2 = local_agent.session().client("ec2")
    assert ec2.describe_instances(Filters=[{"Name": "tag:MiyabiTask", "Values": [task_id]}])["Reservations"] == []


def test_no_answer_times_out_cancelled(local_agent: Any, seen: list, deployment_config: Any) -> None:
    deployment_config({"approvals": {"timeout_seconds": 2}})
    task_id = "e2e-timeout-1"
    local_agent.submit({"task_id": task_id, "task": EXPENSIVE})
    _wait_for_approval_request(local_agent, task_id)
    statuses = local_agent.run([task_id], timeout=60)
    assert statuses[task_id] == "Cancelled"
    record = _record(task_id)
    assert record["error_code"] == "ApprovalTimedOut" and "2 seconds" in record["error_message"]
    results = [e for e in _events(local_agent, seen, task_id) if e["detail-type"].startswith("AwsTask")]
    assert len(results) == 1 and results[0]["detail"]["status"] == "Cancelled"


def test_within_autonomy_and_cost_no_approval_is_asked(local_agent: Any, seen: list) -> None:
    task_id = "e2e-noapproval-1"
    local_agent.submit(
        {"task_id": task_id, "task": {"task_type": "CreateResource", "resource_type": "S3Bucket",
                                      "parameters": {"bucket_name": "e2e-no-approval"}}}
    )  # fmt: skip
    assert local_agent.run([task_id], timeout=60)[task_id] == "Completed"
    record = _record(task_id)
    assert record["guard"]["decision"] == "allow" and "approval" not in record
    assert {g["guardian"] for g in record["guard"]["guardians"]} == {"Cerberus", "Michael", "Buddha", "Autonomy"}


def test_average_autonomy_is_reported_from_the_service_agents(local_agent: Any) -> None:
    from aws_agent.guardians.autonomy import average_autonomy
    from aws_agent.pipeline.runtime import runtime

    average, count = average_autonomy(runtime().resources.list_agents())
    assert count >= 1  # the approved instance (and the bucket) registered above
    output = _cli("autonomy").output
    assert f"average autonomy {average:.2f}/10 over {count} service agents" in output
    assert "target of 7/10" in _cli("agents").output
