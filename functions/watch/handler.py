"""Cerberus' watch: a CloudTrail creation event (EventBridge) → a finding and ResourceFlagged when it is not fine."""

import os
from typing import Any

from aws_agent.guardians.policy import load_policies
from aws_agent.guardians.watch import inspect, record
from aws_agent.observability import step_handler
from aws_agent.pipeline.runtime import runtime


@step_handler("watch")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    flag = inspect(event, load_policies(rt.settings.config).cerberus)
    if flag is None:
        return {"flagged": False}
    table = os.environ["AGENT_FINDINGS_TABLE"]
    recorded = record(rt.dynamodb, table, rt.events, rt.settings.event_bus, flag)
    return {"flagged": True, "finding_id": flag.finding_id, "recorded": recorded}
