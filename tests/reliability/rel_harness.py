"""The reliability suite's harness on the embedded AWS: sizes, a results observer, a driver, counters, ledgers.

Everything here works on the session's LocalAgent (tests/conftest.py `local_agent`): one embedded AWS per process,
shared with the end-to-end tests, so every task id and resource name of this suite starts with `rel-`.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

TERMINAL = frozenset({"Completed", "Failed", "Cancelled"})
PREFIXES = ("rel-", "msg-", "event-")  # task ids this suite creates; msg-/event- are what unreadable events get


@dataclass(frozen=True)
class Size:
    name: str
    load_events: int  # unique task events of the load run (+20 % duplicates)
    fault_tasks: int  # tasks run under injected throttling / 5xx
    fault_rate: float  # fraction of the targeted AWS calls that fail
    fuzz_examples: int  # hypothesis examples per in-process property
    fuzz_e2e: int  # hostile events sent through the whole embedded pipeline
    chaos_each: int  # unmanaged resources of each kind in the blast-radius account


SIZES = {
    "ci": Size("ci", load_events=100, fault_tasks=24, fault_rate=0.1, fuzz_examples=300, fuzz_e2e=24, chaos_each=2),
    "full": Size(
        "full", load_events=1000, fault_tasks=200, fault_rate=0.2, fuzz_examples=3000, fuzz_e2e=150, chaos_each=6
    ),
}


def size() -> Size:
    """RELIABILITY_SIZE=ci (default: what CI runs) or full (the documented full run)."""
    name = os.environ.get("RELIABILITY_SIZE", "ci").strip().lower()
    if name not in SIZES:
        raise ValueError(f"RELIABILITY_SIZE must be one of {', '.join(SIZES)}, got {name!r}")
    return SIZES[name]


def run_tag() -> str:
    """A short tag that keeps resource names unique between runs (S3 names are global in the emulator too)."""
    return uuid.uuid4().hex[:6]


# --- results -----------------------------------------------------------------------------------------------------


class Observer:
    """A subscriber of its own on the agent's bus for this suite's task ids (the shared observer is drained by the
    end-to-end tests): every AwsTaskCompleted / AwsTaskFailed of a `rel-`, `msg-` or `event-` task."""

    def __init__(self, agent: Any) -> None:
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        self.url = sqs.create_queue(QueueName="rel-results")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = agent.outputs["EventBusName"]
        pattern = {"source": ["miyabi.aws-agent"], "detail": {"task_id": [{"prefix": p} for p in PREFIXES]}}
        events.put_rule(Name="rel-results", EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule="rel-results", EventBusName=bus, Targets=[{"Id": "rel", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []
        self._sqs = sqs

    def drain(self) -> list[dict[str, Any]]:
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.seen
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
            self._sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def by_task(self, task_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        self.drain()
        wanted = {t: [] for t in task_ids}  # type: dict[str, list[dict[str, Any]]]
        for event in self.seen:
            task_id = event.get("detail", {}).get("task_id")
            if task_id in wanted and event.get("detail-type") in ("AwsTaskCompleted", "AwsTaskFailed"):
                wanted[task_id].append(event)
        return wanted


# --- the driver --------------------------------------------------------------------------------------------------


def task_records(agent: Any, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The task records (raw DynamoDB attributes decoded to plain values), by BatchGetItem, consistent reads."""
    from aws_agent.registry import decode_task, from_item

    ddb = boto3.client("dynamodb")
    table = agent.outputs["TasksTableName"]
    ids = list(dict.fromkeys(task_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 100):
        keys = [{"task_id": {"S": t}} for t in ids[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                record = decode_task(from_item(item))
                found[record["task_id"]] = record
            request = response.get("UnprocessedKeys") or {}
    return found


def queue_depth(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def executions(agent: Any) -> dict[str, str]:
    """Execution name → status of every execution of the task pipeline."""
    sfn = boto3.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=agent.outputs["StateMachineArn"])
    return {e["name"]: e["status"] for page in pages for e in page["executions"]}


def drive(
    agent: Any,
    task_ids: Iterable[str],
    timeout: float = 600.0,
    max_in_flight: int | None = None,
    housekeeping: Callable[[], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Play the SQS poller until every named task is terminal, the task queue is empty and their executions ended;
    the task records as they ended.

    LocalAgent.run reads each pending task's record on every round; at a thousand tasks that is most of the work,
    so this driver reads the records in batches, once a second. `max_in_flight` caps the running tasks, as an SQS
    event source's maximum concurrency does (the poller waits); `housekeeping` runs every 15 s."""
    from aws_agent.basics import execution_name

    ids = list(dict.fromkeys(task_ids))
    queue = agent.outputs["TaskQueueUrl"]
    deadline = time.monotonic() + timeout
    records: dict[str, dict[str, Any]] = {}
    last_check = last_housekeeping = time.monotonic() - 60
    in_flight = 0
    while time.monotonic() < deadline:
        handled = agent.poll_once() if max_in_flight is None or in_flight < max_in_flight else 0
        in_flight += handled
        if housekeeping is not None and time.monotonic() - last_housekeeping >= 15:
            last_housekeeping = time.monotonic()
            housekeeping()
        if handled and time.monotonic() - last_check < 2.0:
            continue
        if time.monotonic() - last_check >= 1.0 or not handled:
            last_check = time.monotonic()
            records = task_records(agent, ids)
            in_flight = sum(1 for r in records.values() if r.get("status") not in TERMINAL)
            done = len(records) == len(ids) and in_flight == 0
            if done and queue_depth(queue) == 0:
                names = {execution_name(t) for t in ids}
                while time.monotonic() < deadline:  # the execution ends just after the terminal record is written
                    running = [n for n, s in executions(agent).items() if n in names and s == "RUNNING"]
                    if not running:
                        return task_records(agent, ids)  # as they ended (the emitted flag comes last)
                    time.sleep(0.2)
        if not handled:
            time.sleep(0.2)
    missing = [t for t in ids if records.get(t, {}).get("status") not in TERMINAL]
    raise AssertionError(f"{len(missing)} task(s) not terminal after {timeout:.0f} s, e.g. {missing[:5]}")


# --- counters inside the agent -----------------------------------------------------------------------------------


def handler_globals(agent: Any, step: str) -> dict[str, Any]:
    """The module globals of a step's handler (functions/<step>/handler.py as the emulator loaded it)."""
    assert agent.stack is not None
    name = next(n for n, s in agent.stack.functions.items() if s == step)
    handler: Any = agent.emulator.handlers[name]
    while hasattr(handler, "__wrapped__"):
        handler = handler.__wrapped__
    module: dict[str, Any] = handler.__globals__
    return module


def function_name(agent: Any, step: str) -> str:
    assert agent.stack is not None
    return next(n for n, s in agent.stack.functions.items() if s == step)


@contextmanager
def intake_outcomes(agent: Any) -> Iterator[Counter[str]]:
    """Counts what the intake decided per delivery: started / duplicate (acknowledged, nothing run)."""
    module = handler_globals(agent, "intake")
    original = module["accept"]
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def accept(rt: Any, body: str, message_id: str) -> dict[str, Any]:
        result = original(rt, body, message_id)
        with lock:
            counts["deliveries"] += 1
            counts["duplicates"] += bool(result.get("duplicate"))
            counts["started"] += bool(result.get("started")) and not result.get("duplicate")
        return dict(result)

    module["accept"] = accept
    try:
        yield counts
    finally:
        module["accept"] = original


@contextmanager
def wrap_invocations(agent: Any, wrapper: Callable[..., tuple[bool, Any]]) -> Iterator[None]:
    """Intercept the emulator's Lambda invocations: wrapper(original, function_name, payload) -> (ok, result)."""
    previous = agent.emulator.__dict__.get("invoke")  # an outer wrapper, if any
    original = agent.emulator.invoke

    def invoke(function_name: str, payload: Any) -> tuple[bool, Any]:
        return wrapper(original, function_name, payload)

    agent.emulator.invoke = invoke
    try:
        yield
    finally:
        if previous is None:
            del agent.emulator.invoke  # back to the class's method
        else:
            agent.emulator.invoke = previous


@contextmanager
def invocation_log(agent: Any) -> Iterator[list[tuple[str, str, bool, str]]]:
    """Every Lambda invocation while active: (step, task id, ok, error type)."""
    steps = dict(agent.stack.functions)
    log: list[tuple[str, str, bool, str]] = []
    lock = threading.Lock()

    def wrapper(original: Callable[..., tuple[bool, Any]], name: str, payload: Any) -> tuple[bool, Any]:
        ok, result = original(name, payload)
        short = name.split(":function:")[-1].split(":")[0]
        task_id = ""
        if isinstance(payload, dict):
            task_id = str(payload.get("task_id") or (payload.get("task") or {}).get("id") or "")
        error = "" if ok else str((result or {}).get("errorType", ""))
        with lock:
            log.append((steps.get(short, short), task_id, ok, error))
        return ok, result

    with wrap_invocations(agent, wrapper):
        yield log


@contextmanager
def botocore_retries() -> Iterator[Counter[str]]:
    """Retries botocore's standard/adaptive retry handler decided on (the agent's clients; the harness's clients use
    the legacy mode and are not counted), by service."""
    from botocore.retries import standard

    original = standard.RetryPolicy.compute_retry_delay
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def compute_retry_delay(self: Any, context: Any) -> Any:
        model = getattr(context, "operation_model", None)
        with lock:
            counts[model.service_model.service_name if model is not None else "?"] += 1
        return original(self, context)

    standard.RetryPolicy.compute_retry_delay = compute_retry_delay  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        standard.RetryPolicy.compute_retry_delay = original  # type: ignore[method-assign]


# --- what the emulator actually created --------------------------------------------------------------------------


@contextmanager
def creation_ledger() -> Iterator[Counter[tuple[str, str]]]:
    """Counts resources the emulator really created, by (kind, key): S3 buckets by name, EC2 instances by their
    MiyabiTask tag (else client token), Lambda functions by account/region/name. A replay that re-created
    something shows up as a count above 1."""
    from moto.awslambda.models import LambdaBackend
    from moto.ec2.models import EC2Backend
    from moto.s3.models import S3Backend

    ledger: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    originals = {
        (S3Backend, "create_bucket"): S3Backend.create_bucket,
        (EC2Backend, "run_instances"): EC2Backend.run_instances,
        (LambdaBackend, "create_function"): LambdaBackend.create_function,
    }

    def create_bucket(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        bucket = originals[(S3Backend, "create_bucket")](self, bucket_name, *args, **kwargs)
        with lock:
            ledger[("s3", bucket_name)] += 1
        return bucket

    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = originals[(EC2Backend, "run_instances")](self, *args, **kwargs)
        with lock:
            for instance in reservation.instances:
                tags = {t["key"]: t["value"] for t in self.describe_tags(filters={"resource-id": [instance.id]})}
                key = tags.get("MiyabiTask") or f"token:{kwargs.get('client_token')}"
                ledger[("ec2", f"{self.account_id}/{key}")] += 1
        return reservation

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        function = originals[(LambdaBackend, "create_function")](self, spec)
        with lock:
            ledger[("lambda", f"{self.account_id}/{self.region_name}/{spec.get('FunctionName')}")] += 1
        return function

    replacements = {
        (S3Backend, "create_bucket"): create_bucket,
        (EC2Backend, "run_instances"): run_instances,
        (LambdaBackend, "create_function"): create_function,
    }
    for (cls, method), replacement in replacements.items():
        setattr(cls, method, replacement)
    try:
        yield ledger
    finally:
        for (cls, method), original in originals.items():
            setattr(cls, method, original)


# --- small helpers -----------------------------------------------------------------------------------------------


def structured(task_id: str, task_type: str, resource_type: str | None, **fields: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"task_type": task_type, **fields}
    if resource_type is not None:
        task["resource_type"] = resource_type
    return {"task_id": task_id, "task": task, "requested_by": "reliability-suite"}


def submit_all(agent: Any, details: Iterable[dict[str, Any] | str]) -> int:
    """Publish AwsTaskRequested events, ten per PutEvents call (as an orchestrator batching its sends would)."""
    from aws_agent.events import ORCHESTRATOR_SOURCE, TASK_REQUESTED

    events = boto3.client("events")
    bus = agent.outputs["EventBusName"]
    entries = [
        {
            "Source": ORCHESTRATOR_SOURCE,
            "DetailType": TASK_REQUESTED,
            "Detail": d if isinstance(d, str) else json.dumps(d),
            "EventBusName": bus,
        }
        for d in details
    ]
    for start in range(0, len(entries), 10):
        response = events.put_events(Entries=entries[start : start + 10])
        assert not response.get("FailedEntryCount"), response
    return len(entries)


def dlq_depth(agent: Any) -> int:
    return queue_depth(agent.outputs["DeadLetterQueueUrl"])


def statuses(records: dict[str, dict[str, Any]]) -> Counter[str]:
    return Counter(str(r.get("status")) for r in records.values())
