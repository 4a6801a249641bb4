"""The HealthCheck task: the health sweep on demand for one resource, an account or a region; findings on the task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import TaskAnalysisError
from ..model import AwsTask
from .sweep import Scope, sweep

if TYPE_CHECKING:
    from ..pipeline.runtime import Runtime

SCOPES = ("resource", "account", "region")
FINDINGS_ON_TASK = 10  # the task record keeps results under 4 KB: the worst findings only, counts for the rest


def scope_of(task: AwsTask) -> Scope:
    """parameters.scope: `resource` (needs resource_id and the task's resource type), `account` (the task's
    account, every region) or `region` (the task's region, every account); default: resource if resource_id is
    given, else account."""
    params = task.parameters
    resource_id = params.get("resource_id")
    kind = params.get("scope") or ("resource" if resource_id else "account")
    if kind not in SCOPES:
        raise TaskAnalysisError(f"HealthCheck scope {str(kind)[:32]!r} is not one of {', '.join(SCOPES)}")
    if kind == "resource":
        if not resource_id or task.resource_type is None:
            raise TaskAnalysisError("a HealthCheck of one resource needs resource_type and parameters.resource_id")
        return Scope(task.account_id, task.region, task.resource_type, str(resource_id))
    if kind == "account":
        return Scope(account_id=task.account_id, resource_type=task.resource_type)
    return Scope(region=task.region, resource_type=task.resource_type)


def run_health_check(rt: Runtime, task: AwsTask) -> dict[str, Any]:
    """Execute's result for a HealthCheck task: done at once (next: complete); a dry run repairs nothing."""
    scope = scope_of(task)
    repair = not task.dry_run and bool(task.parameters.get("repair", True))
    result = sweep(rt, scope, repair=repair)
    worst = sorted(
        result["findings"],
        key=lambda f: (f["covered"], (f.get("direct") or {}).get("healthy") is not False, not f.get("repaired")),
    )
    compact = [
        {k: f[k] for k in ("resource", "covered", "alarms_missing", "repaired", "direct", "error") if f.get(k)}
        for f in worst[:FINDINGS_ON_TASK]
    ]
    return {
        "operation": "health-check",
        "dry_run": task.dry_run,
        "ready": True,
        "next": "complete",
        "scope": {k: v for k, v in vars(scope).items() if v is not None},
        **{k: result[k] for k in ("checked", "covered", "coverage_percent", "alarms_repaired")},
        "findings": compact,
    }
