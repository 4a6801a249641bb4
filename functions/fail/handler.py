"""RecordFailure step: the task's Failed record and its AwsTaskFailed event."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.finish import fail
from aws_agent.pipeline.runtime import runtime


@step_handler("fail", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return fail(runtime(), event)
