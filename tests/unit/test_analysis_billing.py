"""Free-text billing requests: the rules read AnalyzeBilling with its period; the Bedrock prompt offers the type."""

from __future__ import annotations

from typing import Any

import pytest
from issue_examples import ACCOUNTS

from aws_agent.analysis import analyze_issue
from aws_agent.analysis.prompt import SYSTEM_PROMPT, tool_input_schema
from aws_agent.errors import TaskAnalysisError
from aws_agent.events import IssueRef
from aws_agent.model import AwsResourceType, AwsTaskType


def _read(title: str, body: str = "", labels: tuple[str, ...] = ()) -> Any:
    return analyze_issue(IssueRef(number=4, title=title, body=body, labels=list(labels)), ACCOUNTS)


@pytest.mark.parametrize(
    ("title", "parameters"),
    [
        ("billing report for last month", {"period": "last-month"}),
        ("Consolidated billing", {}),  # no period said: the task reports month to date
        ("Cost by account", {}),
        ("Costs per service, month-to-date", {"period": "month-to-date"}),
        ("Cost breakdown for the previous month", {"period": "last-month"}),
        ("Create a billing report", {}),  # the named report beats the verb asking for it
        ("Cost By Account Last Month", {"period": "last-month"}),  # title case is not an account name
        ("AnalyzeBilling", {}),
        ("今月の請求レポート", {"period": "month-to-date"}),
    ],
)
def test_billing_requests(title: str, parameters: dict[str, Any]) -> None:
    result = _read(title)
    assert result.task_type is AwsTaskType.ANALYZE_BILLING
    assert result.resource_type is None and result.parameters == parameters


def test_services_named_in_a_billing_request_are_context() -> None:
    result = _read("Cost by service for EC2, S3 and RDS this month in Athena")
    assert result.task_type is AwsTaskType.ANALYZE_BILLING and result.resource_type is None
    assert result.account_name == "Athena" and result.parameters == {"period": "month-to-date"}
    explicit = _read("Billing analysis", "resource_type: S3Bucket\nperiod: last-month\nrefresh: no")
    assert explicit.resource_type is None and explicit.parameters == {"period": "last-month", "refresh": False}


@pytest.mark.parametrize(
    ("title", "task_type", "resource_type"),
    [
        ("Optimize costs by account", AwsTaskType.OPTIMIZE_COSTS, None),  # the verb outranks a billing noun phrase
        ("Create S3 bucket for billing reports", AwsTaskType.CREATE_RESOURCE, AwsResourceType.S3_BUCKET),
        ("Delete the billing bucket", AwsTaskType.DELETE_RESOURCE, AwsResourceType.S3_BUCKET),
        ("Reduce costs by stopping idle EC2 instances", AwsTaskType.OPTIMIZE_COSTS, AwsResourceType.EC2_INSTANCE),
    ],
)
def test_other_requests_mentioning_costs_keep_their_operation(
    title: str, task_type: AwsTaskType, resource_type: AwsResourceType | None
) -> None:
    result = _read(title)
    assert (result.task_type, result.resource_type) == (task_type, resource_type)


@pytest.mark.parametrize(
    ("title", "body", "error"),
    [
        ("Billing report", "Compare last month with this month", "ambiguous period"),
        ("Billing report", "period: yesterday", "invalid period 'yesterday'"),
        ("Billing report", "refresh: maybe", "invalid refresh 'maybe'"),
    ],
)
def test_bad_billing_requests_are_refused(title: str, body: str, error: str) -> None:
    with pytest.raises(TaskAnalysisError, match=error):
        _read(title, body)


def test_the_bedrock_prompt_offers_analyze_billing() -> None:
    assert "AnalyzeBilling" in SYSTEM_PROMPT and "last-month" in SYSTEM_PROMPT
    schema = tool_input_schema()
    assert "AnalyzeBilling" in schema["properties"]["task_type"]["enum"]
