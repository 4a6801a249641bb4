"""Powertools logger and metrics shared by every handler, optional X-Ray subsegments, and the wiring decorator."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="aws-agent")
metrics = Metrics(namespace="AwsAgent", service="aws-agent")

Handler = Callable[[dict[str, Any], Any], Any]

# Lambda and Step Functions trace every invocation with active tracing (set by the stack). The X-Ray SDK,
# which Powertools' Tracer needs for per-AWS-call subsegments, builds a botocore client at import: ~250 ms
# of every cold start, more than boto3 itself. So it is opt-in per deployment.
XRAY_SUBSEGMENTS = os.environ.get("AGENT_XRAY_SUBSEGMENTS", "false").lower() == "true"


def step_handler(step: str, *, with_metrics: bool = False) -> Callable[[Handler], Handler]:
    """Correlates logs with the task id, flushes metrics (steps that emit some) and, if enabled, traces AWS calls."""

    def decorate(func: Handler) -> Handler:
        @wraps(func)
        def run(event: dict[str, Any], context: Any) -> Any:
            task_id = event.get("task_id") or (event.get("task") or {}).get("id")
            logger.append_keys(step=step, task_id=task_id)
            return func(event, context)

        wrapped: Handler = run
        if XRAY_SUBSEGMENTS:
            from aws_lambda_powertools import Tracer

            wrapped = Tracer(service="aws-agent").capture_lambda_handler(run)
        logged = logger.inject_lambda_context(clear_state=True)(wrapped)
        return metrics.log_metrics(logged) if with_metrics else logged

    return decorate
