"""Human approval: a waiting task's token is stored on its record; approve/reject send it back to Step Functions."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from .aws import error_code, translate
from .basics import TaskStatus, utc_now
from .errors import AgentError, TransientAwsError
from .events import AGENT_SOURCE
from .guardian_events import APPROVAL_REQUESTED, ApprovalRequest, GuardianVerdict
from .model import AwsTask
from .observability import metrics
from .registry import TaskAlreadyFinished

if TYPE_CHECKING:
    from .pipeline.runtime import Runtime
    from .registry import TaskRepository

# The error a rejection sends (SendTaskFailure): the state machine catches it, with States.Timeout, as "cancelled".
REJECTED_ERROR = "ApprovalRejected"
CANCEL_ERRORS = (REJECTED_ERROR, "States.Timeout")
PENDING = "requested"


class ApprovalNotPending(AgentError):
    code = "ApprovalNotPending"


def request_approval(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """The waitForTaskToken step: keep the token on the task and announce ApprovalRequested; the run then waits."""
    task = AwsTask.model_validate(payload["task"])
    guard = payload.get("guard") or {}
    token = str(payload["token"])
    timeout = int((guard.get("approval") or {}).get("timeout_seconds") or 0)
    now = utc_now()
    detail = ApprovalRequest(
        task_id=task.id,
        task_type=task.task_type,
        resource_type=task.resource_type,
        account_id=task.account_id,
        region=task.region,
        parameters=task.parameters,
        assigned_agent=task.assigned_agent,
        reasons=list(guard.get("reasons") or []),
        guardians=[GuardianVerdict.model_validate(g) for g in guard.get("guardians") or [] if g["decision"] != "allow"],
        estimated_daily_cost=str(guard.get("estimated_daily_cost") or "0"),
        requested_by=((payload.get("event") or {}).get("detail") or {}).get("requested_by"),
        timeout_seconds=timeout,
        expires_at=now + timedelta(seconds=timeout),
        requested_at=now,
    )
    # A retried request (new token) overwrites the old one: only the latest token can resume the run.
    record = {
        "status": PENDING,
        "token": token,
        "requested_at": now.isoformat(),
        "expires_at": detail.expires_at.isoformat(),
        "timeout_seconds": timeout,
        "reasons": detail.reasons,
        "estimated_daily_cost": detail.estimated_daily_cost,
    }
    rt.tasks.annotate(task.id, {"approval": record})
    try:
        response = rt.events.put_events(
            Entries=[
                {
                    "Source": AGENT_SOURCE,
                    "DetailType": APPROVAL_REQUESTED,
                    "Detail": detail.model_dump_json(exclude_none=True),
                    "EventBusName": rt.settings.event_bus,
                }
            ]
        )
    except ClientError as exc:
        raise translate(exc, f"announce the approval request of task {task.id}") from exc
    if response.get("FailedEntryCount"):
        raise TransientAwsError(f"put_events failed: {response['Entries'][0].get('ErrorCode')}")
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    return {"requested": True, "expires_at": record["expires_at"]}


def pending_token(tasks: TaskRepository, task_id: str) -> str:
    record = tasks.get(task_id)
    if record is None:
        raise ApprovalNotPending(f"no task {task_id}")
    approval = record.get("approval") or {}
    decided = (record.get("approval_decision") or {}).get("status") in ("approved", "rejected")
    terminal = record.get("status") in {s.value for s in TaskStatus if s.is_terminal}
    if terminal or decided or approval.get("status") != PENDING:
        state = approval.get("status") or "never requested"
        raise ApprovalNotPending(f"task {task_id} is not waiting for approval ({record.get('status')}, {state})")
    return str(approval["token"])


def decide(
    tasks: TaskRepository, stepfunctions: Any, task_id: str, *, approve: bool, by: str, reason: str = ""
) -> dict[str, Any]:
    """Send the human's decision with the stored token; the decision is recorded on the task first."""
    token = pending_token(tasks, task_id)
    decision = {
        "status": "approved" if approve else "rejected",
        "decided_by": by,
        "decided_at": utc_now().isoformat(),
        "reason": reason,
    }
    tasks.annotate(task_id, {"approval_decision": decision})
    try:
        if approve:
            stepfunctions.send_task_success(taskToken=token, output=json.dumps({"approved": True, **decision}))
        else:
            stepfunctions.send_task_failure(
                taskToken=token, error=REJECTED_ERROR, cause=(reason or f"rejected by {by}")[:32_000]
            )
    except ClientError as exc:
        with contextlib.suppress(AgentError, TaskAlreadyFinished):  # the record shows the decision did not land
            tasks.annotate(task_id, {"approval_decision": {**decision, "status": f"not delivered: {error_code(exc)}"}})
        if error_code(exc) in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise ApprovalNotPending(f"task {task_id} no longer waits for approval ({error_code(exc)})") from exc
        raise translate(exc, f"send the decision on task {task_id}") from exc
    return decision
