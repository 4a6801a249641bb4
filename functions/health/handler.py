"""Health step: a CloudWatch alarm state change → the service agent's health (and, within bounds, a heal)."""

from typing import Any

from aws_agent.health.routing import route
from aws_agent.observability import step_handler
from aws_agent.pipeline.runtime import runtime


@step_handler("health", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return route(runtime(), event)
