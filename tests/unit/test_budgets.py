"""Billing alerts: a budget per managed account on moto, with threshold and forecast notifications; idempotent."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from organization import ZEUS, make_org

from aws_agent.accounts.budgets import budget_name, ensure_budgets
from aws_agent.errors import TaskAnalysisError

pytestmark = pytest.mark.usefixtures("mocked_aws")


def budgets() -> Any:
    return boto3.client("budgets", region_name="us-east-1")


def test_a_budget_per_account_with_notifications() -> None:
    org = make_org()
    client = budgets()
    accounts = list(org.accounts.values())
    rollout = ensure_budgets(
        client, ZEUS, accounts, limit_usd=250, thresholds=[80, 100], subscribers=["finops@example.com"]
    )
    assert sorted(rollout.created) == sorted(accounts) and rollout.notifications_added == 12
    for account in accounts:
        budget = client.describe_budget(AccountId=ZEUS, BudgetName=budget_name(account))["Budget"]
        assert budget["BudgetLimit"] == {"Amount": "250.00", "Unit": "USD"}
        assert budget["CostFilters"] == {"LinkedAccount": [account]}
        assert budget["TimeUnit"] == "MONTHLY" and budget["BudgetType"] == "COST"
        notifications = client.describe_notifications_for_budget(AccountId=ZEUS, BudgetName=budget_name(account))[
            "Notifications"
        ]
        assert {(n["NotificationType"], float(n["Threshold"])) for n in notifications} == {
            ("ACTUAL", 80.0),
            ("ACTUAL", 100.0),
            ("FORECASTED", 100.0),
        }
    again = ensure_budgets(client, ZEUS, accounts, limit_usd=250, thresholds=[80, 100], subscribers=["a@example.com"])
    assert sorted(again.unchanged) == sorted(accounts) and again.notifications_added == 0
    more = ensure_budgets(client, ZEUS, accounts[:1], limit_usd=250, thresholds=[50, 80, 100], subscribers=["a@b.io"])
    assert more.notifications_added == 1


def test_a_new_limit_updates_the_budget() -> None:
    """moto has no UpdateBudget: the call is checked against the real service model."""
    client = budgets()
    stubber = Stubber(client)
    existing = {
        "BudgetName": budget_name("222222222222"),
        "BudgetLimit": {"Amount": "100.0", "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }
    stubber.add_response("describe_budgets", {"Budgets": [existing]}, {"AccountId": ZEUS})
    stubber.add_response(
        "update_budget",
        {},
        {
            "AccountId": ZEUS,
            "NewBudget": {
                **existing,
                "BudgetLimit": {"Amount": "300.00", "Unit": "USD"},
                "CostFilters": {"LinkedAccount": ["222222222222"]},
            },
        },
    )
    notifications = [
        {"NotificationType": t, "ComparisonOperator": "GREATER_THAN", "Threshold": v, "ThresholdType": "PERCENTAGE"}
        for t, v in (("ACTUAL", 80.0), ("FORECASTED", 100.0))
    ]
    stubber.add_response("describe_notifications_for_budget", {"Notifications": notifications})
    with stubber:
        rollout = ensure_budgets(
            client, ZEUS, ["222222222222"], limit_usd=300, thresholds=[80], subscribers=["finops@example.com"]
        )
    assert rollout.updated == ["222222222222"] and rollout.notifications_added == 0
    stubber.assert_no_pending_responses()


def test_subscribers_are_required() -> None:
    with pytest.raises(TaskAnalysisError, match="subscriber"):
        ensure_budgets(budgets(), ZEUS, ["222222222222"], limit_usd=1, thresholds=[80], subscribers=[])


def test_discovery_plan_keeps_a_budget_on_every_account() -> None:
    from test_discovery import make_runtime

    from aws_agent.accounts.workflow import plan_discovery

    org = make_org()
    rt = make_runtime(org, budget_subscribers=["finops@example.com"], budget_limit_usd=50)
    plan = plan_discovery(rt, {"run_id": "r"})
    assert plan["budgets"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert plan_discovery(rt, {"run_id": "r2"})["budgets"]["unchanged"] == 4
    names = {b["BudgetName"] for b in budgets().describe_budgets(AccountId=ZEUS)["Budgets"]}
    assert names == {budget_name(a) for a in org.accounts.values()}
    assert plan_discovery(make_runtime_without_subscribers(org), {"run_id": "r3"})["budgets"]["skipped"]


def make_runtime_without_subscribers(org: Any) -> Any:
    from aws_agent.config import AgentConfig
    from aws_agent.pipeline.runtime import Runtime
    from aws_agent.settings import Settings

    config = AgentConfig(accounts={"Zeus": ZEUS})
    return Runtime(Settings("tasks", "resources", "agents", "agent-bus", agent_account_id=ZEUS, preset_config=config))
