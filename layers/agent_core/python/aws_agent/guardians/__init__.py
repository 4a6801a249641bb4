"""The guardians: Cerberus (security), Michael (ethics), Buddha (harmony), plus the autonomy gate, as policy."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from . import autonomy, buddha, cerberus, michael
from .context import GuardContext
from .policy import GuardianDecision, Verdict, strictest

__all__ = ["GateDecision", "GuardContext", "GuardianDecision", "Verdict", "evaluate"]


class GateDecision(BaseModel):
    """Every guardian's answer and the overall one: deny if any denies, else needs-approval if any asks, else allow."""

    model_config = ConfigDict(extra="forbid")

    decision: Verdict
    reasons: list[str] = Field(default_factory=list)
    guardians: list[GuardianDecision] = Field(default_factory=list)
    risk: int | None = None
    estimated_daily_cost: str = "0"
    policy_version: str


def evaluate(ctx: GuardContext) -> GateDecision:
    """Run every guardian on a task (read-only work passes them all); a dry run never waits for approval."""
    answers = [check(ctx) for check in (cerberus.check, michael.check, buddha.check, autonomy.check)]
    verdict = strictest([a.decision for a in answers])
    reasons = [f"{a.guardian}: {r}" for a in answers if a.decision is not Verdict.ALLOW for r in a.reasons]
    if verdict is Verdict.NEEDS_APPROVAL and ctx.task.dry_run:
        verdict = Verdict.ALLOW  # a plan changes nothing: it reports that the real run would need approval
        reasons = [f"{r} (dry run: not asked)" for r in reasons]
    cost: Decimal = michael.estimated_daily_cost(ctx)
    return GateDecision(
        decision=verdict,
        reasons=reasons,
        guardians=answers,
        risk=ctx.policies.risk_of(ctx.task.task_type),
        estimated_daily_cost=f"{cost:.4f}",
        policy_version=ctx.policies.version,
    )
