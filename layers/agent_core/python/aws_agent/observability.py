"""Powertools logger, tracer and metrics shared by every handler, and the decorator that wires them."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="aws-agent")
tracer = Tracer(service="aws-agent")
metrics = Metrics(namespace="AwsAgent", service="aws-agent")

Handler = Callable[[dict[str, Any], Any], Any]


def step_handler(step: str) -> Callable[[Handler], Handler]:
    """Correlates logs with the task id, traces the step and flushes its metrics."""

    def decorate(func: Handler) -> Handler:
        @wraps(func)
        def run(event: dict[str, Any], context: Any) -> Any:
            task_id = event.get("task_id") or (event.get("task") or {}).get("id")
            logger.append_keys(step=step, task_id=task_id)
            return func(event, context)

        traced = tracer.capture_lambda_handler(run)
        logged = logger.inject_lambda_context(clear_state=True)(traced)
        return metrics.log_metrics(logged)

    return decorate
