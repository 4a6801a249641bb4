"""Health sweep (scheduled): every managed resource has its alarms and a direct status; coverage as metrics."""

from typing import Any

from aws_agent.health.sweep import scheduled_sweep
from aws_agent.observability import step_handler
from aws_agent.pipeline.runtime import runtime


@step_handler("health_sweep", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return scheduled_sweep(runtime(), event)
