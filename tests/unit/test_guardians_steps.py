"""The guardians inside the pipeline's steps (moto): Guard's decisions, RequestApproval, approve/reject, Cancelled."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from test_pipeline_steps import ACCOUNT, _received, _task, rt  # the same moto-backed Runtime fixture

from aws_agent.approvals import REJECTED_ERROR, ApprovalNotPending, decide, request_approval
from aws_agent.errors import GuardDenied
from aws_agent.model import AwsResource, ResourceState, ServiceAgent
from aws_agent.pipeline import finish, guard
from aws_agent.pipeline.runtime import Runtime

__all__ = ["rt"]
EXPENSIVE = {"resource_type": "Ec2Instance", "parameters": {"instance_type": "m5.4xlarge"}}


def test_guard_asks_for_approval_and_records_every_guardian(rt: Runtime) -> None:
    decision = guard.guard(rt, {"task": _task(**EXPENSIVE)})
    assert decision["decision"] == "needs-approval"
    assert decision["approval"] == {"timeout_seconds": 86400}
    recorded = rt.tasks.get("t-3")["guard"]  # type: ignore[index]
    assert recorded["decision"] == "needs-approval" and recorded["policy_version"] == "1"
    assert {g["guardian"]: g["decision"] for g in recorded["guardians"]}["Michael"] == "needs-approval"


def test_guard_counts_the_accounts_managed_resources_for_the_quota(rt: Runtime) -> None:
    for n in range(2):
        resource = AwsResource(id=f"b-{n}", arn=f"arn:aws:s3:::b-{n}", resource_type="S3Bucket", region="us-east-1",
                               account_id=ACCOUNT, state=ResourceState.ACTIVE, owner_agent="SteveJobs")  # fmt: skip
        agent = ServiceAgent(name=resource.key, service_type="S3Bucket", state=ResourceState.ACTIVE, autonomy_level=5,
                             decision_maker="SteveJobs", cost_per_day=0)  # fmt: skip
        rt.resources.save(resource, agent)
    rt.settings.config.policies = {"buddha": {"quotas": {"S3Bucket": 2}}}
    with pytest.raises(GuardDenied, match="Buddha: quota: account 123456789012 already has 2 managed S3Bucket"):
        guard.guard(rt, {"task": _task()})
    assert rt.tasks.get("t-3")["guard"]["decision"] == "deny"  # type: ignore[index]


def test_request_approval_stores_the_token_and_announces_it(rt: Runtime) -> None:
    decision = guard.guard(rt, {"task": _task(**EXPENSIVE)})
    event = {"detail": {"requested_by": "alice"}}
    request_approval(rt, {"task": _task(**EXPENSIVE), "guard": decision, "token": "tok-1", "event": event})
    approval = rt.tasks.get("t-3")["approval"]  # type: ignore[index]
    assert approval["status"] == "requested" and approval["token"] == "tok-1"
    [announced] = _received(rt)
    assert announced["detail-type"] == "ApprovalRequested"
    detail = announced["detail"]
    assert detail["requested_by"] == "alice" and detail["estimated_daily_cost"] == "18.4320"
    assert detail["timeout_seconds"] == 86400 and any("Michael" in r for r in detail["reasons"])
    assert [g["guardian"] for g in detail["guardians"]] == ["Michael"]


def _waiting(rt: Runtime) -> None:
    decision = guard.guard(rt, {"task": _task(**EXPENSIVE)})
    request_approval(rt, {"task": _task(**EXPENSIVE), "guard": decision, "token": "tok-9"})
    _received(rt)


@pytest.mark.parametrize("approve", [True, False])
def test_decide_sends_the_stored_token(rt: Runtime, approve: bool) -> None:
    _waiting(rt)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(sfn) as stub:
        if approve:
            stub.add_response("send_task_success", {}, {"taskToken": "tok-9", "output": ANY})
        else:
            stub.add_response("send_task_failure", {},
                              {"taskToken": "tok-9", "error": REJECTED_ERROR, "cause": "too big"})  # fmt: skip
        decision = decide(rt.tasks, sfn, "t-3", approve=approve, by="bob", reason="too big")
        stub.assert_no_pending_responses()
    assert decision["status"] == ("approved" if approve else "rejected")
    assert rt.tasks.get("t-3")["approval_decision"]["decided_by"] == "bob"  # type: ignore[index]
    with pytest.raises(ApprovalNotPending):  # decided once: a second decision is refused before any call
        decide(rt.tasks, sfn, "t-3", approve=True, by="eve")


def test_decide_refuses_a_task_that_is_not_waiting(rt: Runtime) -> None:
    guard.guard(rt, {"task": _task()})
    with pytest.raises(ApprovalNotPending, match="never requested"):
        decide(rt.tasks, boto3.client("stepfunctions", region_name="us-east-1"), "t-3", approve=True, by="bob")


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        ({"Error": REJECTED_ERROR, "Cause": "not this quarter"}, "ApprovalRejected", "rejected: not this quarter"),
        ({"Error": "States.Timeout", "Cause": ""}, "ApprovalTimedOut", "within 86400 seconds"),
    ],
)
def test_no_approval_ends_cancelled_with_one_event(rt: Runtime, error: dict, code: str, text: str) -> None:
    rt.tasks.create_pending("t-3", source="event")
    decision = guard.guard(rt, {"task": _task(**EXPENSIVE)})
    state = {"task_id": "t-3", "task": _task(**EXPENSIVE), "guard": decision, "error": error, "cancelled": True}
    first, again = finish.fail(rt, state), finish.fail(rt, state)
    assert first["emitted"] is True and again["emitted"] is False
    record = rt.tasks.get("t-3")
    assert record is not None and record["status"] == "Cancelled"
    assert record["error_code"] == code and text in record["error_message"] and record["error_state"] == "Approval"
    events = _received(rt)
    assert [e["detail-type"] for e in events] == ["AwsTaskFailed"]
    assert events[0]["detail"]["status"] == "Cancelled" and events[0]["detail"]["error"]["code"] == code


def test_approval_requested_schema_is_committed() -> None:
    from aws_agent.cli import SCHEMA_DIR

    schema = json.loads((SCHEMA_DIR / "ApprovalRequested.v1.json").read_text())
    assert {"task_id", "reasons", "estimated_daily_cost", "timeout_seconds"} <= set(schema["required"])


def test_a_broken_approval_request_is_a_failure_of_the_approval_step(rt: Runtime) -> None:
    rt.tasks.create_pending("t-3", source="event")
    decision = guard.guard(rt, {"task": _task(**EXPENSIVE)})
    error = {"Error": "AccessDenied", "Cause": json.dumps({"errorMessage": "no events:PutEvents"})}
    finish.fail(rt, {"task_id": "t-3", "task": _task(**EXPENSIVE), "guard": decision, "error": error})
    record = rt.tasks.get("t-3")
    assert record is not None and record["status"] == "Failed" and record["error_state"] == "Approval"


@pytest.mark.parametrize(
    ("state", "metric"),
    [
        ({"approval": {"approved": True}}, "ApprovalsApproved"),
        ({"approval": {"approved": True}, "cancelled": {"Error": "ApprovalRejected"}}, "ApprovalsRejected"),
        ({"cancelled": {"Error": "States.Timeout"}}, "ApprovalsRejected"),
        ({}, None),
    ],
)
def test_the_dashboards_approval_metric_of_a_finished_task(state: dict, metric: str | None) -> None:
    from aws_agent.pipeline.finish import approval_metric

    assert approval_metric(state) == metric
