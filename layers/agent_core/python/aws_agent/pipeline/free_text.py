"""The Analyze step's Bedrock path: decide with the model and the rules, record it, and end the task here if needed.

A rejected request (injection, out of scope) ends `Failed` with code `RequestRejected` and one AwsTaskFailed
event; a request that needs clarification ends `Cancelled` with code `ClarificationRequested` and one
`ClarificationRequested` event. Both are written and emitted here, with the same terminal-write-then-claim
protocol as the finishers, and the step then raises so the state machine stops: its RecordFailure finds the
task already terminal and emits nothing more (exactly one event per task).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ..analysis.bedrock import bedrock_client
from ..analysis.decide import Decision, decide
from ..analysis.rules import Analysis
from ..aws import translate
from ..errors import AgentError, TaskAnalysisError, TransientAwsError
from ..events import (
    AGENT_SOURCE,
    CLARIFICATION_REQUESTED,
    AnalyzerReading,
    ClarificationRequest,
    ErrorInfo,
    IssueRef,
    TaskOutcome,
)
from ..model import TaskStatus
from ..observability import logger, metrics
from ..registry import encode_task_fields
from .finish import _claim_emission, _release_emission, publish
from .runtime import Runtime

STATE = "Analyze"
_OUTCOME_METRICS = {
    "model": "BedrockTasks",
    "fallback": "BedrockFallbacks",
    "clarify": "BedrockClarifications",
    "reject": "BedrockRejections",
    "refuse": "BedrockRefusals",
}


class RequestRejected(AgentError):
    """The request tried to steer the analyzer or asked for more than one task can do."""

    code = "RequestRejected"


class ClarificationNeeded(AgentError):
    """The analyzers could not agree on the task (or the model was unsure): a human answers first."""

    code = "ClarificationRequested"


def record_fields(decision: Decision, model_id: str) -> dict[str, Any]:
    """What the task record keeps about the Bedrock analysis (flat fields, DynamoDB-safe numbers)."""
    fields: dict[str, Any] = {
        "analyzer": "bedrock" if decision.outcome == "model" else "rules",
        "analyzer_outcome": decision.outcome,
        "bedrock_model_id": model_id,
    }
    if decision.outcome == "fallback":
        fields["analyzer_fallback"] = decision.reason
        fields["analyzer_fallback_kind"] = decision.failure_kind
    if decision.usage is not None:
        fields.update(
            bedrock_input_tokens=decision.usage.input_tokens,
            bedrock_output_tokens=decision.usage.output_tokens,
            bedrock_latency_ms=decision.usage.latency_ms,
            bedrock_wall_ms=decision.usage.wall_ms,
        )
    if decision.proposal is not None:
        fields["bedrock_confidence"] = Decimal(f"{decision.proposal.confidence:.3f}")
    if decision.rules_error is not None:
        fields["rules_error"] = decision.rules_error[:1000]
    if decision.dropped_parameters:
        fields["dropped_parameters"] = decision.dropped_parameters
    return fields


def _add_metrics(decision: Decision) -> None:
    metrics.add_metric(name=_OUTCOME_METRICS[decision.outcome], unit=MetricUnit.Count, value=1)
    if decision.usage is not None and (decision.usage.input_tokens or decision.usage.output_tokens):
        metrics.add_metric(name="BedrockInputTokens", unit=MetricUnit.Count, value=decision.usage.input_tokens)
        metrics.add_metric(name="BedrockOutputTokens", unit=MetricUnit.Count, value=decision.usage.output_tokens)
    if decision.usage is not None:  # a call was made (the injection check may refuse before any)
        metrics.add_metric(name="BedrockLatency", unit=MetricUnit.Milliseconds, value=decision.usage.wall_ms)


def _put(rt: Runtime, detail_type: str, detail: str) -> None:
    entry = {"Source": AGENT_SOURCE, "DetailType": detail_type, "Detail": detail, "EventBusName": rt.settings.event_bus}
    try:
        response = rt.events.put_events(Entries=[entry])
    except ClientError as exc:
        raise translate(exc, f"publish {detail_type}") from exc
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise TransientAwsError(f"put_events failed: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")


def _end_here(rt: Runtime, task_id: str, status: TaskStatus, fields: dict[str, Any], emit: Any) -> None:
    """Terminal record first, then the one event under the emission claim (as the finishers do)."""
    token = uuid.uuid4().hex
    if rt.tasks.finish(task_id, status, encode_task_fields(fields)) and _claim_emission(rt, task_id, token):
        try:
            emit()
        except Exception:
            _release_emission(rt, task_id, token)
            raise
        rt.tasks.mark_emitted(task_id)
        metrics.add_metric(name=f"Tasks{status.value}", unit=MetricUnit.Count, value=1)


def _reading(analysis: Analysis | None, error: str | None, confidence: float | None = None) -> AnalyzerReading:
    return AnalyzerReading(
        task_type=analysis.task_type if analysis else None,
        resource_type=analysis.resource_type if analysis else None,
        confidence=confidence,
        error=error[:500] if error else None,
    )


def _reject(rt: Runtime, task_id: str, decision: Decision, fields: dict[str, Any]) -> RequestRejected:
    message = f"request rejected: {decision.reason}"
    info = ErrorInfo(code=RequestRejected.code, message=message, state=STATE)
    outcome = TaskOutcome(task_id=task_id, status=TaskStatus.FAILED, error=info)
    fields = {**fields, "error_code": info.code, "error_message": message, "error_state": STATE}
    fields["error_name"] = RequestRejected.__name__
    _end_here(rt, task_id, TaskStatus.FAILED, fields, lambda: publish(rt, outcome))
    return RequestRejected(message)


def _clarify(
    rt: Runtime, task_id: str, issue: IssueRef, decision: Decision, fields: dict[str, Any]
) -> ClarificationNeeded:
    proposal = decision.proposal
    assert proposal is not None and decision.clarify_kind is not None
    message = f"clarification requested: {decision.reason}"
    detail = ClarificationRequest(
        task_id=task_id,
        issue_number=issue.number,
        issue_url=issue.url,
        reason=decision.clarify_kind,
        message=message,
        questions=decision.questions,
        model=AnalyzerReading(
            task_type=proposal.task_type, resource_type=proposal.resource_type, confidence=proposal.confidence
        ),
        rules=_reading(decision.rules, decision.rules_error),
    )
    fields = {**fields, "error_code": ClarificationNeeded.code, "error_message": message, "error_state": STATE}
    fields["clarification_questions"] = decision.questions
    _end_here(
        rt,
        task_id,
        TaskStatus.CANCELLED,
        fields,
        lambda: _put(rt, CLARIFICATION_REQUESTED, detail.model_dump_json(exclude_none=True)),
    )
    return ClarificationNeeded(message)


def read_with_bedrock(rt: Runtime, task_id: str, issue: IssueRef) -> tuple[Analysis, dict[str, Any]]:
    """The task draft the Bedrock analyzer decided on and the facts to record, or the task ends here (raises)."""
    config = rt.settings.config.bedrock
    accounts = dict(rt.settings.config.accounts)
    client = bedrock_client(config, rt.settings.region)
    decision = decide(issue, accounts, client, config)
    fields = record_fields(decision, config.model_id)
    _add_metrics(decision)
    logger.info(
        "bedrock analysis",
        extra={"outcome": decision.outcome, "reason": decision.reason, **{k: str(v) for k, v in fields.items()}},
    )
    if decision.outcome == "reject":
        raise _reject(rt, task_id, decision, fields)
    if decision.outcome == "clarify":
        raise _clarify(rt, task_id, issue, decision, fields)
    if decision.outcome == "refuse" or decision.analysis is None:
        rt.tasks.annotate(task_id, encode_task_fields(fields))
        message = decision.rules_error or "the issue could not be analyzed"
        if decision.outcome == "fallback":
            message += f" (Bedrock fell back to the rules: {decision.reason})"
        raise TaskAnalysisError(message)
    return decision.analysis, fields
