"""Analysis: validate the event, turn a structured task or a GitHub issue into an AwsTask, record it InProgress.

An issue is read by the rule-based analyzer, or, when `bedrock.enabled` is set in the configuration, by Claude on
Amazon Bedrock checked against the rules (pipeline/free_text.py), which falls back to the rules' reading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..assignment import decision_maker_for
from ..errors import AgentError, InvalidTaskEvent, TaskAnalysisError, UnsupportedOperation
from ..events import ORCHESTRATOR_SOURCE, TASK_REQUESTED, TaskRequest
from ..model import AwsTask, AwsTaskType
from ..registry import encode_task_fields
from ..resources import provider_for
from .runtime import Runtime

if TYPE_CHECKING:
    from ..analysis.rules import Analysis

# Task types the pipeline runs today; the others arrive with their own workflows (cost, audit, health).
PIPELINE_TASK_TYPES = frozenset(
    {
        AwsTaskType.CREATE_RESOURCE,
        AwsTaskType.UPDATE_RESOURCE,
        AwsTaskType.DELETE_RESOURCE,
        AwsTaskType.DISCOVER_RESOURCES,
        AwsTaskType.OPTIMIZE_COSTS,
        AwsTaskType.HEALTH_CHECK,
        AwsTaskType.SECURITY_AUDIT,
        AwsTaskType.ANALYZE_BILLING,
    }
)
# Task types that sweep accounts rather than act on one resource: no provider, the resource type is optional.
SWEEP_TASK_TYPES = frozenset(
    {AwsTaskType.OPTIMIZE_COSTS, AwsTaskType.HEALTH_CHECK, AwsTaskType.SECURITY_AUDIT, AwsTaskType.ANALYZE_BILLING}
)


MAX_FIELD_CHARS = 80


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """A short, human message naming the offending fields (never echoing huge or hostile input back)."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "detail"
        if len(where) > MAX_FIELD_CHARS:  # a field name is input too: an unknown key can be any length
            where = where[:MAX_FIELD_CHARS] + "…"
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


def build_task(
    rt: Runtime, task_id: str, request: TaskRequest, draft: Analysis | None = None
) -> tuple[AwsTask, dict[str, str]]:
    """The AwsTask of a request; `draft` is an issue's reading made elsewhere (the Bedrock analyzer)."""
    from ..accounts.directory import account_names

    accounts = account_names(rt, request)  # Organizations' directory when available, else the configured mapping
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
        found = draft or analyze_issue(request.issue, accounts=accounts)
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
        if resource_type is None:
            raise InvalidTaskEvent(f"task.resource_type is required for {task_type.value}")
        provider_for(resource_type)  # unknown or unsupported types fail here, with the supported list
    if task_type is AwsTaskType.ANALYZE_BILLING:
        from ..accounts.billing import billing_parameters

        billing_parameters(parameters)  # a bad period fails here, before Guard, naming the allowed values
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
    draft: Analysis | None = None
    analyzer_fields: dict[str, Any] = {}
    if request.issue is not None and rt.settings.config.bedrock.enabled:
        from .free_text import read_with_bedrock

        draft, analyzer_fields = read_with_bedrock(rt, task_id, request.issue)
    try:
        task, evidence = build_task(rt, task_id, request, draft)
    except AgentError:
        if analyzer_fields:  # the failure record keeps what the model said and cost
            rt.tasks.annotate(task_id, encode_task_fields(analyzer_fields))
        raise
    fields = task.model_dump(mode="json", exclude={"id", "status", "completed_at"})
    fields["evidence"] = evidence
    fields.update(analyzer_fields)
    if request.issue is not None:
        fields["issue_number"] = request.issue.number
    rt.tasks.start(task_id, encode_task_fields(fields))
    return task.model_dump(mode="json")
