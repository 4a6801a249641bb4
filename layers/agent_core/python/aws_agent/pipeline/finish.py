"""The end of every run: the task's terminal record, then exactly one AwsTaskCompleted or AwsTaskFailed event."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from pydantic import ValidationError

from ..aws import error_code, translate
from ..errors import TransientAwsError, code_for
from ..events import AGENT_SOURCE, TASK_COMPLETED, TASK_FAILED, ErrorInfo, ResourceRef, TaskOutcome
from ..model import AwsTask, TaskStatus
from ..observability import metrics
from ..registry import MAX_TEXT, encode_task_fields, to_item
from .runtime import Runtime

# The step that failed is the first whose result is missing from the state (Catch keeps the input).
_STEP_RESULTS = (("task", "Analyze"), ("guard", "Guard"), ("execution", "Execute"), ("registration", "Register"))
# A finisher that claimed the emission is presumed dead only after this long: longer than the finishers' 60 s Lambda
# timeout (infrastructure/functions.py), so a claim is never taken over from a finisher that may still publish (a
# shorter lease let a slow first attempt and its retry both publish: 2 of 1,000 tasks in the full load run).
EMIT_LEASE_SECONDS = 70.0
# How long a second finisher waits for the first one's event before handing back to the state machine's Retry
# (whose attempts together outlast the lease, so a dead claimer's event is still published).
CLAIM_WAIT_SECONDS = 20.0


def publish(rt: Runtime, outcome: TaskOutcome) -> None:
    detail_type = TASK_COMPLETED if outcome.status is TaskStatus.COMPLETED else TASK_FAILED
    try:
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
    except ClientError as exc:  # throttling that outlived botocore's retries: the state machine retries the step
        raise translate(exc, f"publish the outcome of task {outcome.task_id}") from exc
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise TransientAwsError(f"put_events failed: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")


def _claim_emission(rt: Runtime, task_id: str, token: str) -> bool:
    """The right to publish the outcome: one finisher at a time (two may overlap when a step is retried while its
    first attempt still runs). False once the event is out; a claim older than the lease is taken over."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while True:
        now = time.time()
        try:
            rt.tasks.client.update_item(
                TableName=rt.tasks.table,
                Key=to_item({"task_id": task_id}),
                UpdateExpression="SET emit_claim = :token, emit_claimed_at = :now",
                ConditionExpression="event_emitted = :false AND (attribute_not_exists(emit_claim) "
                "OR emit_claim = :token OR emit_claimed_at < :stale)",
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":now": {"N": repr(now)},
                    ":stale": {"N": repr(now - EMIT_LEASE_SECONDS)},
                    ":false": {"BOOL": False},
                },
            )
            return True
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise translate(exc, f"claim the outcome event of task {task_id}") from exc
        if (rt.tasks.get(task_id) or {}).get("event_emitted") is not False:
            return False  # published by the other finisher
        if time.monotonic() > deadline:
            raise TransientAwsError(f"the outcome event of task {task_id} is being published by another finisher")
        time.sleep(0.2)


def _release_emission(rt: Runtime, task_id: str, token: str) -> None:
    """Give the claim back after a failed publish, so the retry need not wait for the lease."""
    with contextlib.suppress(ClientError):  # if this fails too, the lease expires by itself
        rt.tasks.client.update_item(
            TableName=rt.tasks.table,
            Key=to_item({"task_id": task_id}),
            UpdateExpression="REMOVE emit_claim, emit_claimed_at",
            ConditionExpression="emit_claim = :token",
            ExpressionAttributeValues={":token": {"S": token}},
        )


def _settle(rt: Runtime, outcome: TaskOutcome, fields: dict[str, Any], approval: str | None = None) -> dict[str, Any]:
    """Write the terminal state, then emit; a retry after a crash in between emits once, never twice."""
    token = uuid.uuid4().hex
    if rt.tasks.finish(outcome.task_id, outcome.status, encode_task_fields(fields)) and _claim_emission(
        rt, outcome.task_id, token
    ):
        try:
            publish(rt, outcome)
        except Exception:
            _release_emission(rt, outcome.task_id, token)
            raise
        rt.tasks.mark_emitted(outcome.task_id)
        metrics.add_metric(name=f"Tasks{outcome.status.value}", unit=MetricUnit.Count, value=1)
        if approval:  # the dashboard's approvals graph: decided approvals, counted once per task
            metrics.add_metric(name=approval, unit=MetricUnit.Count, value=1)
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
    return _settle(rt, outcome, {"result": result, "resource_arn": ref.arn if ref else None}, approval_metric(state))


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
    status = TaskStatus.FAILED
    code = code_for(name)
    if failed_state == "Register" and (state.get("execution") or {}).get("ready") is False:
        failed_state = "CheckStatus"  # the wait loop's check failed: the resource failed or missed its deadline
    if failed_state == "Execute" and "approval" not in state and (state.get("guard") or {}).get("approval"):
        failed_state = "Approval"  # RequestApproval itself failed (not a rejection): still a failure
    if state.get("cancelled"):  # the approval wait ended without a yes: Cancelled, not Failed
        status, failed_state = TaskStatus.CANCELLED, "Approval"
        code, message = _cancellation(name, message, state)
    info = ErrorInfo(code=code, message=message, state=failed_state)
    outcome = TaskOutcome(
        task_id=str(state.get("task_id")),
        status=status,
        error=info,
        task_type=task.task_type if task else None,
        resource_type=task.resource_type if task else None,
        account_id=task.account_id if task else None,
        region=task.region if task else None,
        assigned_agent=task.assigned_agent if task else None,
        dry_run=task.dry_run if task else False,
    )
    fields = {"error_code": info.code, "error_message": info.message, "error_state": failed_state, "error_name": name}
    return _settle(rt, outcome, fields, approval_metric(state))


def approval_metric(state: dict[str, Any]) -> str | None:
    """ApprovalsApproved when the run went through the approval wait with a yes, ApprovalsRejected (or timed out)."""
    if state.get("cancelled"):
        return "ApprovalsRejected"
    return "ApprovalsApproved" if state.get("approval") else None


def _cancellation(name: str, message: str, state: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of a task that ended without approval: rejected (with the reviewer's reason) or timed out."""
    if name == "States.Timeout":
        timeout = ((state.get("guard") or {}).get("approval") or {}).get("timeout_seconds")
        return "ApprovalTimedOut", f"nobody approved or rejected the task within {timeout} seconds"
    return "ApprovalRejected", f"rejected: {message}"[:MAX_TEXT]
