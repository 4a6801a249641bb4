"""Intake Lambda: SQS batch of task events → one state-machine execution per task (partial batch failures)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aws_agent.observability import logger, metrics, step_handler
from aws_agent.pipeline.intake import accept
from aws_agent.pipeline.runtime import runtime

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    accepted = accept(runtime(), record.body, record.message_id)
    if accepted["duplicate"]:
        metrics.add_metric(name="DuplicateTaskDeliveries", unit=MetricUnit.Count, value=1)
        logger.info("duplicate delivery acknowledged", extra=accepted)
    return accepted


@step_handler("intake", with_metrics=True)
def handler(event: dict[str, Any], context: Any) -> Any:
    metrics.add_metric(name="TaskEventsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
