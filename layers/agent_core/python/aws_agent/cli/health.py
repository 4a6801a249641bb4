"""`aws-agent health`: the health sweep from a terminal, against a deployed agent's tables (or the emulator)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

# Light at import (the CLI registers this command at start-up): boto3 and the health library load when it runs.
console = Console(width=None if sys.stdout.isatty() else 150)


def health_command(
    account: Annotated[str | None, typer.Option(help="only this account")] = None,
    region: Annotated[str | None, typer.Option(help="only this region")] = None,
    resource_type: Annotated[
        str | None, typer.Option("--type", help="only this resource type, e.g. Ec2Instance")
    ] = None,
    repair: Annotated[bool, typer.Option(help="re-create missing alarms (--no-repair only reports them)")] = True,
    stack_name: Annotated[str, typer.Option("--stack-name", help="the deployed CloudFormation stack")] = "AwsAgent",
) -> None:
    """Check every managed resource: alarms present (repaired), direct status, coverage (must be 100 %)."""
    from rich.table import Table

    from ..health.sweep import Scope, sweep
    from ..model import AwsResourceType
    from ..pipeline.runtime import Runtime
    from ..settings import Settings
    from .target import Deployment

    outputs = Deployment.from_stack(stack_name).outputs
    settings = Settings(
        tasks_table=outputs["TasksTableName"],
        resources_table=outputs["ResourcesTableName"],
        agents_table=outputs["AgentsTableName"],
        event_bus=outputs["EventBusName"],
    )
    scope = Scope(account, region, AwsResourceType(resource_type) if resource_type else None)
    result: dict[str, Any] = sweep(Runtime(settings), scope, repair=repair)
    table = Table(title="Health checks")
    for column in ("resource", "covered", "alarms missing", "repaired", "direct status"):
        table.add_column(column)
    for finding in result["findings"]:
        direct = finding.get("direct") or {}
        table.add_row(
            finding["resource"],
            "yes" if finding["covered"] else "[red]no[/]",
            str(len(finding.get("alarms_missing", []))),
            str(len(finding.get("repaired", []))),
            finding.get("error")
            or f"{direct.get('status', '-')}" + (" [red](unhealthy)[/]" if direct.get("healthy") is False else ""),
        )
    console.print(table)
    colour = "green" if result["coverage_percent"] == 100.0 else "red"
    console.print(
        f"checked {result['checked']}, covered {result['covered']}, "
        f"coverage [{colour}]{result['coverage_percent']} %[/], alarms repaired {result['alarms_repaired']}"
    )
    if result["coverage_percent"] < 100.0:
        raise typer.Exit(1)
