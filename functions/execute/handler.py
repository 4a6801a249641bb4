"""Execute step: call the resource provider for the task's operation."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.execute import execute
from aws_agent.pipeline.runtime import runtime


@step_handler("execute")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return execute(runtime(), event)
