"""PlanDiscovery step: every account of the organization x every allowed region."""

from typing import Any

from aws_agent.accounts.workflow import plan_discovery
from aws_agent.observability import step_handler
from aws_agent.pipeline.runtime import runtime


@step_handler("discover_plan")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return plan_discovery(runtime(), event)
