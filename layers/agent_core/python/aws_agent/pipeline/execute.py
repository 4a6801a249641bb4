"""Execution: call the resource's provider for the task's operation, and poll it until AWS says it is ready."""

from __future__ import annotations

from typing import Any

from ..errors import AgentError, ResourceNotFound
from ..model import AwsTask, AwsTaskType, ResourceState
from ..resources import ProviderContext, ResourceOutcome, provider_for
from ..resources.base import TASK_TAG
from .runtime import Runtime

POLL_SECONDS = 10
MAX_POLLS = 60  # ten minutes at 10 s; long-running types get their own deadlines with issue 3
DISCOVERED_IN_STATE = 200  # Step Functions state is capped at 256 KiB


class ResourceTimeout(AgentError):
    code = "Timeout"


def context(rt: Runtime, task: AwsTask) -> ProviderContext:
    return ProviderContext(task=task, sessions=rt.sessions, config=rt.settings.config)


def _after(operation: str, outcome: ResourceOutcome, next_step: str) -> dict[str, Any]:
    return {
        "operation": operation,
        "dry_run": False,
        "resource": outcome.model_dump(mode="json"),
        "ready": outcome.ready,
        "poll_seconds": POLL_SECONDS,
        "polls": 0,
        "next": next_step,
    }


def execute(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    task = AwsTask.model_validate(payload["task"])
    provider = provider_for(task.resource_type)
    ctx = context(rt, task)
    operation = task.task_type
    if task.dry_run:
        plan = provider.plan(ctx)
        return {"operation": operation.value, "dry_run": True, "plan": plan, "ready": True, "next": "complete"}
    if operation is AwsTaskType.CREATE_RESOURCE:
        result = _after("create", provider.create(ctx), "tag")
    elif operation is AwsTaskType.UPDATE_RESOURCE:
        result = _after("update", provider.update(ctx, provider.resource_id(ctx)), "tag")
    elif operation is AwsTaskType.DELETE_RESOURCE:
        result = _after("delete", provider.delete(ctx, provider.resource_id(ctx)), "register")
    else:  # DiscoverResources
        found = provider.discover(ctx)
        managed = [r for r in found if r.managed]
        result = {
            "operation": "discover",
            "dry_run": False,
            "ready": True,
            "next": "register",
            "discovered": len(found),
            "unmanaged": len(found) - len(managed),
            "resources": [r.model_dump(mode="json") for r in managed[:DISCOVERED_IN_STATE]],
            "truncated": len(managed) > DISCOVERED_IN_STATE,
        }
    if "resource" in result:
        rt.tasks.annotate(task.id, {"resource_id": result["resource"]["id"]})
    return result


def check_status(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """One poll of the wait loop; the state machine waits between polls, no Lambda sleeps."""
    task = AwsTask.model_validate(payload["task"])
    execution = dict(payload["execution"])
    polls = int(execution.get("polls", 0)) + 1
    if polls > MAX_POLLS:
        raise ResourceTimeout(
            f"{task.resource_type} {execution['resource']['id']} was not ready after {MAX_POLLS} checks"
        )
    provider = provider_for(task.resource_type)
    resource_id = execution["resource"]["id"]
    try:
        outcome = provider.status(context(rt, task), resource_id)
    except ResourceNotFound:
        if execution["operation"] != "delete":
            raise
        outcome = ResourceOutcome.model_validate(
            {**execution["resource"], "state": ResourceState.TERMINATED, "ready": True}
        )
    if outcome.state is ResourceState.FAILED:
        raise ResourceNotFound(f"{task.resource_type} {resource_id} failed: {outcome.metadata.get('reason', '')}")
    return {**execution, "resource": outcome.model_dump(mode="json"), "ready": outcome.ready, "polls": polls}


def tags_to_apply(ctx: ProviderContext, current: dict[str, str]) -> dict[str, str]:
    """The agent's tags plus the requested ones; a resource keeps the id of the task that created it."""
    tags = ctx.managed_tags()
    if ctx.task.task_type is not AwsTaskType.CREATE_RESOURCE and current.get(TASK_TAG):
        tags[TASK_TAG] = current[TASK_TAG]
    return tags


def tag(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    task = AwsTask.model_validate(payload["task"])
    ctx = context(rt, task)
    resource = ResourceOutcome.model_validate(payload["execution"]["resource"])
    tags = tags_to_apply(ctx, resource.tags)
    provider_for(task.resource_type).tag(ctx, resource.id, tags)
    return {"tags": tags}
