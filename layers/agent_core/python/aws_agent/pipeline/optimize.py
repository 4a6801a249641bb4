"""The cost-optimization workflow's steps: plan the account x region targets, sweep one, fold the report."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ..aws import Target
from ..errors import InvalidTaskEvent
from ..events import AGENT_SOURCE, COST_REPORT_READY, CostReportSummary, FindingSummary
from ..observability import metrics
from ..registry import CostReportRepository
from .runtime import Runtime

TOP_FINDINGS = 20


def _repository(rt: Runtime) -> CostReportRepository:
    if not rt.settings.cost_reports_table:
        raise InvalidTaskEvent("AGENT_COST_REPORTS_TABLE is not configured")
    return CostReportRepository(rt.dynamodb, rt.settings.cost_reports_table)


def plan_targets(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Targets from the event, else every allowed account (the agent's own first) x every allowed region."""
    run_id = str(event["run_id"])
    event = event.get("input") or {}  # the workflow's input: {"scheduled": true} from the rule, or a task's run
    cfg = rt.settings.config
    opt = cfg.optimization
    scheduled = bool(event.get("scheduled"))
    apply = bool(event.get("apply", opt.scheduled_apply if scheduled else False))
    requested = event.get("targets")
    if requested:
        targets = [{"account_id": str(t["account_id"]), "region": str(t["region"])} for t in requested]
        allowed = set(cfg.allowed_accounts) | {rt.agent_account_id}
        outside = sorted({t["account_id"] for t in targets} - allowed)
        if outside or any(t["region"] not in cfg.allowed_regions for t in targets):
            raise InvalidTaskEvent(f"targets outside the allowed accounts/regions: {outside or 'a region'}")
    else:
        accounts = list(dict.fromkeys([rt.agent_account_id, *cfg.allowed_accounts]))
        targets = [{"account_id": a, "region": r} for a in accounts for r in cfg.allowed_regions]
    options = {
        "apply": apply,
        "include_unmanaged": False,  # the deployed agent acts only on what it manages; no opt-in from events
        "days": int(event.get("days", opt.days)),
        "cpu_threshold": float(event.get("cpu_threshold", opt.cpu_threshold)),
        "max_actions_per_account": opt.max_actions_per_account,
        "max_percent_per_account": opt.max_percent_per_account,
    }
    return {"run_id": run_id, "options": options, "targets": targets}


def sweep_target(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """One Map item: sweep one account x region and store its result (the Map's own output stays small)."""
    from ..costs.options import SweepOptions
    from ..costs.sweep import optimize_target

    target = Target(event["target"]["account_id"], event["target"]["region"])
    options = SweepOptions(**event["options"], concurrency=1)
    result = optimize_target(rt.sessions, target, options)
    part = f"target#{target.account_id}#{target.region}"
    _repository(rt).put(str(event["run_id"]), part, result.model_dump_json())
    return {"part": part, "acted": len(result.acted), "findings": len(result.findings), "errors": len(result.errors)}


def fold_report(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Fold the stored target results into the CostReport, store it and emit CostReportReady."""
    from ..costs.options import SweepOptions
    from ..costs.sweep import TargetResult, build_report
    from ..model import CostError

    run_id = str(event["run_id"])
    repo = _repository(rt)
    results = [TargetResult.model_validate_json(doc) for doc in repo.parts(run_id, "target#")]
    done = {(r.account_id, r.region) for r in results}
    for target in event.get("targets", []):
        if (target["account_id"], target["region"]) not in done:  # a Map item that failed without a result
            results.append(
                TargetResult(
                    account_id=target["account_id"],
                    region=target["region"],
                    errors=[CostError(account_id=target["account_id"], region=target["region"],
                                      code="NoResult", message="the sweep of this target left no result")],
                )
            )  # fmt: skip
    options = SweepOptions(**event["options"])
    report = build_report(results, options, len(event.get("targets", [])) or len(results))
    repo.put(run_id, "report", report.model_dump_json(), total_savings=report.total_savings)
    findings = sorted(
        [*report.optimizations, *report.recommendations], key=lambda f: Decimal(f.monthly_savings), reverse=True
    )
    summary = CostReportSummary(
        run_id=run_id,
        dry_run=report.dry_run,
        targets=report.targets,
        total_savings=str(report.total_savings),
        potential_savings=str(report.potential_savings),
        fleet_monthly_cost=str(report.fleet_monthly_cost),
        savings_percent=str(report.savings_percent),
        optimizations=len(report.optimizations),
        recommendations=len(report.recommendations),
        errors=len(report.errors),
        top=[
            FindingSummary(
                resource_id=f.resource_id,
                resource_type=f.resource_type,
                account_id=f.account_id,
                region=f.region,
                action=f.action,
                monthly_savings=str(f.monthly_savings),
            )
            for f in findings[:TOP_FINDINGS]
        ],
        report=f"{rt.settings.cost_reports_table}/{run_id}",
    )
    rt.events.put_events(
        Entries=[
            {
                "Source": AGENT_SOURCE,
                "DetailType": COST_REPORT_READY,
                "Detail": summary.model_dump_json(),
                "EventBusName": rt.settings.event_bus,
            }
        ]
    )
    # USD per month, for the dashboard (infrastructure/health.py): what actions saved and what is left to save.
    metrics.add_metric(name="OptimizationSavings", unit=MetricUnit.NoUnit, value=float(report.total_savings))
    metrics.add_metric(
        name="OptimizationPotentialSavings", unit=MetricUnit.NoUnit, value=float(report.potential_savings)
    )
    return json.loads(summary.model_dump_json(exclude={"top"}))
