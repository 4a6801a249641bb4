"""AnalyzeBilling as a task on the embedded AWS: Completed, BillingReportReady on the bus, the CostReports cache."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
import requests

pytestmark = pytest.mark.e2e
ZEUS, APOLLO, CERBERUS = "123456789012", "222222222222", "333333333333"


def _result(groups: dict[str, str], names: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
                "Total": {},
                "Groups": [
                    {"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": v, "Unit": "USD"}}} for k, v in groups.items()
                ],
                "Estimated": False,
            }
        ],
        "DimensionValueAttributes": [{"Value": k, "Attributes": {"description": v}} for k, v in (names or {}).items()],
    }


def _inject(agent: Any) -> None:
    """moto's queue of Cost Explorer answers, through the server's moto-api (one per GetCostAndUsage request)."""
    results = [
        _result({ZEUS: "12.00", APOLLO: "210.25", CERBERUS: "33.75"}, {ZEUS: "Zeus", APOLLO: "Apollo"}),
        _result({"Amazon Elastic Compute Cloud - Compute": "200.00", "Amazon GuardDuty": "56.00"}),
        _result({"MiyabiAgent$BillGates": "180.00", "MiyabiAgent$Noguchi": "40.00", "MiyabiAgent$": "36.00"}),
    ]
    url = agent.emulator.endpoint + "/moto-api/static/ce/cost-and-usage-results"
    assert requests.post(url, json={"results": results}, timeout=10).status_code == 201


@contextmanager
def agent_requests() -> Iterator[Counter[str]]:
    """AWS requests the agent's handlers make (botocore before-call), not the test's poller nor the state machine's
    Lambda invocations. The runtime is rebuilt so its clients carry the hook."""
    from aws_agent.pipeline.runtime import runtime

    counts: Counter[str] = Counter()
    main = threading.main_thread()

    def count(event_name: str, **_: Any) -> None:
        name = event_name.removeprefix("before-call.")
        if threading.current_thread() is not main and name != "lambda.Invoke":
            counts[name] += 1

    session = boto3._get_default_session()._session
    runtime.cache_clear()
    session.register("before-call", count)
    try:
        yield counts
    finally:
        session.unregister("before-call", count)
        runtime.cache_clear()


def _run(agent: Any, detail: dict[str, Any]) -> str:
    agent.submit(detail)
    return str(agent.run([detail["task_id"]], timeout=120)[detail["task_id"]])


def _record(task_id: str) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    return runtime().tasks.get(task_id) or {}


def test_billing_task_reports_caches_and_announces(local_agent: Any) -> None:
    _inject(local_agent)
    task = {"task_type": "AnalyzeBilling", "parameters": {"period": "last-month"}}
    with agent_requests() as uncached:
        assert _run(local_agent, {"task_id": "e2e-billing-1", "task": task}) == "Completed"
    events = local_agent.results()
    # The shared embedded AWS may still hold other tests' events: this task's are picked by its id.
    (report,) = [
        e for e in events if e["detail-type"] == "BillingReportReady" and e["detail"].get("task_id") == "e2e-billing-1"
    ]
    detail = report["detail"]
    assert report["source"] == "miyabi.aws-agent" and detail["task_id"] == "e2e-billing-1"
    assert detail["period"] == "last-month" and detail["cached"] is False and detail["total"] == "256.00"
    assert [(x["key"], x["name"], x["amount"]) for x in detail["by_account"]] == [
        (APOLLO, "Apollo", "210.25"),
        (CERBERUS, "", "33.75"),
        (ZEUS, "Zeus", "12.00"),
    ]
    assert {x["key"]: x["amount"] for x in detail["by_service"]} == {
        "Amazon Elastic Compute Cloud - Compute": "200.00",
        "Amazon GuardDuty": "56.00",
    }
    assert {x["key"]: x["amount"] for x in detail["by_agent"]} == {
        "BillGates": "180.00",
        "Noguchi": "40.00",
        "(untagged)": "36.00",
    }
    (completed,) = [
        e for e in events if e["detail-type"] == "AwsTaskCompleted" and e["detail"]["task_id"] == "e2e-billing-1"
    ]
    result = completed["detail"]["result"]
    assert completed["detail"]["task_type"] == "AnalyzeBilling" and completed["detail"]["task_id"] == "e2e-billing-1"
    assert result["operation"] == "analyze-billing" and result["cached"] is False and result["ce_requests"] == 3
    assert result["counts"] == {"accounts": 3, "services": 2, "agents": 3}
    assert uncached["cost-explorer.GetCostAndUsage"] == 3  # botocore names Cost Explorer's events cost-explorer

    cache = boto3.client("dynamodb").query(
        TableName=local_agent.outputs["CostReportsTableName"],
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": "billing-cache"}},
    )["Items"]
    assert len(cache) == 1 and cache[0]["part"]["S"] == f"last-month#{detail['start']}#{detail['end']}"
    record = _record("e2e-billing-1")
    assert record["guard"]["decision"] == "allow" and record["guard"]["risk"] == 0
    assert record["billing"]["total"] == "256.00"

    # The same report again: from the cache, no Cost Explorer request, still announced (naming this task).
    with agent_requests() as cached:
        assert _run(local_agent, {"task_id": "e2e-billing-2", "task": task}) == "Completed"
    events = local_agent.results()
    (report,) = [e for e in events if e["detail-type"] == "BillingReportReady"]
    assert report["detail"]["cached"] is True and report["detail"]["task_id"] == "e2e-billing-2"
    assert report["detail"]["by_agent"] == detail["by_agent"]
    assert cached["cost-explorer.GetCostAndUsage"] == 0 and cached["eventbridge.PutEvents"] == 2
    print(f"\nAWS requests, uncached AnalyzeBilling: {sum(uncached.values())} {dict(sorted(uncached.items()))}")
    print(f"AWS requests, cached AnalyzeBilling: {sum(cached.values())} {dict(sorted(cached.items()))}")


def test_billing_dry_run_plans_without_cost_explorer(local_agent: Any) -> None:
    detail = {
        "task_id": "e2e-billing-dry",
        "dry_run": True,
        "task": {"task_type": "AnalyzeBilling", "parameters": {"refresh": True}},
    }
    with agent_requests() as made:
        assert _run(local_agent, detail) == "Completed"
    events = local_agent.results()
    assert not [e for e in events if e["detail-type"] == "BillingReportReady"]
    (completed,) = [e for e in events if e["detail"].get("task_id") == "e2e-billing-dry"]
    plan = completed["detail"]["result"]["plan"]
    assert completed["detail"]["dry_run"] is True and plan["cache"] == "refresh" and plan["ce_requests_min"] == 3
    assert made["cost-explorer.GetCostAndUsage"] == 0


def test_bad_period_fails_with_a_clear_error_and_event(local_agent: Any) -> None:
    detail = {"task_id": "e2e-billing-bad", "task": {"task_type": "AnalyzeBilling", "parameters": {"period": "2026"}}}
    assert _run(local_agent, detail) == "Failed"
    record = _record("e2e-billing-bad")
    assert record["error_code"] == "InvalidEvent" and record["error_state"] == "Analyze"
    assert "AnalyzeBilling period '2026' is not one of month-to-date, last-month" in record["error_message"]
    events = [e for e in local_agent.results() if e["detail"].get("task_id") == "e2e-billing-bad"]
    assert [e["detail-type"] for e in events] == ["AwsTaskFailed"]
    assert events[0]["detail"]["error"]["code"] == "InvalidEvent"
