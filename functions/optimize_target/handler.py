"""SweepTarget step (one Map item): idle/unused/oversized resources of one account x region, acted on or reported."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.optimize import sweep_target
from aws_agent.pipeline.runtime import runtime


@step_handler("optimize_target")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return sweep_target(runtime(), event)
