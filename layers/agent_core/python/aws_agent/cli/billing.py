"""`aws-agent billing`: consolidated cost by account, service and historical agent, as rich tables."""

from __future__ import annotations

import os
from typing import Literal

import typer
from rich.console import Console
from rich.table import Table

from ..accounts.events import BillingReport, CostLine

Period = Literal["month-to-date", "last-month"]


def cost_table(title: str, lines: list[CostLine], total: str, *, named: bool = False, limit: int = 25) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    if named:
        table.add_column("name")
    table.add_column("USD", justify="right")
    table.add_column("share", justify="right")
    whole = float(total) or 1.0
    for line in lines[:limit]:
        share = f"{100 * float(line.amount) / whole:.1f} %"
        table.add_row(line.key, *([line.name] if named else []), line.amount, share)
    if len(lines) > limit:
        table.add_row(f"… {len(lines) - limit} more", *([""] if named else []), "", "")
    return table


def render(console: Console, report: BillingReport) -> None:
    source = "cache" if report.cached else "Cost Explorer"
    console.print(
        f"[bold]{report.period}[/] {report.start} → {report.end} (end exclusive): "
        f"[bold]{report.total} {report.currency}[/] (from {source})"
    )
    console.print(cost_table("By account", report.by_account, report.total, named=True))
    console.print(cost_table("By service", report.by_service, report.total))
    console.print(cost_table("By historical agent (MiyabiAgent tag)", report.by_agent, report.total))


def billing_command(
    console: Console,
    period: Period,
    refresh: bool,
    emit: bool,
    stack_name: str,
    use_cache: bool,
    cache_hours: int | None = None,
) -> BillingReport:
    """Query (or read from the cache) and print the report; optionally announce it on the agent's bus."""
    import boto3

    from ..accounts.billing import BillingCache, billing_report, publish_report
    from ..aws import RETRY_CONFIG

    cache = None
    bus = os.environ.get("AGENT_EVENT_BUS")
    if use_cache or emit:
        from .target import Deployment

        deployment = Deployment.from_stack(stack_name)
        table = deployment.outputs.get("CostReportsTableName")
        bus = deployment.outputs.get("EventBusName", bus)
        if use_cache and table:
            cache = BillingCache(deployment.client("dynamodb"), table, hours=cache_hours or _configured_hours())
    ce = boto3.client("ce", region_name="us-east-1", config=RETRY_CONFIG)  # Cost Explorer's one endpoint
    report = billing_report(ce, period, cache=cache, refresh=refresh)
    render(console, report)
    if emit:
        if not bus:
            raise typer.BadParameter("no event bus: deploy the stack or set AGENT_EVENT_BUS")
        publish_report(boto3.client("events", config=RETRY_CONFIG), bus, report)
        console.print(f"BillingReportReady sent to {bus}")
    return report


def _configured_hours() -> int:
    """multi_account.billing_cache_hours from AGENT_CONFIG (the deployed configuration), else its default."""
    from ..config import AgentConfig

    raw = os.environ.get("AGENT_CONFIG")
    config = AgentConfig.model_validate_json(raw) if raw else AgentConfig()
    return config.multi_account.billing_cache_hours
