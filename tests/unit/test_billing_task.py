"""AnalyzeBilling as a task: Analyze validates, Guard allows, Execute reports (cached), BillingReportReady is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from health_fixtures import ACCOUNT, MEMBER, make_runtime, received
from test_billing import _result, inject

from aws_agent.accounts.billing import CACHE_RUN_ID, TOP_LINES, billing_parameters
from aws_agent.errors import InvalidTaskEvent
from aws_agent.events import ORCHESTRATOR_SOURCE, TASK_REQUESTED
from aws_agent.model import AwsTask, AwsTaskType
from aws_agent.pipeline.analyze import analyze
from aws_agent.pipeline.execute import execute
from aws_agent.pipeline.guard import decide
from aws_agent.pipeline.runtime import Runtime

TABLE = "cost-reports"


@pytest.fixture
def rt(mocked_aws: None) -> Runtime:
    runtime = make_runtime()
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("run_id", "part")],
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}, {"AttributeName": "part", "KeyType": "RANGE"}],
    )
    runtime.settings.cost_reports_table = TABLE
    return runtime


@pytest.fixture
def ce_calls(mocked_aws: None) -> Iterator[list[dict[str, Any]]]:
    """Every GetCostAndUsage request any client of the default session makes (the runtime's clients included)."""
    calls: list[dict[str, Any]] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    session = boto3._get_default_session()._session
    session.register("provide-client-params.ce.GetCostAndUsage", count)
    yield calls
    session.unregister("provide-client-params.ce.GetCostAndUsage", count)


def _inject_month() -> None:
    inject(
        _result({ACCOUNT: "40.00", MEMBER: "120.50"}, {ACCOUNT: "Zeus", MEMBER: "Apollo"}),
        _result({"Amazon Elastic Compute Cloud - Compute": "150.00", "AWS Lambda": "10.50"}),
        _result({"MiyabiAgent$BillGates": "130.00", "MiyabiAgent$": "30.50"}),
    )


def _task(parameters: dict[str, Any] | None = None, *, dry_run: bool = False, account: str = ACCOUNT) -> AwsTask:
    return AwsTask(
        id="bill-1",
        task_type=AwsTaskType.ANALYZE_BILLING,
        account_id=account,
        region="us-east-1",
        parameters=parameters or {},
        dry_run=dry_run,
    )


def _execute(rt: Runtime, task: AwsTask) -> dict[str, Any]:
    rt.tasks.start(task.id, {"task_type": task.task_type.value})
    return execute(rt, {"task": task.model_dump(mode="json")})


def test_report_event_and_cache(rt: Runtime, ce_calls: list[dict[str, Any]]) -> None:
    _inject_month()
    result = _execute(rt, _task())
    assert len(ce_calls) == 3  # by account, by service, by the MiyabiAgent tag: one page each
    assert result["ready"] is True and result["next"] == "complete" and result["dry_run"] is False
    assert result["operation"] == "analyze-billing" and result["period"] == "month-to-date"
    assert result["total"] == "160.50" and result["cached"] is False
    assert result["ce_requests"] == 3 and result["ce_cost_usd"] == "0.03"
    assert result["counts"] == {"accounts": 2, "services": 2, "agents": 2}
    assert [(x["key"], x["name"], x["amount"]) for x in result["top"]["by_account"]] == [
        (MEMBER, "Apollo", "120.50"),
        (ACCOUNT, "Zeus", "40.00"),
    ]
    assert {x["key"]: x["amount"] for x in result["top"]["by_agent"]} == {"BillGates": "130.00", "(untagged)": "30.50"}

    (event,) = received(rt)
    assert event["source"] == "miyabi.aws-agent" and event["detail-type"] == "BillingReportReady"
    detail = event["detail"]
    assert detail["total"] == "160.50" and detail["cached"] is False and detail["task_id"] == "bill-1"
    assert [x["key"] for x in detail["by_service"]] == ["Amazon Elastic Compute Cloud - Compute", "AWS Lambda"]

    cached = boto3.client("dynamodb", region_name="us-east-1").query(
        TableName=TABLE,
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": CACHE_RUN_ID}},
    )["Items"]
    assert len(cached) == 1 and cached[0]["part"]["S"].startswith("month-to-date#")
    record = rt.tasks.get("bill-1") or {}
    assert record["billing"]["total"] == "160.50" and record["billing"]["ce_requests"] == 3

    # The second run is served from the CostReports table: no Cost Explorer request, still announced.
    again = _execute(rt, _task())
    assert len(ce_calls) == 3
    assert again["cached"] is True and again["ce_requests"] == 0 and again["total"] == "160.50"
    (event,) = received(rt)
    assert event["detail"]["cached"] is True

    # refresh bypasses the cache (and replaces it).
    _inject_month()
    fresh = _execute(rt, _task({"refresh": True}))
    assert len(ce_calls) == 6 and fresh["cached"] is False


def test_last_month_queries_the_previous_month(rt: Runtime, ce_calls: list[dict[str, Any]]) -> None:
    inject(_result({ACCOUNT: "5.00"}), _result({}), _result({}))
    result = _execute(rt, _task({"period": "last-month"}))
    start, end = ce_calls[0]["TimePeriod"]["Start"], ce_calls[0]["TimePeriod"]["End"]
    assert (result["start"], result["end"]) == (start, end)
    assert start.endswith("-01") and end.endswith("-01") and start < end
    assert {c["GroupBy"][0]["Key"] for c in ce_calls} == {"LINKED_ACCOUNT", "SERVICE", "MiyabiAgent"}


def test_member_account_task_carries_its_line(rt: Runtime, ce_calls: list[dict[str, Any]]) -> None:
    _inject_month()
    result = _execute(rt, _task(account=MEMBER))
    assert result["account"] == {"key": MEMBER, "name": "Apollo", "amount": "120.50"}


def test_result_stays_small_with_a_large_bill(rt: Runtime, ce_calls: list[dict[str, Any]]) -> None:
    accounts = {f"{n:012d}": f"{n}.00" for n in range(1, 401)}
    services = {f"Service {'x' * 80} {n}": "1.00" for n in range(300)}
    inject(_result(accounts), _result(services), _result({f"MiyabiAgent${n}": "1.00" for n in range(300)}))
    result = _execute(rt, _task())
    assert result["counts"] == {"accounts": 400, "services": 300, "agents": 300}
    assert all(len(lines) == TOP_LINES for lines in result["top"].values())
    assert len(json.dumps(result)) < 8_000  # Step Functions state is limited to 256 KiB
    (event,) = received(rt)
    assert len(event["detail"]["by_account"]) == 400  # the event carries the whole report


def test_dry_run_reads_the_cache_and_never_calls_cost_explorer(rt: Runtime, ce_calls: list[dict[str, Any]]) -> None:
    plan = _execute(rt, _task(dry_run=True))
    assert ce_calls == [] and received(rt) == []
    assert plan["dry_run"] is True and plan["ready"] is True and plan["next"] == "complete"
    assert plan["plan"]["cache"] == "miss" and plan["plan"]["ce_requests_min"] == 3
    assert plan["plan"]["queries"] == ["LINKED_ACCOUNT", "SERVICE", "TAG:MiyabiAgent"]
    assert plan["plan"]["estimated_cost_usd"] == "0.03"

    _inject_month()
    _execute(rt, _task())  # fills the cache
    received(rt)
    hit = _execute(rt, _task(dry_run=True))
    assert hit["plan"]["cache"] == "hit" and hit["plan"]["queries"] == []
    assert hit["plan"]["estimated_cost_usd"] == "0.00"
    refresh = _execute(rt, _task({"refresh": True}, dry_run=True))
    assert refresh["plan"]["cache"] == "refresh" and refresh["plan"]["ce_requests_min"] == 3
    assert len(ce_calls) == 3 and received(rt) == []  # only the one real run asked Cost Explorer


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"period": "yesterday"}, "period 'yesterday' is not one of month-to-date, last-month"),
        ({"period": None}, "period 'None' is not one of"),
        ({"refresh": "yes"}, "refresh must be true or false"),
    ],
)
def test_bad_parameters_are_refused(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidTaskEvent, match=message):
        billing_parameters(parameters)


def test_defaults() -> None:
    assert billing_parameters({}) == ("month-to-date", False)
    assert billing_parameters({"period": "last-month", "refresh": True}) == ("last-month", True)


def _event(task: dict[str, Any]) -> dict[str, Any]:
    return {"source": ORCHESTRATOR_SOURCE, "detail-type": TASK_REQUESTED, "detail": {"task_id": "bill-2", "task": task}}


def test_analyze_refuses_a_bad_period_before_guard(rt: Runtime) -> None:
    with pytest.raises(InvalidTaskEvent, match="AnalyzeBilling period 'yesterday'"):
        analyze(
            rt,
            {
                "task_id": "bill-2",
                "event": _event({"task_type": "AnalyzeBilling", "parameters": {"period": "yesterday"}}),
            },
        )


def test_analyze_and_guard_accept_a_billing_task_without_resource_type(rt: Runtime) -> None:
    task = analyze(
        rt,
        {"task_id": "bill-2", "event": _event({"task_type": "AnalyzeBilling", "parameters": {"period": "last-month"}})},
    )
    assert task["task_type"] == "AnalyzeBilling" and task["resource_type"] is None and task["account_id"] == ACCOUNT
    decision = decide(rt, AwsTask.model_validate(task))
    assert decision.decision == "allow" and decision.reasons == [] and decision.risk == 0
