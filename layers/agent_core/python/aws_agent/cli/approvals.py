"""`aws-agent approve|reject TASK` and `aws-agent autonomy`: the human side of the approval wait."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.console import Console

console = Console()
StackOption = Annotated[str, typer.Option("--stack-name", help="the deployed CloudFormation stack")]
ByOption = Annotated[str | None, typer.Option("--by", help="who decides (default: $USER)")]


def _decide(task_id: str, approve: bool, by: str | None, reason: str, stack_name: str) -> None:
    from ..approvals import ApprovalNotPending, decide
    from .target import Deployment

    deployment = Deployment.from_stack(stack_name)
    who = by or os.environ.get("USER") or getpass.getuser()
    try:
        decision = decide(
            deployment.tasks, deployment.client("stepfunctions"), task_id, approve=approve, by=who, reason=reason
        )
    except ApprovalNotPending as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"task [bold]{task_id}[/] {decision['status']} by {who}")


def approve_command(
    task_id: Annotated[str, typer.Argument(help="the task waiting for approval")],
    by: ByOption = None,
    reason: Annotated[str, typer.Option(help="why (recorded on the task)")] = "",
    stack_name: StackOption = "AwsAgent",
) -> None:
    """Approve a task waiting for a human (SendTaskSuccess with its stored token): it goes on to Execute."""
    _decide(task_id, True, by, reason, stack_name)


def reject_command(
    task_id: Annotated[str, typer.Argument(help="the task waiting for approval")],
    reason: Annotated[str, typer.Option(help="why (recorded on the task and in its result event)")] = "",
    by: ByOption = None,
    stack_name: StackOption = "AwsAgent",
) -> None:
    """Reject a task waiting for a human (SendTaskFailure ApprovalRejected): it ends Cancelled with the reason."""
    _decide(task_id, False, by, reason, stack_name)


def autonomy_command(stack_name: StackOption = "AwsAgent") -> None:
    """Average autonomy across the service agents (the spec's target: above 7/10)."""
    from ..guardians.autonomy import TARGET_AVERAGE, average_autonomy
    from .target import Deployment

    average, count = average_autonomy(Deployment.from_stack(stack_name).resources.list_agents(limit=100_000))
    console.print(autonomy_line(average, count, TARGET_AVERAGE))


def autonomy_line(average: float | None, count: int, target: float) -> str:
    if average is None:
        return "average autonomy: no service agents yet"
    verdict = "[green]above[/]" if average > target else "[yellow]not above[/]"
    return f"average autonomy {average:.2f}/10 over {count} service agents ({verdict} the target of {target:g}/10)"
