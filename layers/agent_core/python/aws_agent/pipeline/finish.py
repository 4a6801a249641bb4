"""The end of every run: the task's terminal record, then exactly one AwsTaskCompleted or AwsTaskFailed event."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from ..errors import TransientAwsError, code_for
from ..events import AGENT_SOURCE, TASK_COMPLETED, TASK_FAILED, ErrorInfo, ResourceRef, TaskOutcome
from ..model import AwsTask, TaskStatus
from ..observability import metrics
from ..registry import MAX_TEXT, encode_task_fields
from .runtime import Runtime

# The step that failed is the first whose result is missing from the state (Catch keeps the input).
_STEP_RESULTS = (("task", "Analyze"), ("guard", "Guard"), ("execution", "Execute"), ("registration", "Register"))


def publish(rt: Runtime, outcome: TaskOutcome) -> None:
    detail_type = TASK_COMPLETED if outcome.status is TaskStatus.COMPLETED else TASK_FAILED
    response = rt.events.put_events(
        Entries=[
            {
                "Source": AGENT_SOURCE,
                "DetailType": detail_type,
                "Detail": outcome.model_dump_json(exclude_none=True),
                "EventBusName": rt.settings.event_bus,
                "Resources": [outcome.resource.arn] if outcome.resource else [],
            }
        ]
    )
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise TransientAwsError(f"put_events failed: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")


def _settle(rt: Runtime, outcome: TaskOutcome, fields: dict[str, Any]) -> dict[str, Any]:
    """Write the terminal state, then emit; a retry after a crash in between emits once, never twice."""
    if rt.tasks.finish(outcome.task_id, outcome.status, encode_task_fields(fields)):
        publish(rt, outcome)
        rt.tasks.mark_emitted(outcome.task_id)
        metrics.add_metric(name=f"Tasks{outcome.status.value}", unit=MetricUnit.Count, value=1)
        return {**outcome.model_dump(mode="json"), "emitted": True}
    return {**outcome.model_dump(mode="json"), "emitted": False}


def _task(state: dict[str, Any]) -> AwsTask | None:
    try:
        return AwsTask.model_validate(state["task"]) if isinstance(state.get("task"), dict) else None
    except ValidationError:
        return None


def complete(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
    task = AwsTask.model_validate(state["task"])
    execution = state.get("execution") or {}
    resource = execution.get("resource")
    ref = None
    if resource and task.resource_type:
        ref = ResourceRef(
            id=resource["id"],
            arn=resource["arn"],
            resource_type=task.resource_type,
            account_id=task.account_id,
            region=task.region,
        )
    result = {k: v for k, v in execution.items() if k not in ("resource", "resources", "poll_seconds", "polls")}
    if resource:
        result["state"] = resource["state"]
    if state.get("registration"):
        result["registered"] = len(state["registration"].get("registered", []))
    outcome = TaskOutcome(
        task_id=task.id,
        status=TaskStatus.COMPLETED,
        task_type=task.task_type,
        resource_type=task.resource_type,
        account_id=task.account_id,
        region=task.region,
        assigned_agent=task.assigned_agent,
        dry_run=task.dry_run,
        resource=ref,
        result=result,
    )
    return _settle(rt, outcome, {"result": result, "resource_arn": ref.arn if ref else None})


def describe_error(error: dict[str, Any]) -> tuple[str, str]:
    """Step Functions' {Error, Cause} → (error name, human message); Lambda causes are JSON with errorMessage."""
    name = str(error.get("Error") or "States.TaskFailed")
    cause = error.get("Cause") or ""
    message = cause
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            message = str(parsed.get("errorMessage") or parsed.get("errorType") or cause)
    except (TypeError, ValueError):
        pass
    return name, (message or name)[:MAX_TEXT]


def fail(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
    task = _task(state)
    name, message = describe_error(state.get("error") or {})
    failed_state = next((step for key, step in _STEP_RESULTS if key not in state), "Complete")
    info = ErrorInfo(code=code_for(name), message=message, state=failed_state)
    outcome = TaskOutcome(
        task_id=str(state.get("task_id")),
        status=TaskStatus.FAILED,
        error=info,
        task_type=task.task_type if task else None,
        resource_type=task.resource_type if task else None,
        account_id=task.account_id if task else None,
        region=task.region if task else None,
        assigned_agent=task.assigned_agent if task else None,
        dry_run=task.dry_run if task else False,
    )
    fields = {"error_code": info.code, "error_message": info.message, "error_state": failed_state, "error_name": name}
    return _settle(rt, outcome, fields)
