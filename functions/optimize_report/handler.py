"""Report step of the optimization workflow: the CostReport, stored, and its CostReportReady event."""

from typing import Any

from aws_agent.observability import step_handler
from aws_agent.pipeline.optimize import fold_report
from aws_agent.pipeline.runtime import runtime


@step_handler("optimize_report", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return fold_report(runtime(), event)
