"""`aws-agent`: the engineers' command line (typer + rich) for the embedded demo and for deployed stacks."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

# Only what the command line itself needs is imported here: each command imports its own modules (boto3,
# pydantic, rich tables), so `aws-agent optimize` and `--help` start fast.
from ..basics import TaskStatus

app = typer.Typer(
    help="AWS Agent: autonomous management of AWS resources across an Organization.", no_args_is_help=True
)
# Wide enough for the tables when output is piped (rich assumes 80 columns without a terminal).
console = Console(width=None if sys.stdout.isatty() else 150)
StackOption = Annotated[str, typer.Option("--stack-name", help="the deployed CloudFormation stack")]
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


@app.command()
def demo() -> None:
    """Run the main job on the embedded AWS (moto): no account, no network."""
    from .demo import run_demo

    run_demo(console)


def _request(
    task_file: Path | None, issue: str | None, body: str, dry_run: bool, task_id: str | None
) -> dict[str, Any]:
    from ..events import TaskRequest

    if (task_file is None) == (issue is None):
        raise typer.BadParameter("give either a task file or --issue")
    if task_file is not None:
        detail = json.loads(task_file.read_text())
        if "task" not in detail and "issue" not in detail:
            detail = {"task": detail}  # a bare structured task
    else:
        detail = {"issue": {"number": 1, "title": issue, "body": body}}
    detail.setdefault("task_id", task_id or f"cli-{uuid.uuid4().hex[:12]}")
    detail["dry_run"] = dry_run or detail.get("dry_run", False)
    TaskRequest.model_validate(detail)  # fail here, before anything is sent
    return detail


@app.command()
def submit(
    task_file: Annotated[
        Path | None, typer.Argument(help="JSON: a structured task or an AwsTaskRequested detail")
    ] = None,
    issue: Annotated[str | None, typer.Option(help="an issue title to analyze instead of a file")] = None,
    body: Annotated[str, typer.Option(help="the issue body")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="plan only; change nothing")] = False,
    task_id: Annotated[str | None, typer.Option(help="idempotency key (default: random)")] = None,
    local: Annotated[bool, typer.Option("--local", help="run it on the embedded AWS and show the outcome")] = False,
    stack_name: StackOption = "AwsAgent",
) -> None:
    """Send an AwsTaskRequested event to the agent (deployed, or --local on the embedded AWS)."""
    detail = _request(task_file, issue, body, dry_run, task_id)
    if local:
        from ..local.agent import LocalAgent
        from ..pipeline.runtime import runtime
        from .views import events_table, tasks_table

        with LocalAgent() as agent:
            agent.submit(detail)
            agent.run([detail["task_id"]], timeout=180)
            console.print(tasks_table([runtime().tasks.get(detail["task_id"]) or {}]))
            console.print(events_table(agent.results()))
        return
    from ..events import ORCHESTRATOR_SOURCE, TASK_REQUESTED
    from .target import Deployment

    deployment = Deployment.from_stack(stack_name)
    response = deployment.client("events").put_events(
        Entries=[
            {
                "Source": ORCHESTRATOR_SOURCE,
                "DetailType": TASK_REQUESTED,
                "Detail": json.dumps(detail),
                "EventBusName": deployment.outputs["EventBusName"],
            }
        ]
    )
    if response.get("FailedEntryCount"):
        console.print(f"[red]not sent:[/] {response['Entries'][0]}")
        raise typer.Exit(1)
    console.print(f"sent task [bold]{detail['task_id']}[/] (event {response['Entries'][0]['EventId']})")


@app.command()
def tasks(
    status: Annotated[TaskStatus | None, typer.Option(help="only tasks in this status")] = None,
    limit: int = 50,
    stack_name: StackOption = "AwsAgent",
) -> None:
    """List tasks of a deployed agent."""
    from .target import Deployment
    from .views import tasks_table

    console.print(tasks_table(Deployment.from_stack(stack_name).tasks.list(limit=limit, status=status)))


@app.command()
def resources(
    account: Annotated[str | None, typer.Option(help="only this account (uses the by-account index)")] = None,
    stack_name: StackOption = "AwsAgent",
) -> None:
    """List the resources a deployed agent manages."""
    from .target import Deployment
    from .views import resources_table

    repo = Deployment.from_stack(stack_name).resources
    console.print(resources_table(repo.by_account(account) if account else repo.list_resources()))


@app.command()
def agents(
    decision_maker: Annotated[str | None, typer.Option(help="only this historical agent")] = None,
    stack_name: StackOption = "AwsAgent",
) -> None:
    """List service agents (autonomy, decision maker, daily cost, health) of a deployed agent."""
    from ..guardians.autonomy import TARGET_AVERAGE, average_autonomy
    from .approvals import autonomy_line
    from .target import Deployment
    from .views import agents_table

    listed = Deployment.from_stack(stack_name).resources.list_agents(decision_maker=decision_maker)
    console.print(agents_table(listed))
    console.print(autonomy_line(*average_autonomy(listed), TARGET_AVERAGE))


def render_schemas() -> dict[str, str]:
    """JSON Schema of each event's detail, generated from the models (committed under aws_agent/schemas)."""
    from ..events import SCHEMAS

    return {
        f"{name}.v1.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in SCHEMAS.items()
    }


@app.command()
def schemas(
    write: Annotated[bool, typer.Option("--write", help="rewrite the committed schema files")] = False,
) -> None:
    """Check (or --write) the committed JSON Schemas of the event contract."""
    stale = []
    for name, text in render_schemas().items():
        path = SCHEMA_DIR / name
        if write:
            path.write_text(text)
        elif not path.is_file() or path.read_text() != text:
            stale.append(name)
    if stale:
        console.print(f"[red]out of date:[/] {', '.join(stale)} — run `aws-agent schemas --write`")
        raise typer.Exit(1)
    console.print("schemas written" if write else "schemas up to date")


@app.command()
def optimize(
    accounts_file: Annotated[
        Path | None,
        typer.Option("--accounts", help="c7n-org accounts.yml: accounts: [{account_id, name, role, regions}]"),
    ] = None,
    account: Annotated[
        list[str] | None, typer.Option("--account", help="account id to sweep (repeatable; default: your own)")
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="region (repeatable; default AWS_DEFAULT_REGION)")
    ] = None,
    role: Annotated[
        str, typer.Option(help="role to assume where the accounts file names none, and for --account")
    ] = "MiyabiAgentRole",
    apply: Annotated[bool, typer.Option("--apply", help="act (stop idle instances); without it: a dry run")] = False,
    include_unmanaged: Annotated[
        bool,
        typer.Option(
            "--include-unmanaged", help="also act on resources not tagged MiyabiManaged=true (explicit opt-in)"
        ),
    ] = False,
    days: Annotated[int, typer.Option(help="metrics window in days")] = 14,
    cpu_threshold: Annotated[float, typer.Option(help="EC2 idle: CPU maximum below this percent")] = 5.0,
    max_actions: Annotated[int, typer.Option(help="at most this many actions per account and run")] = 50,
    max_percent: Annotated[float, typer.Option(help="at most this percent of an account's instances")] = 50.0,
    report: Annotated[Path | None, typer.Option("--report", help="write the CostReport JSON here")] = None,
    concurrency: Annotated[int, typer.Option(help="account x region targets swept at once")] = 8,
) -> None:
    """Cost sweep: stop idle EC2, report unused S3, RDS rightsizing, Intelligent-Tiering, idle EBS and EIPs."""
    from .optimize import run_optimize  # the sweep's modules load only when this command runs

    _, all_failed = run_optimize(
        console=console,
        accounts_file=accounts_file,
        accounts=account or [],
        regions=region or [],
        role=role,
        apply=apply,
        include_unmanaged=include_unmanaged,
        days=days,
        cpu_threshold=cpu_threshold,
        max_actions=max_actions,
        max_percent=max_percent,
        report_path=report,
        concurrency=concurrency,
    )
    if all_failed:
        raise typer.Exit(1)  # not one account x region could be swept (see the errors above)


@app.command("cost-report")
def cost_report(
    run_id: Annotated[str, typer.Argument(help="the optimization run (the workflow's execution name)")],
    output: Annotated[Path | None, typer.Option("--output", help="also write the full CostReport JSON here")] = None,
    stack_name: StackOption = "AwsAgent",
) -> None:
    """Show a stored CostReport of a deployed agent (scheduled sweeps and OptimizeCosts tasks)."""
    from ..model import CostReport
    from ..registry import CostReportRepository
    from .optimize import summary_table, totals_line
    from .target import Deployment

    deployment = Deployment.from_stack(stack_name)
    table = deployment.outputs.get("CostReportsTableName")
    if not table:
        raise typer.BadParameter("the stack has no CostReportsTableName output (or set AGENT_COST_REPORTS_TABLE)")
    documents = CostReportRepository(deployment.client("dynamodb"), table).parts(run_id, "report")
    if not documents:
        console.print(f"[red]no report for run {run_id}[/] (still running, or an unknown run id)")
        raise typer.Exit(1)
    report = CostReport.model_validate_json(documents[0])
    console.print(summary_table(report))
    console.print(totals_line(report))
    if output is not None:
        output.write_text(documents[0])


from .redrive import redrive_command  # noqa: E402  (a light module: boto3 loads when the command runs)

app.command("redrive")(redrive_command)

from .analyze import analyze_eval_command  # noqa: E402  (light: the analyzers load when the command runs)

app.command("analyze-eval")(analyze_eval_command)
from .health import health_command  # noqa: E402  (a light module: the health library loads when the command runs)

app.command("health")(health_command)


@app.command()
def billing(
    period: Annotated[str, typer.Option(help="month-to-date or last-month")] = "month-to-date",
    refresh: Annotated[bool, typer.Option("--refresh", help="query Cost Explorer even if cached")] = False,
    emit: Annotated[bool, typer.Option("--emit", help="also send BillingReportReady to the agent's bus")] = False,
    cache: Annotated[bool, typer.Option(help="cache in the stack's CostReports table")] = True,
    stack_name: StackOption = "AwsAgent",
) -> None:
    """Consolidated cost by linked account, service and historical agent (Cost Explorer, $0.01 a page, cached)."""
    from .billing import billing_command

    if period not in ("month-to-date", "last-month"):
        raise typer.BadParameter("period is month-to-date or last-month")
    billing_command(console, period, refresh, emit, stack_name, cache)  # type: ignore[arg-type]


def _register_accounts() -> None:
    from .accounts import accounts_app

    app.add_typer(accounts_app, name="accounts")


_register_accounts()
from .approvals import approve_command, autonomy_command, reject_command  # noqa: E402

app.command("approve")(approve_command)
app.command("reject")(reject_command)
app.command("autonomy")(autonomy_command)
