"""PlanTargets step of the optimization workflow: the account x region targets and the run's options."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.optimize import plan_targets
from aws_agent.pipeline.runtime import runtime


@step_handler("optimize_plan")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return plan_targets(runtime(), event)
