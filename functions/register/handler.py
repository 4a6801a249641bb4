"""Register step: the AwsResource and ServiceAgent records."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.register import register
from aws_agent.pipeline.runtime import runtime


@step_handler("register")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return register(runtime(), event)
