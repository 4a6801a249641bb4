"""The Bedrock analyzer's decision: the model's reading checked against the text and the rules, never trusted.

Outcomes, in the order they are decided (README "Free-text tasks with Claude on Amazon Bedrock"):

1. `reject`   - the text trips the deterministic injection check (the model is not even called), the model says the
                text carries instructions for it, or the model asks for more than the text does: a destructive
                operation the text never names, or an account the text never names.
2. `fallback` - no usable answer (timeout, throttling, model/service error, no tool call, a schema violation):
                the rule-based reading is used, and the reason is recorded.
3. `clarify`  - the model's confidence is below the threshold, the model and the rules read a different
                operation, resource type or action, the rules found the text ambiguous, or the model picked a
                region the text does not write.
4. `refuse`   - the rules refused the text for a reason the model cannot overrule (an invalid name or size, an
                unknown or conflicting account): the task fails with the rules' message, as without Bedrock.
5. `model`    - otherwise the model's task, with only the parameters whose values the text contains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import BedrockConfig
from ..errors import TaskAnalysisError
from ..events import IssueRef
from ..model import AwsTaskType
from . import vocabulary as V
from .bedrock import ModelCallFailed, ModelReading, Usage, read_issue
from .injection import find_injection, grounded, names_operation
from .prompt import ModelProposal
from .rules import Analysis, analyze_issue

Outcome = Literal["model", "fallback", "clarify", "reject", "refuse"]
DESTRUCTIVE_ACTIONS = frozenset({"stop", "terminate", "reboot"})
# Rule refusals that only mean "found nothing": the model may read what the rules could not.
_RULES_FOUND_NOTHING = ("no operation recognised", "no resource type recognised")


@dataclass
class Decision:
    """What the Bedrock analyzer decided, with everything the task record keeps about it."""

    outcome: Outcome
    analysis: Analysis | None = None
    reason: str | None = None
    reading: ModelReading | None = None
    usage: Usage | None = None
    failure_kind: str | None = None  # timeout / throttled / model-error / invalid-output / schema-violation
    rules: Analysis | None = None
    rules_error: str | None = None
    clarify_kind: Literal["low-confidence", "disagreement"] | None = None
    questions: list[str] = field(default_factory=list)
    dropped_parameters: list[str] = field(default_factory=list)

    @property
    def proposal(self) -> ModelProposal | None:
        return self.reading.proposal if self.reading else None


def _rules(issue: IssueRef, accounts: dict[str, str]) -> tuple[Analysis | None, str | None]:
    try:
        return analyze_issue(issue, accounts=accounts), None
    except TaskAnalysisError as exc:
        return None, exc.message


def _destructive(proposal: ModelProposal) -> bool:
    action = str(proposal.parameters.get("action") or "").lower()
    return proposal.task_type is AwsTaskType.DELETE_RESOURCE or action in DESTRUCTIVE_ACTIONS


def _out_of_scope(issue: IssueRef, proposal: ModelProposal, accounts: dict[str, str]) -> str | None:
    """What the model asks for beyond the text: a destructive operation or an account it never names."""
    action = str(proposal.parameters.get("action") or "").lower() or None
    if _destructive(proposal) and not names_operation(issue, proposal.task_type, action):
        what = f"{proposal.task_type.value}" + (f" ({action})" if action else "")
        return f"the model asked for {what}, which the request never names"
    named = proposal.account_name
    if named is not None and not grounded(issue, named):
        return f"the model targets account {named!r}, which the request never names"
    # An id is in scope when written, or when it is the directory's id of the account the text names.
    directory = {name.lower(): account for name, account in accounts.items()}
    via_name = directory.get(named.lower()) if named else None
    if proposal.account_id is not None and proposal.account_id != via_name and not grounded(issue, proposal.account_id):
        return f"the model targets account {proposal.account_id!r}, which the request never names"
    return None


def _region_grounded(issue: IssueRef, region: str, rules: Analysis | None) -> bool:
    if rules is not None and rules.region == region:
        return True
    nicknames = [name for name, code in V.REGION_NICKNAMES.items() if code == region]
    return any(grounded(issue, name) for name in [region, *nicknames])


def _disagreement(proposal: ModelProposal, rules: Analysis) -> list[str]:
    questions = []
    if proposal.task_type is not rules.task_type:
        questions.append(
            f"Which operation is meant: {proposal.task_type.value} (model) or {rules.task_type.value} (rules)?"
        )
    if proposal.resource_type is not rules.resource_type:
        model_type = proposal.resource_type.value if proposal.resource_type else "none"
        rules_type = rules.resource_type.value if rules.resource_type else "none"
        questions.append(f"Which resource type is meant: {model_type} (model) or {rules_type} (rules)?")
    model_action, rules_action = proposal.parameters.get("action"), rules.parameters.get("action")
    if model_action and rules_action and str(model_action).lower() != str(rules_action).lower():
        questions.append(f"Which action is meant: {model_action} (model) or {rules_action} (rules)?")
    return questions


def _parameters(issue: IssueRef, proposal: ModelProposal, rules: Analysis | None) -> tuple[dict[str, Any], list[str]]:
    """The rules' parameters, overlaid with the model's where the text contains the value (or the rules agree)."""
    merged: dict[str, Any] = dict(rules.parameters) if rules else {}
    dropped = []
    for key, value in proposal.parameters.items():
        if (rules is not None and rules.parameters.get(key) == value) or grounded(issue, value):
            merged[key] = value
        else:
            dropped.append(key)
    return merged, sorted(dropped)


def decide(issue: IssueRef, accounts: dict[str, str], client: Any, config: BedrockConfig) -> Decision:
    """Read the issue with the model and the rules, and decide which task (if any) runs."""
    injection = find_injection(issue)
    if injection is not None:
        return Decision("reject", reason=injection)
    rules, rules_error = _rules(issue, accounts)
    try:
        reading = read_issue(client, config, issue, accounts)
    except ModelCallFailed as failure:
        return Decision(
            "fallback",
            analysis=rules,
            reason=str(failure),
            usage=failure.usage,
            failure_kind=failure.kind,
            rules=rules,
            rules_error=rules_error,
        )
    proposal = reading.proposal
    base = Decision("model", reading=reading, usage=reading.usage, rules=rules, rules_error=rules_error)
    if proposal.instructions_in_request:
        base.outcome = "reject"
        base.reason = "the model found instructions addressed to the agent in the request" + (
            f": {proposal.summary[:200]}" if proposal.summary else ""
        )
        return base
    scope = _out_of_scope(issue, proposal, accounts)
    if scope is not None:
        base.outcome, base.reason = "reject", scope
        return base
    questions: list[str] = []
    kind: Literal["low-confidence", "disagreement"] | None = None
    if rules is not None:
        questions = _disagreement(proposal, rules)
        kind = "disagreement" if questions else None
    elif rules_error is not None and not rules_error.startswith(_RULES_FOUND_NOTHING):
        if rules_error.startswith("ambiguous"):
            kind, questions = "disagreement", [f"The rules found the request ambiguous: {rules_error}"]
        else:
            base.outcome, base.reason = "refuse", rules_error
            return base
    if proposal.region is not None and not _region_grounded(issue, proposal.region, rules):
        kind = kind or "disagreement"
        questions.append(f"Which region is meant? The model chose {proposal.region}, which the request does not write.")
    threshold = config.confidence_threshold
    if proposal.confidence < threshold:
        kind = "low-confidence"
        questions.insert(0, f"What exactly should be done? The model is unsure: {proposal.summary[:200]}".rstrip(": "))
    if kind is not None:
        base.outcome, base.clarify_kind, base.questions = "clarify", kind, questions
        base.reason = (
            f"model confidence {proposal.confidence:.2f} is below {threshold:.2f}"
            if kind == "low-confidence"
            else "the model and the rules read the request differently"
        )
        return base
    parameters, dropped = _parameters(issue, proposal, rules)
    base.dropped_parameters = dropped
    base.analysis = Analysis(
        task_type=proposal.task_type,
        resource_type=proposal.resource_type,
        parameters=parameters,
        account_id=proposal.account_id or (rules.account_id if rules else None),
        account_name=proposal.account_name or (rules.account_name if rules else None),
        region=proposal.region or (rules.region if rules else None),
        evidence={
            "analyzer": "bedrock",
            "model": reading.model_id,
            "confidence": f"{proposal.confidence:.2f}",
            "summary": proposal.summary[:300],
            "rules": "agree" if rules is not None else f"refused: {rules_error}"[:300],
        },
    )
    return base
