"""CheckStatus step: one poll of the wait-until-ready loop."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.execute import check_status
from aws_agent.pipeline.runtime import runtime


@step_handler("status")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return check_status(runtime(), event)
