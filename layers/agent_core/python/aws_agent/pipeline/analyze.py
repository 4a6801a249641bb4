"""Analysis: validate the event, turn a structured task or a GitHub issue into an AwsTask, record it InProgress."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..assignment import decision_maker_for
from ..errors import InvalidTaskEvent, TaskAnalysisError, UnsupportedOperation
from ..events import ORCHESTRATOR_SOURCE, TASK_REQUESTED, TaskRequest
from ..model import AwsTask, AwsTaskType
from ..registry import encode_task_fields
from ..resources import provider_for
from .runtime import Runtime

# Task types the pipeline runs today; the others arrive with their own workflows (cost, audit, health).
PIPELINE_TASK_TYPES = frozenset(
    {
        AwsTaskType.CREATE_RESOURCE,
        AwsTaskType.UPDATE_RESOURCE,
        AwsTaskType.DELETE_RESOURCE,
        AwsTaskType.DISCOVER_RESOURCES,
        AwsTaskType.OPTIMIZE_COSTS,
        AwsTaskType.SECURITY_AUDIT,
    }
)
# Task types that sweep accounts rather than act on one resource: no provider, the resource type is optional.
SWEEP_TASK_TYPES = frozenset({AwsTaskType.OPTIMIZE_COSTS, AwsTaskType.SECURITY_AUDIT})


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """A short, human message naming the offending fields (never echoing huge or hostile input back)."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "detail"
        if err["type"] == "enum":  # pydantic lists every allowed value: name the bad one instead
            expected = err.get("ctx", {}).get("expected", "")
            parts.append(f"{where}: unknown value {str(err['input'])[:64]!r} (expected {expected[:160]}…)")
        else:
            parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_request(event: dict[str, Any]) -> TaskRequest:
    if "raw" in event and "detail" not in event:
        raise InvalidTaskEvent(f"malformed event: {event.get('problem', 'not an EventBridge event')}")
    if event.get("source") != ORCHESTRATOR_SOURCE or event.get("detail-type") != TASK_REQUESTED:
        raise InvalidTaskEvent(
            f"expected source {ORCHESTRATOR_SOURCE!r} and detail-type {TASK_REQUESTED!r}, got "
            f"{str(event.get('source'))[:64]!r} / {str(event.get('detail-type'))[:64]!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidTaskEvent("event detail must be a JSON object")
    try:
        return TaskRequest.model_validate(detail)
    except ValidationError as exc:
        raise InvalidTaskEvent(f"invalid AwsTaskRequested detail: {describe_validation_error(exc)}") from exc


def build_task(rt: Runtime, task_id: str, request: TaskRequest) -> tuple[AwsTask, dict[str, str]]:
    accounts = rt.settings.config.accounts
    evidence: dict[str, str] = {}
    if request.task is not None:
        spec = request.task
        task_type, resource_type, parameters = spec.task_type, spec.resource_type, dict(spec.parameters)
        account_id, account_name, region = spec.account_id, spec.account_name, spec.region
        dependencies = list(spec.dependencies)
        evidence["source"] = "structured"
    else:
        from ..analysis.rules import analyze_issue

        assert request.issue is not None
        found = analyze_issue(request.issue, accounts=accounts)
        task_type, resource_type, parameters = found.task_type, found.resource_type, dict(found.parameters)
        account_id, account_name, region = found.account_id, found.account_name, found.region
        dependencies = []
        evidence = {"source": f"issue #{request.issue.number}", **found.evidence}
    if account_id is None and account_name is not None:
        lookup = {name.lower(): acct for name, acct in accounts.items()}
        account_id = lookup.get(account_name.lower())
        if account_id is None:
            known = ", ".join(sorted(accounts)) or "none configured"
            raise TaskAnalysisError(f"unknown account {account_name!r}; known accounts: {known}")
    if task_type not in PIPELINE_TASK_TYPES:
        raise UnsupportedOperation(
            f"task type {task_type.value} is not run by the task pipeline in this version; supported: "
            + ", ".join(sorted(t.value for t in PIPELINE_TASK_TYPES))
        )
    if task_type not in SWEEP_TASK_TYPES:
        provider_for(resource_type)  # unknown or unsupported types fail here, with the supported list
    try:
        task = AwsTask(
            id=task_id,
            task_type=task_type,
            resource_type=resource_type,
            account_id=account_id or rt.agent_account_id,
            region=region or rt.settings.region,
            parameters=parameters,
            dependencies=dependencies,
            assigned_agent=decision_maker_for(resource_type) if resource_type else None,
            dry_run=request.dry_run,
        )
    except ValidationError as exc:
        raise InvalidTaskEvent(f"invalid task: {describe_validation_error(exc)}") from exc
    return task, evidence


def analyze(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
    task_id = str(state["task_id"])
    request = parse_request(state.get("event") or {})
    task, evidence = build_task(rt, task_id, request)
    fields = task.model_dump(mode="json", exclude={"id", "status", "completed_at"})
    fields["evidence"] = evidence
    if request.issue is not None:
        fields["issue_number"] = request.issue.number
    rt.tasks.start(task_id, encode_task_fields(fields))
    return task.model_dump(mode="json")
