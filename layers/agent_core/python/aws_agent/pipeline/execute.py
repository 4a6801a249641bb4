"""Execution: call the resource's provider for the task's operation, and poll it until AWS says it is ready."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code, translate
from ..basics import execution_name
from ..errors import AgentError, AwsCallFailed, ResourceNotFound, UnsupportedOperation
from ..model import AwsTask, AwsTaskType, ResourceState
from ..resources import ProviderContext, ResourceOutcome, ResourceProvider, provider_for
from ..resources.base import TASK_TAG
from .dependencies import advance, check_dependencies, prepare_delete
from .runtime import Runtime

POLL_SECONDS = 10
MAX_CASCADE_POLLS = 720  # two hours at POLL_SECONDS, inside the state machine's three-hour timeout
MAX_POLLS = 60  # the optimization workflow's wait: ten minutes at 10 s; resources use their provider's deadline


class ResourceTimeout(AgentError):
    code = "Timeout"


def context(rt: Runtime, task: AwsTask) -> ProviderContext:
    return ProviderContext(task=task, sessions=rt.sessions, config=rt.settings.config)


def max_polls(provider: ResourceProvider) -> int:
    """How many status checks the wait loop makes before the provider's deadline has passed."""
    return max(1, -(-provider.deadline_seconds // provider.poll_seconds))


def _after(provider: ResourceProvider, operation: str, outcome: ResourceOutcome, next_step: str) -> dict[str, Any]:
    return {
        "operation": operation,
        "dry_run": False,
        "resource": outcome.model_dump(mode="json"),
        # Failed at once: the wait loop's status check (which may write resource records) records it and fails.
        "ready": outcome.ready and outcome.state is not ResourceState.FAILED,
        "poll_seconds": provider.poll_seconds,
        "polls": 0,
        "next": next_step,
    }


def start_optimization(rt: Runtime, task: AwsTask) -> dict[str, Any]:
    """OptimizeCosts: run the optimization workflow for this task; the wait loop follows it to its end."""
    arn = rt.settings.optimization_state_machine_arn
    if not arn:
        raise UnsupportedOperation("OptimizeCosts needs AGENT_OPTIMIZATION_STATE_MACHINE_ARN (the stack sets it)")
    params = task.parameters
    run = {
        "apply": not task.dry_run and bool(params.get("apply", False)),  # a task acts only when it says so
        "targets": params.get("targets") or [{"account_id": task.account_id, "region": task.region}],
        **{k: params[k] for k in ("days", "cpu_threshold") if k in params},
    }
    name = execution_name(task.id)
    try:
        started = rt.stepfunctions.start_execution(stateMachineArn=arn, name=name, input=json.dumps(run))
        execution_arn = started["executionArn"]
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise translate(exc, "start the optimization workflow") from exc
        execution_arn = arn.replace(":stateMachine:", ":execution:") + f":{name}"
    return {
        "operation": "optimize",
        "dry_run": not run["apply"],
        "execution_arn": execution_arn,
        "ready": False,
        "poll_seconds": POLL_SECONDS,
        "polls": 0,
        "next": "complete",
    }


def optimization_status(rt: Runtime, execution: dict[str, Any]) -> dict[str, Any]:
    described = rt.stepfunctions.describe_execution(executionArn=execution["execution_arn"])
    status = described["status"]
    if status == "RUNNING":
        return execution
    if status != "SUCCEEDED":
        raise AwsCallFailed(f"the optimization workflow ended {status}: {described.get('cause', '')[:500]}")
    return {**execution, "ready": True, "report": json.loads(described.get("output") or "{}").get("report", {})}


def execute(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    task = AwsTask.model_validate(payload["task"])
    if task.task_type is AwsTaskType.OPTIMIZE_COSTS:
        return start_optimization(rt, task)
    if task.task_type is AwsTaskType.HEALTH_CHECK:
        from ..health.check import run_health_check  # lazily: a resource task's cold start does not pay for it

        return run_health_check(rt, task)
    if task.task_type is AwsTaskType.SECURITY_AUDIT:
        from ..guardians.audit import security_audit  # Cerberus' read-only checks over the task's account x region

        return security_audit(rt, task)
    if task.task_type is AwsTaskType.ANALYZE_BILLING:
        from ..accounts.billing import billing_task  # consolidated billing: Cost Explorer, cached, read-only

        return billing_task(rt, task)
    provider = provider_for(task.resource_type)
    ctx = context(rt, task)
    operation = task.task_type
    if task.dry_run:
        plan = provider.plan(ctx)
        return {"operation": operation.value, "dry_run": True, "plan": plan, "ready": True, "next": "complete"}
    if operation is AwsTaskType.CREATE_RESOURCE:
        check_dependencies(rt, task)  # dependency graph (issue 3): every dependency exists and is Active
        result = _after(provider, "create", provider.create(ctx), "tag")
    elif operation is AwsTaskType.UPDATE_RESOURCE:
        result = _after(provider, "update", provider.update(ctx, provider.resource_id(ctx)), "tag")
    elif operation is AwsTaskType.DELETE_RESOURCE:
        cascade = prepare_delete(rt, ctx, provider.resource_id(ctx))  # refuses while dependents exist, or cascades
        result = cascade or _after(provider, "delete", provider.delete(ctx, provider.resource_id(ctx)), "register")
    else:  # DiscoverResources: discovery and reconciliation of the task's scope (aws_agent.accounts)
        from ..accounts.workflow import discover_scope

        result = discover_scope(rt, task)
    if "resource" in result:
        rt.tasks.annotate(task.id, {"resource_id": result["resource"]["id"]})
    return result


def check_status(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """One poll of the wait loop; the state machine waits between polls, no Lambda sleeps."""
    task = AwsTask.model_validate(payload["task"])
    execution = dict(payload["execution"])
    polls = int(execution.get("polls", 0)) + 1
    if "execution_arn" in execution:
        if polls > MAX_POLLS:
            raise ResourceTimeout(
                f"{task.task_type.value} on {execution['execution_arn']} was not done after {MAX_POLLS} checks"
            )
        return {**optimization_status(rt, execution), "polls": polls}
    if execution.get("cascade", {}).get("pending"):  # a cascade delete goes on where it stopped (dependencies.py)
        if polls > MAX_CASCADE_POLLS:
            raise ResourceTimeout(f"cascade delete of {task.id} was not done after {MAX_CASCADE_POLLS} checks")
        return {**advance(rt, task, execution), "polls": polls}
    provider = provider_for(task.resource_type)
    previous = ResourceOutcome.model_validate(execution["resource"])
    resource_id = previous.id
    if polls > max_polls(provider):
        # Still in progress at AWS: record what was last seen, with why the agent stopped waiting.
        reason = f"not done after the {provider.deadline_seconds} s deadline of {task.resource_type}"
        _record(rt, task, previous.model_copy(update={"metadata": {**previous.metadata, "reason": reason}}))
        raise ResourceTimeout(f"{task.task_type.value} on {resource_id} was {reason} ({polls - 1} checks)")
    ctx = context(rt, task)
    ctx.previous = previous
    try:
        outcome = provider.status(ctx, resource_id)
    except ResourceNotFound:
        if execution["operation"] != "delete":
            raise
        outcome = ResourceOutcome.model_validate(
            {**execution["resource"], "state": ResourceState.TERMINATED, "ready": True}
        )
    if outcome.state is ResourceState.FAILED:
        _record_failure(rt, task, outcome)
    if not outcome.ready and polls == 1:
        # Still in progress at the first check: the record shows Creating/Updating/Deleting until Register.
        _record(rt, task, outcome)
    return {**execution, "resource": outcome.model_dump(mode="json"), "ready": outcome.ready, "polls": polls}


def _record(rt: Runtime, task: AwsTask, outcome: ResourceOutcome) -> None:
    from .register import record  # register imports this module

    record(rt, task, outcome)


def _record_failure(rt: Runtime, task: AwsTask, outcome: ResourceOutcome) -> None:
    """A resource AWS reports failed: its record says Failed with AWS's reason, then the task fails with it."""
    _record(rt, task, outcome)
    reason = outcome.metadata.get("reason") or "no reason given"
    raise AwsCallFailed(f"{task.resource_type} {outcome.id} failed: {reason}")


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
