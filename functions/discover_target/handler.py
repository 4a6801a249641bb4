"""DiscoverTarget step (one Map item): discover one account x region and reconcile the Resources table with it."""

from typing import Any

from aws_agent.accounts.workflow import discover_one
from aws_agent.observability import step_handler
from aws_agent.pipeline.runtime import runtime


@step_handler("discover_target")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return discover_one(runtime(), event)
