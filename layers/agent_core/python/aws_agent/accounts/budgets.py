"""Billing alerts: one monthly AWS Budget per managed account, notifying on unexpected charges (idempotent)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ..aws import translate
from ..errors import TaskAnalysisError

BUDGET_PREFIX = "miyabi-account-"


def budget_name(account_id: str) -> str:
    return f"{BUDGET_PREFIX}{account_id}"


@dataclass
class BudgetRollout:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notifications_added: int = 0


def _notifications(thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """ACTUAL spend past each threshold, and FORECASTED spend past 100 %: the early warning of an unexpected charge."""
    wanted = [
        {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": float(t)}
        for t in sorted(set(thresholds))
    ]
    wanted.append({"NotificationType": "FORECASTED", "ComparisonOperator": "GREATER_THAN", "Threshold": 100.0})
    return [{**n, "ThresholdType": "PERCENTAGE"} for n in wanted]


def _key(notification: dict[str, Any]) -> tuple[str, str, float]:
    return (notification["NotificationType"], notification["ComparisonOperator"], float(notification["Threshold"]))


def ensure_budgets(
    budgets: Any,
    payer_account_id: str,
    account_ids: Iterable[str],
    *,
    limit_usd: float,
    thresholds: Sequence[float],
    subscribers: Sequence[str],
) -> BudgetRollout:
    """A COST budget per account (filtered on its LinkedAccount, created in the payer account), with notifications
    to the subscribers. Existing budgets get their limit and missing notifications; nothing is deleted."""
    if not subscribers:
        raise TaskAnalysisError("budget alerts need at least one subscriber (multi_account.budget_subscribers)")
    targets = [{"SubscriptionType": "EMAIL", "Address": address} for address in subscribers]
    existing = {b["BudgetName"]: b for b in _existing(budgets, payer_account_id)}
    limit = {"Amount": str(Decimal(str(limit_usd)).quantize(Decimal("0.01"))), "Unit": "USD"}
    rollout = BudgetRollout()
    for account_id in dict.fromkeys(account_ids):
        name = budget_name(account_id)
        budget = {
            "BudgetName": name,
            "BudgetLimit": limit,
            "CostFilters": {"LinkedAccount": [account_id]},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        }
        wanted = _notifications(thresholds)
        if name not in existing:
            _call(
                f"create budget {name}",
                budgets.create_budget,
                AccountId=payer_account_id,
                Budget=budget,
                NotificationsWithSubscribers=[{"Notification": n, "Subscribers": targets} for n in wanted],
            )
            rollout.created.append(account_id)
            rollout.notifications_added += len(wanted)
            continue
        current = existing[name].get("BudgetLimit", {})
        if Decimal(str(current.get("Amount", "0"))) != Decimal(limit["Amount"]):
            _call(f"update budget {name}", budgets.update_budget, AccountId=payer_account_id, NewBudget=budget)
            rollout.updated.append(account_id)
        else:
            rollout.unchanged.append(account_id)
        have = {
            _key(n)
            for page in _paginate(budgets, "describe_notifications_for_budget", payer_account_id, BudgetName=name)
            for n in page.get("Notifications", [])
        }
        for notification in wanted:
            if _key(notification) not in have:
                _call(
                    f"add a notification to {name}",
                    budgets.create_notification,
                    AccountId=payer_account_id,
                    BudgetName=name,
                    Notification=notification,
                    Subscribers=targets,
                )
                rollout.notifications_added += 1
    return rollout


def _existing(budgets: Any, payer_account_id: str) -> list[dict[str, Any]]:
    return [
        b
        for page in _paginate(budgets, "describe_budgets", payer_account_id)
        for b in page.get("Budgets", [])
        if b["BudgetName"].startswith(BUDGET_PREFIX)
    ]


def _paginate(budgets: Any, operation: str, payer_account_id: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
    try:
        yield from budgets.get_paginator(operation).paginate(AccountId=payer_account_id, **kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":  # no budgets / notifications yet
            return
        raise translate(exc, f"budgets {operation}") from exc


def _call(doing: str, fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        raise translate(exc, doing) from exc
