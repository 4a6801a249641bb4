"""AWS SDK integration tasks on AWS Organizations, shared by the account-creation and account-closure workflows."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

# The Organizations errors worth retrying; everything else is the request's own failure.
RETRIED = ["Organizations.TooManyRequestsException", "Organizations.ConcurrentModificationException"]


def sdk_call(
    scope: Construct, state_id: str, action: str, parameters: dict[str, Any], **fields: Any
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
    return state
