"""Tag step: MiyabiManaged, MiyabiAgent, MiyabiTask and the requested tags."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.execute import tag
from aws_agent.pipeline.runtime import runtime


@step_handler("tag")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return tag(runtime(), event)
