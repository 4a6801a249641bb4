"""Analyze step: validate the event and turn a structured task or an issue into an AwsTask."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.analyze import analyze
from aws_agent.pipeline.runtime import runtime


@step_handler("analyze", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return analyze(runtime(), event)
