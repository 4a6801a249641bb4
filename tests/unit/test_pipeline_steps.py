"""Pipeline steps in process against moto: task records, guard decisions, exactly-once result events."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aws_agent.config import AgentConfig
from aws_agent.errors import GuardDenied, InvalidTaskEvent, TaskAnalysisError
from aws_agent.local.stack import create_tables
from aws_agent.local.template import Resolver, resources_of
from aws_agent.model import AwsResourceType, TaskStatus
from aws_agent.pipeline import analyze, finish, guard
from aws_agent.pipeline.runtime import Runtime
from aws_agent.settings import Settings

ACCOUNT = "123456789012"


@pytest.fixture
def rt(mocked_aws: None, local_template: dict[str, Any]) -> Runtime:
    """A Runtime wired to tables created from the synthesized template, and an observer on the agent's bus."""
    session = boto3.Session(region_name="us-east-1")
    resolver = Resolver(account_id=ACCOUNT, region="us-east-1")
    create_tables(session, local_template, resolver)
    names = {
        logical: resolver.refs[logical]
        for logical in resources_of(local_template, "AWS::DynamoDB::Table")
        | resources_of(local_template, "AWS::DynamoDB::GlobalTable")
    }
    by_key = {res["Properties"]["KeySchema"][0]["AttributeName"]: names[lid] for lid, res in _tables(local_template)}
    events = session.client("events")
    events.create_event_bus(Name="agent-bus")
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    events.put_rule(Name="all", EventBusName="agent-bus", EventPattern=json.dumps({"source": ["miyabi.aws-agent"]}))
    events.put_targets(
        Rule="all", EventBusName="agent-bus", Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:observer"}]
    )
    settings = Settings(
        tasks_table=by_key["task_id"],
        resources_table=by_key["resource_key"],
        agents_table=by_key["name"],
        event_bus="agent-bus",
        agent_account_id=ACCOUNT,
        preset_config=AgentConfig(
            accounts={"Apollo": "222222222222"},
            allowed_accounts=["222222222222"],
            allowed_resource_types=[
                AwsResourceType.S3_BUCKET,
                AwsResourceType.EC2_INSTANCE,
                AwsResourceType.LAMBDA_FUNCTION,
            ],
        ),
    )
    runtime = Runtime(settings)
    runtime.observer_url = url  # type: ignore[attr-defined]
    return runtime


def _tables(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kinds = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
    return [item for kind in kinds for item in resources_of(template, kind).items()]


def _received(rt: Runtime) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=rt.observer_url, MaxNumberOfMessages=10).get("Messages", [])  # type: ignore[attr-defined]
    return [json.loads(m["Body"]) for m in messages]


def _event(detail: dict[str, Any]) -> dict[str, Any]:
    return {"id": "e1", "source": "miyabi.orchestrator", "detail-type": "AwsTaskRequested", "detail": detail}


def test_analyze_records_structured_task_in_progress(rt: Runtime) -> None:
    rt.tasks.create_pending("t-1", source="event")
    detail = {
        "task_id": "t-1",
        "task": {"task_type": "CreateResource", "resource_type": "S3Bucket", "account_name": "apollo"},
    }
    task = analyze.analyze(rt, {"task_id": "t-1", "event": _event(detail)})
    assert task["account_id"] == "222222222222" and task["assigned_agent"] == "SteveJobs"
    record = rt.tasks.get("t-1")
    assert record is not None
    assert record["status"] == "InProgress" and record["resource_type"] == "S3Bucket"
    assert record["evidence"] == {"source": "structured"}


@pytest.mark.parametrize(
    ("event", "error", "text"),
    [
        ({"raw": "{", "problem": "message body is not JSON"}, InvalidTaskEvent, "not JSON"),
        ({"source": "evil", "detail-type": "AwsTaskRequested", "detail": {}}, InvalidTaskEvent, "expected source"),
        (_event({"task_id": "t-2"}), InvalidTaskEvent, "exactly one of 'task' or 'issue'"),
        (
            _event({"task_id": "t-2", "task": {"task_type": "CreateResource", "account_name": "Hermes"}}),
            TaskAnalysisError,
            "unknown account 'Hermes'",
        ),
    ],
)
def test_analyze_rejects_bad_input_with_clear_errors(rt: Runtime, event: dict, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        analyze.analyze(rt, {"task_id": "t-2", "event": event})


def test_a_huge_unknown_field_name_is_not_echoed_back() -> None:
    """Field names are input too (found by the reliability fuzz test): the message names them, shortened."""
    with pytest.raises(InvalidTaskEvent) as info:
        analyze.parse_request(_event({"A" * 5000: None}))
    assert len(info.value.message) < 600 and "A" * 80 + "…" in info.value.message


def _task(**overrides: Any) -> dict[str, Any]:
    base = {"id": "t-3", "task_type": "CreateResource", "resource_type": "S3Bucket",
            "account_id": ACCOUNT, "region": "us-east-1"}  # fmt: skip
    return {**base, **overrides}


def test_guard_allows_and_records_its_decision(rt: Runtime) -> None:
    decision = guard.guard(rt, {"task": _task()})
    assert decision["decision"] == "allow"
    assert rt.tasks.get("t-3")["guard"]["decision"] == "allow"  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"region": "eu-west-1"}, "region eu-west-1"),
        ({"account_id": "999999999999"}, "account 999999999999"),
        ({"resource_type": "SNS"}, "resource type SNS"),
    ],
)
def test_guard_denies_outside_allow_lists(rt: Runtime, overrides: dict, reason: str) -> None:
    with pytest.raises(GuardDenied, match=reason):
        guard.guard(rt, {"task": _task(**overrides)})
    assert rt.tasks.get("t-3")["guard"]["decision"] == "deny"  # type: ignore[index]


def test_failure_is_recorded_and_emitted_exactly_once(rt: Runtime) -> None:
    rt.tasks.create_pending("t-4", source="event")
    cause = json.dumps({"errorType": "GuardDenied", "errorMessage": "guard denied the task: region x"})
    state = {"task_id": "t-4", "task": _task(id="t-4"), "error": {"Error": "GuardDenied", "Cause": cause}}
    first = finish.fail(rt, state)
    again = finish.fail(rt, state)  # a retried RecordFailure step
    assert first["emitted"] is True and again["emitted"] is False
    record = rt.tasks.get("t-4")
    assert record is not None
    assert record["status"] == "Failed" and record["error_code"] == "GuardDenied"
    assert record["error_state"] == "Guard" and record["event_emitted"] is True
    events = _received(rt)
    assert [e["detail-type"] for e in events] == ["AwsTaskFailed"]
    assert events[0]["detail"]["error"] == {"code": "GuardDenied", "message": "guard denied the task: region x",
                                            "state": "Guard"}  # fmt: skip


def test_finish_after_crash_before_emit_emits_on_retry(rt: Runtime) -> None:
    rt.tasks.create_pending("t-5", source="event")
    assert rt.tasks.finish("t-5", TaskStatus.COMPLETED, {}) is True  # ... and the Lambda died before emitting
    assert rt.tasks.finish("t-5", TaskStatus.COMPLETED, {}) is True  # the retry may emit
    rt.tasks.mark_emitted("t-5")
    assert rt.tasks.finish("t-5", TaskStatus.COMPLETED, {}) is False  # now it may not
    assert rt.tasks.finish("t-5", TaskStatus.FAILED, {}) is False  # a terminal task never changes status
    assert rt.tasks.get("t-5")["status"] == "Completed"  # type: ignore[index]


def test_pending_record_is_created_once(rt: Runtime) -> None:
    assert rt.tasks.create_pending("t-6", source="event") is True
    assert rt.tasks.create_pending("t-6", source="event") is False
    assert [t["task_id"] for t in rt.tasks.list(status=TaskStatus.PENDING)] == ["t-6"]


def test_hostile_error_text_is_capped(rt: Runtime) -> None:
    state = {"task_id": "t-7", "error": {"Error": "KeyError", "Cause": "x" * 100_000}}
    finish.fail(rt, state)
    record = rt.tasks.get("t-7")
    assert record is not None and record["error_code"] == "InternalError" and len(record["error_message"]) <= 4000
    assert record["error_state"] == "Analyze"
