"""The dependency graph of managed resources: dependencies Active before a create; dependents before a delete.

A task's `dependencies` name resources of the Resources table, each as a resource key
(`account#region#Type#id`), an ARN, or a bare id (looked up in the task's account, its region first). The
record of the new resource keeps the list as given, so a resource's dependents are the live records whose
`dependencies` hold its key, ARN or id (one query per account on the by-account-type index, never a scan).

- Create: every dependency must exist and be Active, else DependencyViolation naming the missing and the
  not-Active ones; a cycle among the dependencies' own dependencies is a DependencyViolation too.
- Delete: a resource with live dependents is refused (DependencyViolation listing them; nothing is changed)
  unless the task says `cascade=true`. A cascade first checks every dependent (provider known, resource
  managed), then deletes them in reverse topological order (graphlib), each through its own provider, each
  record set to Terminated, and the resource itself last.
- Long deletes: no step waits for minutes. A dependent still deleting leaves the cascade `pending` with
  ready=False; the state machine's wait loop (CheckStatus) calls `advance` again after each wait, which goes
  on where the last call stopped. Every call is idempotent: deletes of resources already deleting are not
  re-issued, and records already Terminated are skipped.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Any

from ..errors import DependencyViolation, ResourceNotFound
from ..model import AwsResourceType, AwsTask, AwsTaskType, ResourceState, resource_key
from ..resources import ProviderContext, ResourceOutcome, ResourceProvider, provider_for
from ..resources._common import opt_bool
from .runtime import Runtime

MAX_NODES = 200  # a graph walk stops here: a task's blast radius is bounded (and so is the Step Functions state)
ACTIVE = ResourceState.ACTIVE.value
TERMINATED = ResourceState.TERMINATED.value


# --- looking records up -------------------------------------------------------------------------------------------


def resolve(rt: Runtime, reference: str, account_id: str, region: str) -> dict[str, Any] | None:
    """The record a dependency reference names, or None. Bare ids prefer the given region and live records."""
    parts = reference.split("#", 3)
    if len(parts) == 4:
        return rt.resources.get(reference)
    if reference.startswith("arn:"):
        owner = reference.split(":")[4] if reference.count(":") >= 5 else ""
        found = rt.resources.find(owner or account_id, field="arn", value=reference)
    else:
        found = rt.resources.find(account_id, field="id", value=reference)
    if not found:
        return None
    live = [r for r in found if r.get("state") != TERMINATED]
    candidates = [r for r in live if r.get("region") == region] or live or found
    if len(candidates) > 1 and not reference.startswith("arn:"):
        keys = ", ".join(sorted(r["resource_key"] for r in candidates))
        raise DependencyViolation(f"dependency {reference!r} is ambiguous ({keys}); name it by its resource key")
    return max(candidates, key=lambda r: str(r.get("updated_at", "")))


def _references(record: dict[str, Any]) -> set[str]:
    return {record["resource_key"], record["id"], record["arn"]}


def _accounts(rt: Runtime, *extra: str) -> list[str]:
    return sorted({rt.agent_account_id, *rt.settings.config.allowed_accounts, *extra})


def _label(record: dict[str, Any]) -> str:
    return f"{record['resource_type']} {record['id']} ({record['account_id']}/{record['region']})"


def _sorted(graph: dict[str, set[str]], labels: dict[str, str]) -> list[str]:
    """Dependencies before dependents; a cycle is a clear error naming its members."""
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1] if len(exc.args) > 1 else []
        path = " -> ".join(labels.get(k, k) for k in cycle)
        raise DependencyViolation(f"the dependency graph has a cycle: {path}") from exc


# --- before create ------------------------------------------------------------------------------------------------


def check_dependencies(rt: Runtime, task: AwsTask) -> None:
    """Every dependency exists and is Active, and the graph above them has no cycle; else DependencyViolation."""
    if not task.dependencies:
        return
    missing: list[str] = []
    inactive: list[str] = []
    records: list[dict[str, Any]] = []
    for reference in task.dependencies:
        record = resolve(rt, reference, task.account_id, task.region)
        if record is None:
            missing.append(reference)
        elif record.get("state") != ACTIVE:
            inactive.append(f"{reference} is {record.get('state')}")
        else:
            records.append(record)
    problems = []
    if missing:
        problems.append(f"missing from the agent's resources: {', '.join(missing)}")
    if inactive:
        problems.append(f"not Active: {'; '.join(inactive)}")
    if problems:
        raise DependencyViolation(
            f"dependencies of task {task.id} are not ready ({'; '.join(problems)}); nothing was created"
        )
    # Walk up: the dependencies' own dependencies. A cycle there means the registry is inconsistent: refuse.
    graph: dict[str, set[str]] = {}
    labels: dict[str, str] = {}
    queue = list(records)
    while queue and len(graph) < MAX_NODES:
        record = queue.pop()
        key = record["resource_key"]
        if key in graph:
            continue
        labels[key] = _label(record)
        graph[key] = set()
        for reference in record.get("dependencies") or []:
            parent = resolve(rt, reference, record["account_id"], record["region"])
            if parent is not None:
                graph[key].add(parent["resource_key"])
                queue.append(parent)
    _sorted(graph, labels)


# --- before delete ------------------------------------------------------------------------------------------------


def _dependents_closure(rt: Runtime, root: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """Every live record that depends on the root, directly or not, and the graph among them (node -> its deps)."""
    nodes: dict[str, dict[str, Any]] = {root["resource_key"]: root}
    graph: dict[str, set[str]] = {root["resource_key"]: set()}
    queue = [root]
    while queue:
        record = queue.pop()
        references = _references(record)
        for account in _accounts(rt, record["account_id"]):
            for dependent in rt.resources.dependents(account, references):
                key = dependent["resource_key"]
                graph.setdefault(key, set()).add(record["resource_key"])
                if key not in nodes:
                    if len(nodes) >= MAX_NODES:
                        raise DependencyViolation(
                            f"{_label(root)} has more than {MAX_NODES} dependents; delete in parts"
                        )
                    nodes[key] = dependent
                    queue.append(dependent)
    return nodes, graph


def _sub_context(rt: Runtime, task: AwsTask, record: dict[str, Any]) -> ProviderContext:
    """A delete of one dependent, on behalf of the cascading task (same task id: same session name and audit)."""
    sub_task = AwsTask(
        id=task.id,
        task_type=AwsTaskType.DELETE_RESOURCE,
        resource_type=AwsResourceType(record["resource_type"]),
        account_id=record["account_id"],
        region=record["region"],
        dependencies=list(record.get("dependencies") or []),
        assigned_agent=task.assigned_agent,
    )
    return ProviderContext(task=sub_task, sessions=rt.sessions, config=rt.settings.config)


def prepare_delete(rt: Runtime, ctx: ProviderContext, resource_id: str) -> dict[str, Any] | None:
    """Before a delete: None when nothing depends on the resource; else refuse, or start the cascade."""
    task = ctx.task
    assert task.resource_type is not None
    key = resource_key(task.account_id, task.region, task.resource_type, resource_id)
    root = rt.resources.get(key)
    if root is None:  # not registered: only AWS knows it, and no record can depend on it
        return None
    nodes, graph = _dependents_closure(rt, root)
    if len(nodes) == 1:
        return None
    labels = {k: _label(r) for k, r in nodes.items()}
    order = [k for k in reversed(_sorted(graph, labels)) if k != key]  # dependents first, the root last
    if opt_bool(task.parameters, "cascade") is not True:
        listed = "; ".join(labels[k] for k in order)
        raise DependencyViolation(
            f"{labels[key]} has {len(order)} dependent(s) that are not Terminated: {listed}. Delete them first or send "
            "the delete with parameter cascade=true; nothing was changed"
        )
    provider = provider_for(task.resource_type)
    root_outcome = provider.status(ctx, resource_id)
    provider.require_managed(root_outcome)
    for dependent in order:  # every check before the first delete: a refusal changes nothing
        record = nodes[dependent]
        sub_provider = provider_for(AwsResourceType(record["resource_type"]))
        try:
            sub_provider.require_managed(sub_provider.status(_sub_context(rt, task, record), record["id"]))
        except ResourceNotFound:
            continue  # already gone from AWS: its record is set to Terminated by the cascade
    from .execute import POLL_SECONDS

    execution = {
        "operation": "delete",
        "dry_run": False,
        "resource": root_outcome.model_dump(mode="json"),
        "ready": False,
        "poll_seconds": POLL_SECONDS,
        "polls": 0,
        "next": "register",
        "cascade": {"pending": True, "order": order, "deleted": []},
    }
    return advance(rt, task, execution)


def advance(rt: Runtime, task: AwsTask, execution: dict[str, Any]) -> dict[str, Any]:
    """One step of a cascade: delete dependents in order while they go at once; the root when all are gone."""
    cascade = dict(execution["cascade"])
    deleted = list(cascade["deleted"])
    for key in cascade["order"]:
        if key in deleted:
            continue
        record = rt.resources.get(key)
        if record is None or record.get("state") == TERMINATED:
            deleted.append(key)
            continue
        if not _delete_dependent(rt, task, record):
            return {**execution, "ready": False, "cascade": {**cascade, "deleted": deleted}}
        deleted.append(key)
    ctx = ProviderContext(task=task, sessions=rt.sessions, config=rt.settings.config)
    root = ResourceOutcome.model_validate(execution["resource"])
    outcome = provider_for(task.resource_type).delete(ctx, root.id)
    return {
        **execution,
        "resource": outcome.model_dump(mode="json"),
        "ready": outcome.ready,
        "cascade": {**cascade, "pending": False, "deleted": deleted},
    }


def _delete_dependent(rt: Runtime, task: AwsTask, record: dict[str, Any]) -> bool:
    """Delete one dependent (or see that it is gone); True once it is, with its record set to Terminated."""
    from .register import record as save_record

    ctx = _sub_context(rt, task, record)
    provider: ResourceProvider = provider_for(ctx.task.resource_type)
    last = ResourceOutcome(
        id=record["id"],
        arn=record["arn"],
        state=ResourceState.DELETING,
        tags=record.get("tags") or {},
        metadata=record.get("metadata") or {},
    )
    outcome = _status(provider, ctx, record["id"])
    if outcome is not None and outcome.state not in (ResourceState.DELETING, ResourceState.TERMINATED):
        try:
            outcome = provider.delete(ctx, record["id"])
        except ResourceNotFound:  # gone between the look and the delete
            outcome = last.model_copy(update={"state": ResourceState.TERMINATED})
        if outcome.state is not ResourceState.TERMINATED:
            outcome = _status(provider, ctx, record["id"])  # many deletes are over at once: look before waiting
    if outcome is None or outcome.state is ResourceState.TERMINATED:
        gone = (outcome or last).model_copy(update={"state": ResourceState.TERMINATED, "ready": True})
        save_record(rt, ctx.task, gone)
        return True
    save_record(rt, ctx.task, outcome.model_copy(update={"state": ResourceState.DELETING}))
    return False


def _status(provider: ResourceProvider, ctx: ProviderContext, resource_id: str) -> ResourceOutcome | None:
    try:
        return provider.status(ctx, resource_id)
    except ResourceNotFound:
        return None
