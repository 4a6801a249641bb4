"""Intake: one SQS record (an EventBridge event) → a Pending task record and one state-machine execution."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code, translate
from ..basics import TASK_ID_PATTERN, execution_name
from .runtime import Runtime

_TASK_ID = re.compile(TASK_ID_PATTERN)
MAX_EVENT_BYTES = 200_000  # Step Functions input is capped at 256 KiB; keep room for the pipeline's own state.


def task_id_for(body: str, message_id: str) -> tuple[str, dict[str, Any]]:
    """The task id and the event to hand to the pipeline; malformed bodies still get an id so they fail visibly."""
    try:
        event = json.loads(body)
    except ValueError:
        return f"msg-{message_id}", {"raw": body[:2000], "problem": "message body is not JSON"}
    if not isinstance(event, dict):
        return f"msg-{message_id}", {"raw": body[:2000], "problem": "message body is not a JSON object"}
    if len(body.encode()) > MAX_EVENT_BYTES:
        return f"msg-{message_id}", {"raw": body[:2000], "problem": f"event larger than {MAX_EVENT_BYTES} bytes"}
    detail = event.get("detail")
    candidate = detail.get("task_id") if isinstance(detail, dict) else None
    if isinstance(candidate, str) and _TASK_ID.match(candidate):
        return candidate, event
    event_id = event.get("id")
    if isinstance(event_id, str) and _TASK_ID.match(f"event-{event_id}"):
        return f"event-{event_id}", event
    return f"msg-{message_id}", event


def accept(rt: Runtime, body: str, message_id: str) -> dict[str, Any]:
    """Record the task and start its execution; a duplicate delivery is acknowledged, never run twice."""
    task_id, event = task_id_for(body, message_id)
    is_new = rt.tasks.create_pending(task_id, source="event")
    if not is_new:
        existing = rt.tasks.get(task_id) or {}
        if existing.get("status") not in (None, "Pending"):
            return {"task_id": task_id, "started": False, "duplicate": True}
    try:
        rt.stepfunctions.start_execution(
            stateMachineArn=rt.settings.state_machine_arn,
            name=execution_name(task_id),
            input=json.dumps({"task_id": task_id, "event": event}, separators=(",", ":")),
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return {"task_id": task_id, "started": False, "duplicate": True}
        raise translate(exc, f"start execution for task {task_id}") from exc
    return {"task_id": task_id, "started": True, "duplicate": not is_new}
