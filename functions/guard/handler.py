"""Guard step: allow-lists today, the guardians' seam tomorrow."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.guard import guard
from aws_agent.pipeline.runtime import runtime


@step_handler("guard")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return guard(runtime(), event)
