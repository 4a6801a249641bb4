"""Consolidated billing: injected Cost Explorer results -> per-account / per-service / per-agent report, cached."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import boto3
import pytest
import requests

from aws_agent.accounts.billing import BillingCache, billing_report, period_bounds, publish_report

pytestmark = pytest.mark.usefixtures("mocked_aws")
TODAY = date(2026, 11, 26)


def _result(
    groups: dict[str, str], attributes: dict[str, str] | None = None, token: str | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-26"},
                "Total": {},
                "Groups": [
                    {"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": v, "Unit": "USD"}}} for k, v in groups.items()
                ],
                "Estimated": True,
            }
        ],
        "DimensionValueAttributes": [
            {"Value": k, "Attributes": {"description": v}} for k, v in (attributes or {}).items()
        ],
    }
    if token:
        result["NextPageToken"] = token
    return result


def inject(*results: dict[str, Any]) -> None:
    """moto's documented queue of Cost Explorer answers: each new request takes the next one."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results", json={"results": list(results)}
    )
    assert response.status_code == 201


def cost_reports_table() -> BillingCache:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="cost-reports",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("run_id", "part")],
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}, {"AttributeName": "part", "KeyType": "RANGE"}],
    )
    return BillingCache(ddb, "cost-reports", hours=12)


def counting_ce() -> tuple[Any, list[dict[str, Any]]]:
    ce = boto3.client("ce", region_name="us-east-1")
    calls: list[dict[str, Any]] = []
    ce.meta.events.register("provide-client-params.ce.GetCostAndUsage", lambda params, **_: calls.append(params))
    return ce, calls


def test_report_by_account_service_and_agent_and_cache() -> None:
    inject(
        _result(
            {"123456789012": "40.10", "222222222222": "120.455", "333333333333": "9.00"},
            {"123456789012": "Zeus", "222222222222": "Apollo", "333333333333": "Cerberus"},
        ),
        _result({"Amazon Elastic Compute Cloud - Compute": "150.00"}, token="page-2"),
        _result({"Amazon Simple Storage Service": "19.56"}),
        _result({"MiyabiAgent$BillGates": "130.00", "MiyabiAgent$SteveJobs": "12.5", "MiyabiAgent$": "27.06"}),
    )
    ce, calls = counting_ce()
    cache = cost_reports_table()
    report = billing_report(ce, "month-to-date", today=TODAY, cache=cache)
    assert len(calls) == 4  # accounts, services (two pages), agents
    assert calls[0]["TimePeriod"] == {"Start": "2026-11-01", "End": "2026-11-26"}
    assert calls[2]["NextPageToken"] == "page-2"
    assert [(line.key, line.name, line.amount) for line in report.by_account] == [
        ("222222222222", "Apollo", "120.46"),
        ("123456789012", "Zeus", "40.10"),
        ("333333333333", "Cerberus", "9.00"),
    ]
    assert [(line.key, line.amount) for line in report.by_service] == [
        ("Amazon Elastic Compute Cloud - Compute", "150.00"),
        ("Amazon Simple Storage Service", "19.56"),
    ]
    assert {line.key: line.amount for line in report.by_agent} == {
        "BillGates": "130.00",
        "SteveJobs": "12.50",
        "(untagged)": "27.06",
    }
    assert report.total == "169.56" and report.cached is False

    again = billing_report(ce, "month-to-date", today=TODAY, cache=cache)
    assert len(calls) == 4 and again.cached is True  # served from the table: no Cost Explorer charge
    assert again.by_agent == report.by_agent
    billing_report(ce, "month-to-date", today=TODAY, cache=cache, refresh=True)
    assert len(calls) == 8


def test_periods() -> None:
    assert period_bounds("last-month", TODAY) == (date(2026, 10, 1), date(2026, 11, 1))
    assert period_bounds("month-to-date", date(2026, 11, 1)) == (date(2026, 11, 1), date(2026, 11, 2))
    assert period_bounds("last-month", date(2026, 1, 15)) == (date(2025, 12, 1), date(2026, 1, 1))


def test_expired_cache_is_queried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    inject(_result({"123456789012": "1.00"}), _result({}), _result({}))
    ce, calls = counting_ce()
    cache = cost_reports_table()
    billing_report(ce, "last-month", today=TODAY, cache=cache)
    import aws_agent.accounts.billing as billing

    monkeypatch.setattr(billing.time, "time", lambda: 4_102_444_800.0)  # 2100: every cached item has expired
    billing_report(ce, "last-month", today=TODAY, cache=cache)
    assert len(calls) == 6


def test_report_event() -> None:
    inject(_result({"123456789012": "3.00"}), _result({}), _result({}))
    report = billing_report(boto3.client("ce", region_name="us-east-1"), "month-to-date", today=TODAY)
    events = boto3.client("events", region_name="us-east-1")
    events.create_event_bus(Name="agent-bus")
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    events.put_rule(Name="all", EventBusName="agent-bus", EventPattern=json.dumps({"source": ["miyabi.aws-agent"]}))
    events.put_targets(
        Rule="all",
        EventBusName="agent-bus",
        Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:observer"}],
    )
    publish_report(events, "agent-bus", report)
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["detail-type"] == "BillingReportReady" and body["detail"]["total"] == "3.00"
