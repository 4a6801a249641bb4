"""The agent on the embedded AWS: deploy the synthesized stack into moto, send events, play the SQS poller."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from ..events import ORCHESTRATOR_SOURCE, TASK_REQUESTED
from ..model import execution_name
from .emulator import Emulator
from .stack import DeployedStack, EventSource, deploy
from .template import project_root, synthesize

LOCAL_ACCOUNT = "123456789012"  # moto's default account plays the management account "Zeus"
LOCAL_REGION = "us-east-1"
# The specification's example organization, as the local deployment's configuration.
EXAMPLE_ORG = {"Zeus": LOCAL_ACCOUNT, "Apollo": "222222222222", "Cerberus": "333333333333", "Athena": "444444444444"}
LOCAL_CONFIG: dict[str, Any] = {
    "accounts": EXAMPLE_ORG,
    "allowed_accounts": sorted(EXAMPLE_ORG.values()),
    "allowed_regions": ["us-east-1", "us-west-2", "eu-west-1"],
}
_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    # Local runs: quiet JSON logs, no EMF metric lines on stdout, no X-Ray daemon.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
_TERMINAL = {"Completed", "Failed", "Cancelled"}
EMISSION_GRACE_SECONDS = 5.0


class LocalAgent:
    """Context manager: the whole agent, as deployed, on moto in this process."""

    def __init__(self, template: dict[str, Any] | None = None, root: Path | None = None) -> None:
        self.root = root or project_root()
        self._template = template
        self.emulator = Emulator()
        self.stack: DeployedStack | None = None
        self._saved_env: dict[str, str | None] = {}
        self.observer_url = ""

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LocalAgent:
        template = self._template or synthesize(self.root, context={"aws-agent:config": LOCAL_CONFIG})
        endpoint = self.emulator.start()
        self._set_env({**_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
        self.stack = deploy(template, self.emulator, self.root, LOCAL_ACCOUNT, LOCAL_REGION)
        self._set_env(self.stack.environment)
        from ..pipeline.runtime import runtime
        from ..settings import settings

        settings.cache_clear()
        runtime.cache_clear()
        self._bootstrap_member_accounts()
        self._observe_results()
        return self

    def __exit__(self, *exc: object) -> None:
        self.emulator.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    @contextmanager
    def configured(self, **overrides: Any) -> Iterator[LocalAgent]:
        """The deployment with some configuration keys changed (what `cdk deploy` with new `aws-agent:config` context
        does in the cloud), restored afterwards. The in-process handlers read AGENT_CONFIG, so no redeploy is needed."""
        from ..pipeline.runtime import runtime
        from ..settings import settings

        saved = os.environ.get("AGENT_CONFIG")
        os.environ["AGENT_CONFIG"] = json.dumps({**json.loads(saved or "{}"), **overrides})
        settings.cache_clear()
        runtime.cache_clear()
        try:
            yield self
        finally:
            if saved is None:
                os.environ.pop("AGENT_CONFIG", None)
            else:
                os.environ["AGENT_CONFIG"] = saved
            settings.cache_clear()
            runtime.cache_clear()

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _bootstrap_member_accounts(self) -> None:
        """What the member-account rollout provides: the role Lambda functions created by the agent run as."""
        role = json.loads(self.stack.environment.get("AGENT_CONFIG") or "{}").get(  # type: ignore[union-attr]
            "lambda_execution_role_name", "MiyabiLambdaExecutionRole"
        )
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        for account in EXAMPLE_ORG.values():
            self.session(account).client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))

    def _observe_results(self) -> None:
        """A subscriber to the agent's bus (as an orchestrator would have), so results can be read back."""
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        self.observer_url = sqs.create_queue(QueueName="aws-agent-local-results")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.observer_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = self.outputs["EventBusName"]
        events.put_rule(
            Name="aws-agent-local-results", EventBusName=bus, EventPattern=json.dumps({"source": ["miyabi.aws-agent"]})
        )
        events.put_targets(Rule="aws-agent-local-results", EventBusName=bus, Targets=[{"Id": "results", "Arn": arn}])

    # -- use -----------------------------------------------------------------------------------
    @property
    def outputs(self) -> dict[str, str]:
        assert self.stack is not None
        return self.stack.outputs

    def session(self, account_id: str = LOCAL_ACCOUNT) -> boto3.Session:
        """A session in one of the example organization's accounts (moto maps assumed roles to accounts)."""
        if account_id == LOCAL_ACCOUNT:
            return boto3.Session(region_name=LOCAL_REGION)
        creds = boto3.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="local"
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=LOCAL_REGION,
        )

    def submit(self, detail: dict[str, Any] | str) -> dict[str, Any]:
        """Publish an AwsTaskRequested event on the agent's bus, as the orchestrator does."""
        body = detail if isinstance(detail, str) else json.dumps(detail)
        response = boto3.client("events").put_events(
            Entries=[
                {
                    "Source": ORCHESTRATOR_SOURCE,
                    "DetailType": TASK_REQUESTED,
                    "Detail": body,
                    "EventBusName": self.outputs["EventBusName"],
                }
            ]
        )
        return dict(response["Entries"][0])

    def send_raw(self, body: str) -> None:
        """Put a message straight on the task queue (what a broken producer could do)."""
        boto3.client("sqs").send_message(QueueUrl=self.outputs["TaskQueueUrl"], MessageBody=body)

    def poll_once(self) -> int:
        """One pass of the Lambda poller over each event source: receive, invoke, delete what succeeded."""
        assert self.stack is not None
        handled = 0
        for source in self.stack.event_sources:
            handled += self._poll(source)
        return handled

    def _poll(self, source: EventSource) -> int:
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=min(source.batch_size, 10),
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return 0
        queue_arn = sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        event = {"Records": [_sqs_record(m, queue_arn) for m in messages]}
        response = boto3.client("lambda").invoke(FunctionName=source.function_name, Payload=json.dumps(event))
        payload = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            failed = {m["MessageId"] for m in messages}
        elif source.report_batch_item_failures:
            failed = {f["itemIdentifier"] for f in payload.get("batchItemFailures", [])}
        else:
            failed = set()
        for message in messages:
            if message["MessageId"] in failed:
                # Lambda leaves failures for redelivery after the visibility timeout; locally, retry soon.
                sqs.change_message_visibility(
                    QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=1
                )
            else:
                sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _await_emission(self, task_ids: Iterable[str], until: float) -> None:
        """A record turns terminal one step before its result event is sent (finish.py marks `event_emitted` after
        PutEvents): wait, briefly, for the events too, so a caller reading results() right after run() sees them.
        Bounded: a task whose event cannot be sent (the fault tests) keeps `event_emitted` false."""
        ddb = boto3.client("dynamodb")
        waiting = set(task_ids)
        while waiting and time.monotonic() < until:
            for task_id in list(waiting):
                item = ddb.get_item(
                    TableName=self.outputs["TasksTableName"], Key={"task_id": {"S": task_id}}, ConsistentRead=True
                ).get("Item", {})
                if item.get("event_emitted", {}).get("BOOL") is not False:
                    waiting.discard(task_id)
            if waiting:
                time.sleep(0.05)

    def task_status(self, task_id: str) -> str | None:
        item = boto3.client("dynamodb").get_item(
            TableName=self.outputs["TasksTableName"], Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        return item.get("Item", {}).get("status", {}).get("S")

    def execution_status(self, task_id: str, timeout: float = 10.0) -> str:
        """The final status of the task's state-machine execution (SUCCEEDED / FAILED / ...)."""
        arn = self.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":" + execution_name(task_id)
        sfn = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            status = str(sfn.describe_execution(executionArn=arn)["status"])
            if status != "RUNNING" or time.monotonic() > deadline:
                return status
            time.sleep(0.05)

    def run(self, task_ids: Iterable[str] = (), timeout: float = 120.0) -> dict[str, str | None]:
        """Poll the queue and wait until every named task is terminal (or the queue stays empty)."""
        pending = set(task_ids)
        deadline = time.monotonic() + timeout
        statuses: dict[str, str | None] = {}
        idle_rounds = 0
        while time.monotonic() < deadline:
            handled = self.poll_once()
            statuses = {t: self.task_status(t) for t in pending}
            if pending and all(s in _TERMINAL for s in statuses.values()):
                self._await_emission(pending, min(deadline, time.monotonic() + EMISSION_GRACE_SECONDS))
                return statuses
            idle_rounds = 0 if handled else idle_rounds + 1
            if not pending and idle_rounds >= 3:
                return statuses
            time.sleep(0.1)
        return statuses

    def results(self) -> list[dict[str, Any]]:
        """The agent's result events received so far (AwsTaskCompleted / AwsTaskFailed / ...)."""
        sqs = boto3.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.observer_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.observer_url, ReceiptHandle=message["ReceiptHandle"])


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": LOCAL_REGION,
    }
