"""The discovery workflow's steps (plan, one target) and the DiscoverResources task, on the per-process runtime."""

from __future__ import annotations

from typing import Any

from ..aws import Target
from ..errors import AgentError, InvalidTaskEvent
from ..model import AwsResourceType, AwsTask
from .directory import cached_directory
from .discovery import discover_target
from .reconcile import Reconciliation, ResourceRecords, emit_drift, reconcile

MAX_ERRORS_REPORTED = 5


def discovery_accounts(rt: Any) -> list[str]:
    """The accounts to discover: the organization's active accounts (the allow-list narrows them when set), else
    the agent's own account and the allowed ones."""
    cfg = rt.settings.config
    own = rt.agent_account_id
    allowed = list(cfg.allowed_accounts)
    if cfg.multi_account.use_organizations:
        directory = cached_directory(rt.client("organizations"), cfg.accounts, own, cfg.multi_account.account_role_tag)
        if directory.source == "organizations":
            active = [a.id for a in directory.active()]
            chosen = [a for a in active if not allowed or a in allowed or a == own]
            return list(dict.fromkeys([own, *sorted(chosen)])) if own in active else sorted(chosen)
    return list(dict.fromkeys([own, *allowed]))


def plan_discovery(rt: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Targets for the Map: every discovered account x every allowed region (or the event's own targets)."""
    run_id = str(event["run_id"])
    given = (event.get("input") or {}).get("targets")
    cfg = rt.settings.config
    if given:
        targets = [{"account_id": str(t["account_id"]), "region": str(t["region"])} for t in given]
        if any(t["region"] not in cfg.allowed_regions for t in targets):
            raise InvalidTaskEvent(f"discovery targets outside the allowed regions {cfg.allowed_regions}")
        return {"run_id": run_id, "targets": targets}
    accounts = discovery_accounts(rt)
    targets = [{"account_id": a, "region": r} for a in accounts for r in cfg.allowed_regions]
    return {"run_id": run_id, "targets": targets, "budgets": ensure_account_budgets(rt, accounts)}


def ensure_account_budgets(rt: Any, accounts: list[str]) -> dict[str, Any]:
    """Billing alerts for every account discovery covers (scheduled runs keep them in place); off without
    subscribers. A failure here is reported in the run, never fatal to discovery."""
    from .budgets import ensure_budgets

    multi = rt.settings.config.multi_account
    if not multi.budget_subscribers:
        return {"skipped": "no multi_account.budget_subscribers configured"}
    try:
        rollout = ensure_budgets(
            rt.client("budgets"),
            rt.agent_account_id,
            accounts,
            limit_usd=multi.budget_limit_usd,
            thresholds=multi.budget_thresholds_percent,
            subscribers=multi.budget_subscribers,
        )
    except AgentError as exc:
        return {"error": f"{exc.code}: {exc}"[:500]}
    return {"created": len(rollout.created), "updated": len(rollout.updated), "unchanged": len(rollout.unchanged)}


def _records(rt: Any) -> ResourceRecords:
    return ResourceRecords(rt.dynamodb, rt.settings.resources_table, rt.settings.agents_table)


def run_target(
    rt: Any, target: Target, run_id: str, types: list[Any] | None = None, *, strict: bool = False
) -> tuple[Reconciliation, Any]:
    """Discover one target, reconcile the table with it and announce the drift."""
    cfg = rt.settings.config
    inventory = discover_target(
        rt.sessions,
        target,
        run_id=run_id,
        max_resources=cfg.multi_account.discovery_max_resources_per_target,
        types=types or cfg.multi_account.discovery_resource_types,
        strict=strict,
    )
    if rt.sessions.is_own(target.account_id):
        _leave_out_own_state(rt, inventory)
    result = reconcile(
        _records(rt), inventory, run_id, announce=lambda drift: emit_drift(rt.events, rt.settings.event_bus, drift)
    )
    return result, inventory


def _leave_out_own_state(rt: Any, inventory: Any) -> None:
    """The agent's own tables are its state, not resources of the organization to record as discovered."""
    own = {value for name, value in vars(rt.settings).items() if name.endswith("_table") and isinstance(value, str)}
    for key in [k for k in inventory.resources if k[0] is AwsResourceType.DYNAMODB_TABLE and k[1] in own]:
        del inventory.resources[key]


def discover_one(rt: Any, event: dict[str, Any]) -> dict[str, Any]:
    """One Map item. A target the agent cannot reach (no member role yet) is reported, not fatal to the run."""
    target = Target(str(event["target"]["account_id"]), str(event["target"]["region"]))
    try:
        result, inventory = run_target(rt, target, str(event["run_id"]))
    except AgentError as exc:
        return {**event["target"], "error": f"{exc.code}: {exc}"[:500]}
    return {
        **event["target"],
        **result.summary(),
        "truncated": inventory.truncated,
        "errors": inventory.errors[:MAX_ERRORS_REPORTED],
    }


def discover_scope(rt: Any, task: AwsTask) -> dict[str, Any]:
    """The DiscoverResources task: the same discovery and reconciliation for the task's account x region (and type)."""
    types = [task.resource_type] if task.resource_type is not None else None
    result, inventory = run_target(rt, Target(task.account_id, task.region), task.id, types, strict=True)
    unmanaged = sum(1 for r in inventory.resources.values() if not r.managed)
    return {
        "operation": "discover",
        "dry_run": False,
        "ready": True,
        "next": "register",
        "discovered": result.found,
        "unmanaged": unmanaged,
        "reconciliation": result.summary(),
        "truncated": inventory.truncated,
        "resources": [],  # reconciliation wrote the records; Register has nothing left to add
    }
