"""Complete step: the task's Completed record and its AwsTaskCompleted event."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.finish import complete
from aws_agent.pipeline.runtime import runtime


@step_handler("complete", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return complete(runtime(), event)
