"""The account workflows' shared tasks: AWS SDK calls on Organizations, and announcements on the agent's bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from aws_agent.events import AGENT_SOURCE

# The Organizations errors worth retrying; everything else is the request's own failure.
RETRIED = ["Organizations.TooManyRequestsException", "Organizations.ConcurrentModificationException"]


def sdk_call(
    scope: Construct, state_id: str, action: str, parameters: dict[str, Any], *, read_only: bool = False, **fields: Any
) -> sfn.CustomState:
    """One AWS SDK integration task on Organizations, retried on throttling and concurrent changes.

    Written as ASL rather than `CallAwsService`, whose generated policy cannot carry conditions: each workflow grants
    its Organizations actions in its own explicit, tag-conditioned policy."""
    state = sfn.CustomState(
        scope,
        state_id,
        state_json={
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:organizations:{action}",
            "Parameters": parameters,
            **fields,
        },
    )
    state.add_retry(errors=RETRIED, interval=Duration.seconds(5), max_attempts=4, backoff_rate=2)
    if read_only:
        # A read may be repeated at no risk: any failure (a 5xx, a network error) is retried before the workflow gives
        # up, e.g. before a failed status read leaves an account being created unmoved and unannounced.
        state.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=5, backoff_rate=2)
    return state


def announce(
    scope: Construct, state_id: str, bus: events.IEventBus, detail_type: str, fields: dict[str, Any]
) -> tasks.EventBridgePutEvents:
    """PutEvents of one `detail_type` (version 1 of its schema, source miyabi.aws-agent); the state passes through."""
    return tasks.EventBridgePutEvents(
        scope,
        state_id,
        entries=[
            tasks.EventBridgePutEventsEntry(
                event_bus=bus,
                source=AGENT_SOURCE,
                detail_type=detail_type,
                detail=sfn.TaskInput.from_object({"version": "1", **fields}),
            )
        ],
        result_path=sfn.JsonPath.DISCARD,
    )
