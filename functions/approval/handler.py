"""RequestApproval step (waitForTaskToken): store the token on the task, emit ApprovalRequested; the run waits."""

from typing import Any

from aws_agent.approvals import request_approval
from aws_agent.observability import step_handler
from aws_agent.pipeline.runtime import runtime


@step_handler("approval", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return request_approval(runtime(), event)
