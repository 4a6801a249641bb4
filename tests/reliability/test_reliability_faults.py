"""Faults on the embedded AWS: throttling and 5xx on a fraction of calls, Lambda service errors, handler crashes,
an intake that keeps failing a message (DLQ, then `aws-agent redrive`), conditional-write conflicts, and an account
whose role cannot be assumed.

Expected: retried where transient, recorded with a clear error where not, the DLQ receives only what could not be
processed, and the redrive command brings DLQ messages back to be processed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from functools import partial
from typing import Any

import pytest
from rel_faults import LAMBDA_ERRORS, FaultPlan, aws_faults, lambda_faults, unassumable
from rel_figures import record
from rel_harness import (
    Observer,
    Size,
    botocore_retries,
    creation_ledger,
    dlq_depth,
    drive,
    function_name,
    handler_globals,
    invocation_log,
    run_tag,
    statuses,
    structured,
    submit_all,
    task_records,
    wrap_invocations,
)

pytestmark = pytest.mark.e2e

ZEUS, ATHENA = "123456789012", "444444444444"
TRANSIENT = {"TransientAwsError", *LAMBDA_ERRORS, "Lambda.AWSLambdaException", "Lambda.SdkClientException"}


def _create(task_id: str, kind: str, name: str, account: str = ZEUS) -> dict[str, Any]:
    if kind == "s3":
        return structured(task_id, "CreateResource", "S3Bucket", account_id=account, parameters={"bucket_name": name})
    if kind == "ec2":
        return structured(task_id, "CreateResource", "Ec2Instance", account_id=account, parameters={"name": name})
    return structured(
        task_id, "CreateResource", "LambdaFunction", account_id=account, parameters={"function_name": name}
    )


def _one_event_each(observer: Observer, task_ids: list[str]) -> Counter[int]:
    return Counter(len(v) for v in observer.by_task(task_ids).values())


# --- throttling and 5xx on a fraction of calls -------------------------------------------------------------------


def test_throttling_and_5xx_are_retried_and_every_task_ends_once(
    local_agent: Any, observer: Observer, sz: Size
) -> None:
    agent = local_agent
    tag = run_tag()
    kinds = ["s3", "s3", "s3", "ec2", "lambda"]
    tasks = [(f"rel-ft-{tag}-{i:03d}", kinds[i % len(kinds)], f"rel-ft-{tag}-{i:03d}") for i in range(sz.fault_tasks)]
    ids = [t for t, _, _ in tasks]
    dlq_before = dlq_depth(agent)
    submit_all(agent, [_create(t, kind, name) for t, kind, name in tasks])
    aws_plan = FaultPlan(rate=sz.fault_rate, seed=81)
    lambda_plan = FaultPlan(rate=0.05, seed=82)
    started = time.perf_counter()
    with (
        creation_ledger() as ledger,
        botocore_retries() as client_retries,
        aws_faults(aws_plan),
        wrap_invocations(agent, lambda_faults(lambda_plan, dict(agent.stack.functions))),
        invocation_log(agent) as invocations,  # outside the Lambda faults: it sees the injected errors too
    ):
        records = drive(agent, ids, timeout=1200)
    elapsed = time.perf_counter() - started

    assert statuses(records) == Counter({"Completed": len(ids)}), {
        t: (r.get("status"), r.get("error_code"), r.get("error_message", "")[:300])
        for t, r in records.items()
        if r.get("status") != "Completed"
    }
    assert _one_event_each(observer, ids) == Counter({1: len(ids)})
    mine = {k: v for k, v in ledger.items() if tag in k[1]}
    assert len(mine) == len(ids) and set(mine.values()) == {1}, mine
    assert dlq_depth(agent) == dlq_before
    assert aws_plan.total > 0 and lambda_plan.total > 0
    sfn_retries = sum(1 for _, task, ok, error in invocations if not ok and error in TRANSIENT and task in set(ids))
    by_kind = Counter()  # type: Counter[str]
    for (target, label), n in aws_plan.injected.items():
        by_kind[f"{target.split('.')[0]} {label}"] += n
    record(
        "faults",
        {
            "storm: tasks (creates: S3, EC2, Lambda)": len(ids),
            "storm: AWS calls targeted / faults injected": f"{sum(aws_plan.calls.values())} / {aws_plan.total} "
            f"({sz.fault_rate:.0%} of S3, EC2, DynamoDB writes, EventBridge PutEvents)",
            "storm: faults by kind": dict(sorted(by_kind.items())),
            "storm: Lambda service errors injected": lambda_plan.total,
            "storm: retries by botocore (agent clients)": sum(client_retries.values()),
            "storm: retries by the state machine": sfn_retries,
            "storm: terminal states": dict(statuses(records)),
            "storm: result events per task": "exactly 1 for all",
            "storm: resources created twice": sum(1 for v in mine.values() if v > 1),
            "storm: wall time (s)": round(elapsed, 1),
        },
    )


# --- handler crashes ---------------------------------------------------------------------------------------------


def test_handler_crash_mid_task_is_recorded_as_internal_error_not_retried(local_agent: Any, observer: Observer) -> None:
    agent = local_agent
    task_id = f"rel-crash-{run_tag()}"
    execute = function_name(agent, "execute")

    def crash(original: Any, name: str, payload: Any) -> tuple[bool, Any]:
        if name.endswith(execute) and isinstance(payload, dict) and (payload.get("task") or {}).get("id") == task_id:
            real = agent.emulator.handlers[execute]
            agent.emulator.handlers[execute] = _crashing_handler
            try:
                return original(name, payload)  # type: ignore[no-any-return]
            finally:
                agent.emulator.handlers[execute] = real
        return original(name, payload)  # type: ignore[no-any-return]

    submit_all(agent, [_create(task_id, "s3", task_id)])
    with invocation_log(agent) as log, wrap_invocations(agent, crash):
        records = drive(agent, [task_id], timeout=120)
    rec = records[task_id]
    assert rec["status"] == "Failed" and rec["error_code"] == "InternalError", rec
    assert rec["error_state"] == "Execute" and "handler crashed mid-task" in rec["error_message"], rec
    assert rec["error_name"] == "RuntimeError"
    assert sum(1 for step, t, _, _ in log if step == "execute" and t == task_id) == 1, "a crash is not retried"
    assert not _bucket_exists(agent, task_id)
    assert _one_event_each(observer, [task_id]) == Counter({1: 1})
    record(
        "faults", {"handler crash (RuntimeError in Execute)": "Failed InternalError at Execute, not retried, 1 event"}
    )


def _crashing_handler(event: Any, context: Any) -> Any:
    raise RuntimeError("handler crashed mid-task (injected)")


def _bucket_exists(agent: Any, name: str, account: str = ZEUS) -> bool:
    try:
        agent.session(account).client("s3").head_bucket(Bucket=name)
        return True
    except Exception:
        return False


def test_crash_after_the_side_effect_is_retried_and_creates_once(local_agent: Any, observer: Observer) -> None:
    """The Lambda service fails after Execute ran (the resource exists): the state machine retries Execute, and the
    replayed create finds the resource instead of making a second one."""
    agent = local_agent
    tag = run_tag()
    tasks = {f"rel-replay-{tag}-{kind}": kind for kind in ("s3", "ec2", "lambda")}
    execute = function_name(agent, "execute")
    crashed: set[str] = set()

    def after_effect(original: Any, name: str, payload: Any) -> tuple[bool, Any]:
        ok, result = original(name, payload)
        task_id = (payload.get("task") or {}).get("id") if isinstance(payload, dict) else None
        if name.endswith(execute) and task_id in tasks and task_id not in crashed and ok:
            crashed.add(task_id)
            return False, {"errorType": "Lambda.ServiceException", "errorMessage": "injected after the call"}
        return ok, result

    submit_all(agent, [_create(t, kind, t) for t, kind in tasks.items()])
    with creation_ledger() as ledger, invocation_log(agent) as log, wrap_invocations(agent, after_effect):
        records = drive(agent, list(tasks), timeout=180)
    assert statuses(records) == Counter({"Completed": 3}), records
    assert crashed == set(tasks)
    for task_id in tasks:
        assert sum(1 for step, t, _, _ in log if step == "execute" and t == task_id) == 2, task_id
    mine = {k: v for k, v in ledger.items() if tag in k[1]}
    assert sorted(mine.values()) == [1, 1, 1], mine
    assert _one_event_each(observer, list(tasks)) == Counter({1: 3})
    outcome = "3 of 3 retried, Completed, each resource created once"
    record("faults", {"crash after the side effect (Lambda.ServiceException)": outcome})


def test_s3_create_whose_tagging_fails_for_good_is_undone_then_retried(local_agent: Any) -> None:
    """The first attempt's tagging outlasts botocore's retries: the provider removes the bucket it just made (an
    untagged bucket could not be told from a human's), the state machine retries, the second attempt completes."""
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    agent = local_agent
    task_id = f"rel-tagfail-{run_tag()}"
    original = S3Backend.put_bucket_tagging
    calls = [0]

    def put_bucket_tagging(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        if bucket_name == task_id and calls[0] < 6:  # outlasts botocore's 6 attempts (RETRY_CONFIG: 5 retries) once
            calls[0] += 1
            raise S3ClientError("SlowDown", "Please reduce your request rate.")
        return original(self, bucket_name, *args, **kwargs)

    submit_all(agent, [_create(task_id, "s3", task_id)])
    S3Backend.put_bucket_tagging = put_bucket_tagging  # type: ignore[method-assign]
    try:
        records = drive(agent, [task_id], timeout=120)
    finally:
        S3Backend.put_bucket_tagging = original  # type: ignore[method-assign]
    assert records[task_id]["status"] == "Completed", records[task_id].get("error_message")
    assert calls[0] == 6
    tags = agent.session().client("s3").get_bucket_tagging(Bucket=task_id)["TagSet"]
    assert {"Key": "MiyabiTask", "Value": task_id} in tags


def test_register_retries_a_transaction_cancelled_by_a_conflict(local_agent: Any) -> None:
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    agent = local_agent
    task_id = f"rel-txn-{run_tag()}"
    original = DynamoDBBackend.transact_write_items
    cancelled = [0]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        if task_id in json.dumps(transact_items, default=str) and not cancelled[0]:
            cancelled[0] += 1  # another writer holds the item: DynamoDB cancels, the caller may retry
            raise TransactionCanceledException(
                [("TransactionConflict", "Transaction is ongoing for the item", None), (None, None, None)]
            )
        return original(self, transact_items)

    submit_all(agent, [_create(task_id, "s3", task_id)])
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        records = drive(agent, [task_id], timeout=120)
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
    assert cancelled[0] == 1
    assert records[task_id]["status"] == "Completed", records[task_id].get("error_message")


def test_publish_throttled_beyond_client_retries_is_retried_and_emitted_once(
    local_agent: Any, observer: Observer
) -> None:
    """PutEvents of the outcome throttled on all of botocore's attempts: the state machine retries the step, the task's
    event goes out exactly once (before the fix, the ClientError was not a retried error: no event at all)."""
    from moto.core.exceptions import JsonRESTError
    from moto.events.models import EventsBackend

    agent = local_agent
    task_id = f"rel-publish-{run_tag()}"
    original = EventsBackend.put_events
    throttled = [0]

    def put_events(self: Any, events: list[dict[str, Any]]) -> Any:
        ours = any(task_id in str(e.get("Detail", "")) and e.get("Source") == "miyabi.aws-agent" for e in events)
        if ours and throttled[0] < 6:
            throttled[0] += 1
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
        return original(self, events)

    submit_all(agent, [structured(task_id, "DiscoverResources", "LambdaFunction", account_id=ZEUS)])
    EventsBackend.put_events = put_events  # type: ignore[method-assign]
    try:
        records = drive(agent, [task_id], timeout=120)
    finally:
        EventsBackend.put_events = original  # type: ignore[method-assign]
    assert throttled[0] == 6
    assert records[task_id]["status"] == "Completed" and records[task_id]["event_emitted"] is True
    assert _one_event_each(observer, [task_id]) == Counter({1: 1})
    record(
        "faults",
        {"outcome PutEvents throttled 6x (all of botocore's attempts)": "retried by the state machine, 1 event"},
    )


# --- an account whose role cannot be assumed ---------------------------------------------------------------------


def test_unassumable_account_fails_with_access_denied(local_agent: Any, observer: Observer) -> None:
    agent = local_agent
    tag = run_tag()
    create, discover = f"rel-noassume-{tag}-c", f"rel-noassume-{tag}-s"
    details = [
        _create(create, "s3", f"rel-noassume-{tag}", account=ATHENA),
        structured(discover, "DiscoverResources", "Ec2Instance", account_id=ATHENA),
    ]
    submit_all(agent, details)
    with unassumable(ATHENA) as refused, invocation_log(agent) as log:
        records = drive(agent, [create, discover], timeout=120)
    for task_id in (create, discover):
        rec = records[task_id]
        assert rec["status"] == "Failed" and rec["error_code"] == "AccessDenied", rec
        assert rec["error_state"] == "Execute" and f"arn:aws:iam::{ATHENA}:role/MiyabiAgentRole" in rec["error_message"]
        assert sum(1 for step, t, _, _ in log if step == "execute" and t == task_id) == 1, "AccessDenied is final"
    assert refused and not _bucket_exists(agent, f"rel-noassume-{tag}", ATHENA)
    assert _one_event_each(observer, [create, discover]) == Counter({1: 2})
    record(
        "faults",
        {"account whose role cannot be assumed (Athena)": "2 of 2 Failed AccessDenied at Execute, not retried"},
    )


# --- the DLQ and the redrive command -----------------------------------------------------------------------------


def test_intake_failures_reach_the_dlq_and_redrive_brings_them_back(local_agent: Any, observer: Observer) -> None:
    from typer.testing import CliRunner

    from aws_agent.cli import app

    agent = local_agent
    tag = run_tag()
    broken = [f"rel-dlq-{tag}-{i}" for i in range(3)]
    bystanders = [f"rel-dlq-{tag}-ok{i}" for i in range(3)]
    module = handler_globals(agent, "intake")
    original = module["accept"]
    attempts: Counter[str] = Counter()

    def accept(rt: Any, body: str, message_id: str) -> dict[str, Any]:
        for task_id in broken:
            if f'"{task_id}"' in body:
                attempts[task_id] += 1
                raise RuntimeError(f"intake cannot process {task_id} (injected)")
        return dict(original(rt, body, message_id))

    dlq_before = dlq_depth(agent)
    submit_all(agent, [_create(t, "s3", t) for t in broken + bystanders])
    module["accept"] = accept
    try:
        records = drive(agent, bystanders, timeout=120)
        deadline = time.monotonic() + 90
        while dlq_depth(agent) < dlq_before + len(broken) and time.monotonic() < deadline:
            agent.poll_once()
            time.sleep(0.2)
    finally:
        module["accept"] = original
    in_dlq = dlq_depth(agent) - dlq_before
    assert statuses(records) == Counter({"Completed": len(bystanders)}), "the same batches' other messages ran"
    assert in_dlq == len(broken), (in_dlq, attempts)
    assert min(attempts.values()) >= 5, attempts  # maxReceiveCount
    assert not task_records(agent, broken), "a message the intake could not process left no task behind"

    result = CliRunner().invoke(
        app,
        ["redrive"],
        env={
            "AGENT_DLQ_URL": agent.outputs["DeadLetterQueueUrl"],
            "AGENT_TASK_QUEUE_URL": agent.outputs["TaskQueueUrl"],
        },
    )
    assert result.exit_code == 0, result.output
    assert f"moved {len(broken)} message(s)" in " ".join(result.output.split()), result.output
    assert dlq_depth(agent) == 0
    records = drive(agent, broken, timeout=120)
    assert statuses(records) == Counter({"Completed": len(broken)})
    assert _one_event_each(observer, broken + bystanders) == Counter({1: len(broken) + len(bystanders)})
    record(
        "dlq",
        {
            "messages the intake kept failing": len(broken),
            "receives before the DLQ (maxReceiveCount 5)": min(attempts.values()),
            "bystanders in the same batches": f"{len(bystanders)} Completed, none in the DLQ",
            "DLQ count before redrive": in_dlq,
            "`aws-agent redrive` moved": len(broken),
            "DLQ count after redrive": dlq_depth(agent),
            "redriven tasks Completed (1 event each)": len(broken),
        },
    )


# --- conditional-write conflicts ---------------------------------------------------------------------------------


def test_racing_writers_on_one_task_record(local_agent: Any, observer: Observer, sz: Size) -> None:
    """Writers racing on the same record (a step retried while its first attempt still runs): one pending record,
    one terminal status, one event."""
    from aws_agent.model import TaskStatus
    from aws_agent.pipeline import finish
    from aws_agent.pipeline.runtime import runtime

    rt = runtime()
    tag = run_tag()
    rounds = 10 if sz.name == "ci" else 50
    created_wins, emitted_wins, statuses_seen = Counter(), Counter(), Counter()  # type: ignore[var-annotated]
    ids = []
    for n in range(rounds):
        task_id = f"rel-cw-{tag}-{n:03d}"
        ids.append(task_id)
        won = _race([partial(rt.tasks.create_pending, task_id, source="event") for _ in range(8)])
        created_wins[won.count(True)] += 1
        task = {
            "id": task_id,
            "task_type": "DiscoverResources",
            "resource_type": "S3Bucket",
            "account_id": ZEUS,
            "region": "us-east-1",
        }
        done = {"task_id": task_id, "task": task, "execution": {"operation": "discover", "ready": True}}
        failed = {"task_id": task_id, "task": task, "error": {"Error": "TransientAwsError", "Cause": "gave up"}}
        outcomes = _race(
            [partial(finish.complete, rt, done) if i % 4 else partial(finish.fail, rt, failed) for i in range(8)]
        )
        emitted_wins[sum(1 for o in outcomes if o["emitted"])] += 1
        status = rt.tasks.get(task_id)["status"]  # type: ignore[index]
        statuses_seen[status] += 1
        assert status in (TaskStatus.COMPLETED.value, TaskStatus.FAILED.value)
    time.sleep(0.5)
    per_task = Counter(len(v) for v in observer.by_task(ids).values())
    assert created_wins == Counter({1: rounds}), created_wins
    assert emitted_wins == Counter({1: rounds}), emitted_wins
    assert per_task == Counter({1: rounds}), per_task
    record(
        "conflict",
        {
            "rounds (8 concurrent writers each)": rounds,
            "CreatePending winners per round": "exactly 1" if created_wins == Counter({1: rounds}) else created_wins,
            "finishers (6 Complete + 2 RecordFailure) that emitted": "exactly 1 per round",
            "terminal status": dict(statuses_seen),
            "result events per task": "exactly 1 for all",
        },
    )


def _race(calls: list[Any]) -> list[Any]:
    """Run the calls at once (a barrier releases all threads together); their results in order. A call that raises a
    transient error is run again, as the state machine's Retry would (a loser may wait for the winner's emission)."""
    from aws_agent.errors import TransientAwsError

    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        for attempt in range(5):
            try:
                results[i] = calls[i]()
                return
            except TransientAwsError as exc:
                if attempt == 4:
                    errors.append(exc)
                    return
                time.sleep(0.5)
            except BaseException as exc:
                errors.append(exc)
                raise

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(r is not None for r in results), "a racer did not finish"
    return results
