"""`aws-agent redrive`: move the task queue's dead letters back onto the task queue, to be processed again.

A message lands in the DLQ after the intake failed it `maxReceiveCount` (5) times. Once the cause is fixed, this
command sends each one back to the task queue (receive → send → delete, ten at a time). A message is deleted from
the DLQ only after the task queue accepted its copy, so a failure leaves it where it was. A redriven task id that
already ran is acknowledged as a duplicate by the intake, never run twice.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console

# Light at import (the CLI registers this command at start-up): boto3 loads when the command runs.
BATCH = 10  # SQS's limit for ReceiveMessage, SendMessageBatch and DeleteMessageBatch
console = Console(width=None if sys.stdout.isatty() else 150)


@dataclass(frozen=True)
class RedriveResult:
    moved: int  # sent to the task queue and deleted from the DLQ
    failed: int  # not accepted by the task queue: left in the DLQ
    remaining: int  # approximately left in the DLQ afterwards (including messages in flight)


def queue_urls(stack_name: str) -> tuple[str, str]:
    """(DLQ URL, task queue URL): AGENT_DLQ_URL / AGENT_TASK_QUEUE_URL, else the stack's outputs (one call)."""
    dlq, queue = os.environ.get("AGENT_DLQ_URL"), os.environ.get("AGENT_TASK_QUEUE_URL")
    if not (dlq and queue):
        import boto3

        from ..aws import RETRY_CONFIG

        cfn = boto3.client("cloudformation", config=RETRY_CONFIG)
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        dlq, queue = dlq or outputs["DeadLetterQueueUrl"], queue or outputs["TaskQueueUrl"]
    return str(dlq), str(queue)


def redrive(
    sqs: Any, dlq_url: str, queue_url: str, max_messages: int | None = None, visibility_timeout: int = 60
) -> RedriveResult:
    """Move up to `max_messages` (default: all) messages from the DLQ to the task queue."""
    moved = failed = 0
    while max_messages is None or moved + failed < max_messages:
        wanted = BATCH if max_messages is None else min(BATCH, max_messages - moved - failed)
        # A message whose copy is not accepted stays invisible for `visibility_timeout`: this run never loops on it.
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=wanted,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        accepted = {s["Id"] for s in sent.get("Successful", [])}
        failed += len(messages) - len(accepted)
        done = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
            if str(index) in accepted
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        moved += len(done)
    attributes = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    remaining = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    return RedriveResult(moved=moved, failed=failed, remaining=remaining)


def redrive_command(
    stack_name: Annotated[str, typer.Option("--stack-name", help="the deployed CloudFormation stack")] = "AwsAgent",
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="move at most this many messages (default: all)")
    ] = None,
) -> None:
    """Move messages from the dead-letter queue back to the task queue (after fixing what failed them)."""
    import boto3

    from ..aws import RETRY_CONFIG

    dlq_url, queue_url = queue_urls(stack_name)
    result = redrive(boto3.client("sqs", config=RETRY_CONFIG), dlq_url, queue_url, max_messages)
    console.print(
        f"redrive: moved [bold]{result.moved}[/] message(s) from the DLQ to the task queue; "
        f"failed {result.failed}; left in the DLQ {result.remaining}"
    )
    if result.failed:
        raise typer.Exit(1)
