"""Rich tables for tasks, resources, service agents and result events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table

_STATUS_STYLE = {"Completed": "green", "Failed": "red", "InProgress": "yellow", "Pending": "dim", "Cancelled": "dim"}


def _short(text: Any, width: int = 60) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= width else value[: width - 1] + "…"


def tasks_table(tasks: Iterable[dict[str, Any]]) -> Table:
    table = Table(title="Tasks", show_lines=False)
    for column in ("task id", "type", "resource", "account", "agent", "status", "resource id / error"):
        table.add_column(column, overflow="fold")
    for task in tasks:
        status = task.get("status", "")
        detail = task.get("error_message") if status == "Failed" else task.get("resource_id", "")
        if task.get("dry_run") and status == "Completed":
            detail = "dry run: nothing changed"
        table.add_row(
            _short(task.get("task_id"), 36),
            task.get("task_type", "—"),
            task.get("resource_type", "—"),
            task.get("account_id", "—"),
            task.get("assigned_agent", "—"),
            f"[{_STATUS_STYLE.get(status, '')}]{status}[/]",
            _short(f"[{task.get('error_code')}] {detail}" if status == "Failed" else detail, 90),
        )
    return table


def resources_table(resources: Iterable[dict[str, Any]]) -> Table:
    table = Table(title="Resources")
    for column in ("id", "type", "account", "region", "state", "owner", "MiyabiManaged"):
        table.add_column(column, overflow="fold")
    for res in resources:
        table.add_row(
            _short(res.get("id"), 48),
            res.get("resource_type", ""),
            res.get("account_id", ""),
            res.get("region", ""),
            res.get("state", ""),
            res.get("owner_agent", ""),
            (res.get("tags") or {}).get("MiyabiManaged", "—"),
        )
    return table


def agents_table(agents: Iterable[dict[str, Any]]) -> Table:
    table = Table(title="Service agents")
    for column in ("service agent", "type", "state", "decision maker", "autonomy", "USD/day", "health"):
        table.add_column(column, overflow="fold")
    for agent in agents:
        table.add_row(
            _short(str(agent.get("name", "")).split("#", 3)[-1], 48),
            agent.get("service_type", ""),
            agent.get("state", ""),
            agent.get("decision_maker", ""),
            f"{int(agent.get('autonomy_level', 0))}/10",
            f"{float(agent.get('cost_per_day', 0)):.4f}",
            agent.get("health_status", ""),
        )
    return table


def events_table(events: Iterable[dict[str, Any]]) -> Table:
    table = Table(title="Events on the agent's bus")
    for column in ("detail-type", "task id", "status", "code", "message / resource"):
        table.add_column(column, overflow="fold")
    for event in events:
        detail = event.get("detail", {})
        error = detail.get("error") or {}
        what = error.get("message") or (detail.get("resource") or {}).get("id", "")
        if event.get("detail-type") == "CostReportReady":
            what = (
                f"{detail.get('targets')} target(s), {detail.get('optimizations')} action(s), "
                f"{detail.get('recommendations')} recommendation(s), saves ${detail.get('total_savings')}/month "
                f"(potential ${detail.get('potential_savings')}), dry run: {detail.get('dry_run')}"
            )
        if event.get("detail-type") == "BillingReportReady":
            what = (
                f"{detail.get('period')} {detail.get('start')} → {detail.get('end')}: {detail.get('total')} "
                f"{detail.get('currency')}, {len(detail.get('by_account', []))} account(s), "
                f"{len(detail.get('by_service', []))} service(s), {len(detail.get('by_agent', []))} agent(s)"
                + (" (from the cache)" if detail.get("cached") else "")
            )
        if event.get("detail-type") in ("AccountCreated", "AccountCreationFailed"):
            what = (
                f"{detail.get('name')} ({detail.get('account_id')}, {detail.get('role')}) in {detail.get('parent_id')}"
                f" after {detail.get('polls')} status check(s)"
                if event.get("detail-type") == "AccountCreated"
                else f"{detail.get('name')}: {detail.get('error')}: {detail.get('cause')}"
            )
        table.add_row(
            event.get("detail-type", ""),
            _short(detail.get("task_id") or detail.get("run_id"), 36),
            detail.get("status", ""),
            error.get("code", ""),
            _short(what, 120),
        )
    return table
