"""The body of `aws-agent optimize`: targets from the flags, the sweep with a progress bar, summary and report."""

from __future__ import annotations

import gc
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ..model import CostReport


def run_optimize(
    *,
    console: Console,
    accounts_file: Path | None,
    accounts: list[str],
    regions: list[str],
    role: str,
    apply: bool,
    include_unmanaged: bool,
    days: int,
    cpu_threshold: float,
    max_actions: int,
    max_percent: float,
    report_path: Path | None,
    concurrency: int,
) -> tuple[CostReport, bool]:
    """Resolve the targets, run the sweep (progress on stderr), print the summary, write the report.

    Returns the report and whether every target failed (nothing could be swept).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..costs.options import SweepOptions
    from ..costs.sweep import build_report, sweep_targets
    from ..costs.targets import load_accounts_file, session_factory, targets_from_accounts, targets_from_lists

    err = Console(stderr=True)
    if accounts_file is not None and accounts:
        raise typer.BadParameter("give either --accounts FILE or --account ID, not both")
    try:
        options = SweepOptions(
            days=days,
            cpu_threshold=cpu_threshold,
            apply=apply,
            include_unmanaged=include_unmanaged,
            max_actions_per_account=max_actions,
            max_percent_per_account=max_percent,
            concurrency=concurrency,
        )
        if accounts_file is not None:
            entries = load_accounts_file(accounts_file, role)
            targets = targets_from_accounts(entries, regions, [_default_region()])
            sessions = session_factory(entries, role)
        else:
            targets = targets_from_lists(accounts or [None], regions or [_default_region()])
            sessions = session_factory((), role)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    if not targets:
        raise typer.BadParameter("no account x region to sweep")

    if apply:
        err.print(
            f"[bold red]APPLY[/]: idle instances will be stopped (at most {max_actions} per account, "
            f"{max_percent:g} %){'; unmanaged resources included' if include_unmanaged else ''}"
        )
    else:
        err.print(
            Panel(
                "[bold]DRY RUN[/]: nothing will be changed. Findings are reported as recommendations; "
                "pass [bold]--apply[/] to act.",
                style="yellow",
            )
        )
    with Progress(
        TextColumn("[bold]sweeping"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("account x region"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("sweep", total=len(targets))
        results = sweep_targets(targets, options, sessions, progress=lambda _target: progress.advance(task))
    report = build_report(results, options, len(targets))

    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    console.print(summary_table(report))
    console.print(totals_line(report))
    for error in report.errors:
        err.print(f"[red]error[/] {error.account_id or 'own account'} {error.region}: [{error.code}] {error.message}")
    if report_path is not None:
        err.print(f"report written to {report_path}")
    # Everything alive now (boto3's service models above all) lives until the process exits: moving it out of the
    # collector's generations spares the exit-time collections a walk over millions of objects (~0.2 s).
    gc.freeze()
    return report, all(result.failed for result in results)


def _default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def summary_table(report: CostReport) -> Table:
    """One row per action: how many were done, how many only recommended, and the monthly savings of each."""
    done: Counter[str] = Counter()
    proposed: Counter[str] = Counter()
    saved: dict[str, Decimal] = {}
    potential: dict[str, Decimal] = {}
    for finding in report.optimizations:
        done[finding.action] += 1
        saved[finding.action] = saved.get(finding.action, Decimal(0)) + finding.monthly_savings
    for finding in report.recommendations:
        proposed[finding.action] += 1
        potential[finding.action] = potential.get(finding.action, Decimal(0)) + finding.monthly_savings
    title = "Cost optimization (dry run)" if report.dry_run else "Cost optimization"
    table = Table(title=title)
    table.add_column("action")
    for column in ("done", "saved $/month", "recommended", "potential $/month"):
        table.add_column(column, justify="right")
    for action in sorted(set(done) | set(proposed)):
        table.add_row(
            action,
            str(done[action]),
            f"{saved.get(action, Decimal(0)):.2f}",
            str(proposed[action]),
            f"{potential.get(action, Decimal(0)):.2f}",
        )
    table.add_section()
    table.add_row(
        "[bold]total",
        str(len(report.optimizations)),
        f"{report.total_savings:.2f}",
        str(len(report.recommendations)),
        f"{report.potential_savings:.2f}",
    )
    return table


def totals_line(report: CostReport) -> str:
    calls = sum(report.requests.values())
    return (
        f"{report.targets} account x region target(s), {calls} AWS requests; fleet scanned ≈ "
        f"${report.fleet_monthly_cost:.2f}/month; identified savings "
        f"${report.total_savings + report.potential_savings:.2f}/month = {report.savings_percent:.1f} % "
        f"(done ${report.total_savings:.2f}); "
        f"{report.skipped} opted out (MiyabiOptimize=off); {len(report.errors)} error(s)"
    )
