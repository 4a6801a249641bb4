"""The versioned event contract: validation of incoming details, committed schemas, error mapping."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from aws_agent.cli import SCHEMA_DIR, render_schemas
from aws_agent.errors import code_for
from aws_agent.events import TaskOutcome, TaskRequest
from aws_agent.pipeline.finish import describe_error
from aws_agent.pipeline.intake import task_id_for

STRUCTURED = {"task_id": "t-1", "task": {"task_type": "CreateResource", "resource_type": "S3Bucket"}}
ISSUE = {"task_id": "t-2", "issue": {"number": 3, "title": "Deploy Lambda function for API endpoint"}}


def test_structured_and_issue_requests_validate() -> None:
    assert TaskRequest.model_validate(STRUCTURED).task is not None
    request = TaskRequest.model_validate(ISSUE)
    assert request.issue is not None and request.version == "1" and request.dry_run is False


@pytest.mark.parametrize(
    "detail",
    [
        {"task_id": "t-3"},  # neither task nor issue
        {**STRUCTURED, **ISSUE, "task_id": "t-4"},  # both
        {**STRUCTURED, "version": "2"},
        {**STRUCTURED, "unexpected": 1},
        {"task_id": "t 5", "task": STRUCTURED["task"]},
        {"task_id": "t-6", "issue": {"number": 0, "title": "x"}},
        {"task_id": "t-7", "issue": {"number": 1, "title": "x", "body": "a" * 70_000}},
        {"task_id": "t-8", "issue": {"number": 1, "title": "x", "labels": ["l"] * 51}},
        {"task_id": "t-9", "task": {"task_type": "CreateResource", "resource_type": "S3Bucket", "region": "nowhere"}},
    ],
)
def test_invalid_requests_are_rejected(detail: dict) -> None:
    with pytest.raises(ValidationError):
        TaskRequest.model_validate(detail)


def test_committed_schemas_are_current() -> None:
    for name, text in render_schemas().items():
        assert (SCHEMA_DIR / name).read_text() == text, f"{name} is stale: run `aws-agent schemas --write`"
    requested = json.loads((SCHEMA_DIR / "AwsTaskRequested.v1.json").read_text())
    assert "task_id" in requested["required"]
    # The spec's seven task types plus AnalyzeBilling (README "Billing as a task"), in version 1 of the contract.
    assert requested["$defs"]["AwsTaskType"]["enum"][-1] == "AnalyzeBilling"
    assert TaskRequest.model_validate({"task_id": "t-10", "task": {"task_type": "AnalyzeBilling"}}).task is not None
    outcome = json.loads((SCHEMA_DIR / "AwsTaskFailed.v1.json").read_text())
    assert {"code", "message"} <= set(outcome["$defs"]["ErrorInfo"]["properties"])


def test_outcome_serializes_without_nulls() -> None:
    body = json.loads(TaskOutcome(task_id="t", status="Completed").model_dump_json(exclude_none=True))
    assert body["version"] == "1" and "error" not in body


@pytest.mark.parametrize(
    ("name", "code"),
    [("GuardDenied", "GuardDenied"), ("InvalidTaskEvent", "InvalidEvent"), ("TransientAwsError", "Throttled"),
     ("States.Timeout", "Timeout"), ("KeyError", "InternalError")],
)  # fmt: skip
def test_error_codes(name: str, code: str) -> None:
    assert code_for(name) == code


def test_describe_error_reads_lambda_causes() -> None:
    cause = json.dumps({"errorType": "GuardDenied", "errorMessage": "region x is not allowed", "stackTrace": []})
    assert describe_error({"Error": "GuardDenied", "Cause": cause}) == ("GuardDenied", "region x is not allowed")
    assert describe_error({"Error": "States.Timeout", "Cause": "timed out"}) == ("States.Timeout", "timed out")
    assert describe_error({}) == ("States.TaskFailed", "States.TaskFailed")


def test_task_ids_for_good_and_bad_messages() -> None:
    event = {"id": "abc", "source": "miyabi.orchestrator", "detail": {"task_id": "ok-1"}}
    assert task_id_for(json.dumps(event), "m1") == ("ok-1", event)
    bad_id = {**event, "detail": {"task_id": "no spaces allowed"}}
    assert task_id_for(json.dumps(bad_id), "m1")[0] == "event-abc"
    task_id, raw = task_id_for("{nope", "m2")
    assert task_id == "msg-m2" and "not JSON" in raw["problem"]
    assert task_id_for("[1, 2]", "m3")[0] == "msg-m3"
    huge = json.dumps({**event, "detail": {"task_id": "big", "pad": "x" * 300_000}})
    task_id, raw = task_id_for(huge, "m4")
    assert task_id == "msg-m4" and "larger" in raw["problem"] and len(raw["raw"]) <= 2000
