"""Account lifecycle: requests checked before the creation workflow, its outcome read back; move, tag; close refused."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from organization import make_org
from pydantic import ValidationError

from aws_agent.accounts.directory import AccountDirectory
from aws_agent.accounts.lifecycle import (
    AccountRequest,
    ApprovalRequired,
    PendingClosure,
    account_creation,
    decide_closure,
    move_account,
    start_account_closure,
    start_account_creation,
    tag_account,
    wait_for_creation,
)
from aws_agent.basics import AccountRole
from aws_agent.errors import GuardDenied, ResourceConflict

pytestmark = pytest.mark.usefixtures("mocked_aws")


def organizations() -> Any:
    return boto3.client("organizations", region_name="us-east-1")


def test_move_and_tag_an_account() -> None:
    org = make_org()
    client = organizations()
    apollo = org.accounts["Apollo"]
    left = move_account(client, apollo, org.ous["Security"])
    assert left == org.ous["Production"]
    assert move_account(client, apollo, org.ous["Security"]) == org.ous["Security"]  # already there: no call
    tag_account(client, apollo, AccountRole.SECURITY)
    directory = AccountDirectory.load(client)
    moved = directory.find("apollo")
    assert moved is not None and moved.parent_id == org.ous["Security"] and moved.role is AccountRole.SECURITY


def test_account_request_is_checked_before_the_workflow_starts() -> None:
    request = AccountRequest(name=" Hermes ", email="hermes@example.com", role=AccountRole.PRODUCTION)
    assert request.workflow_input() == {"name": "Hermes", "email": "hermes@example.com", "role": "Production"}
    placed = AccountRequest(
        name="Hermes", email="hermes@example.com", role="Production", destination="ou-ab12-cd34ef56"
    )
    assert placed.workflow_input()["destination"] == "ou-ab12-cd34ef56"
    unplaced = AccountRequest(name="Hermes", email="hermes@example.com", role="Production", destination="")
    assert "destination" not in unplaced.workflow_input()  # what `accounts create` without --ou sends: the root
    for bad in (
        {"email": "not-an-email"},
        {"name": ""},
        {"name": "x" * 51},
        {"role": "Emperor"},
        {"destination": "Sandbox"},  # a name: the CLI resolves names to ids first
        {"extra": "field"},
    ):
        with pytest.raises(ValidationError):
            AccountRequest.model_validate(
                {"name": "Hermes", "email": "hermes@example.com", "role": "Production", **bad}
            )


def test_execution_name_is_per_email_address() -> None:
    one = AccountRequest(name="Hermes / prod", email="Hermes@Example.com", role=AccountRole.PRODUCTION)
    same = AccountRequest(name="Hermes / prod", email="hermes@example.com", role=AccountRole.DEVELOPMENT)
    other = AccountRequest(name="Hermes / prod", email="hermes2@example.com", role=AccountRole.PRODUCTION)
    assert one.execution_name() == same.execution_name() != other.execution_name()
    assert one.execution_name().startswith("account-Hermes---prod-") and len(one.execution_name()) <= 80
    assert "example" not in one.execution_name()  # the address is not shown in the execution's name


def test_workflow_outcomes_are_read_from_the_execution() -> None:
    """DescribeExecution's output and error become the run; the service model checks the stubbed shapes."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    arn = "arn:aws:states:us-east-1:123456789012:execution:lifecycle:account-Hermes-0123"
    base = {"executionArn": arn, "stateMachineArn": arn, "startDate": "2026-11-26T00:00:00Z"}
    output = {"account_id": "555555555555", "parent_id": "ou-ab12-cd34ef56", "polls": 4}
    stubber = Stubber(client)
    stubber.add_response("describe_execution", {**base, "status": "RUNNING"})
    stubber.add_response("describe_execution", {**base, "status": "SUCCEEDED", "output": json.dumps(output)})
    stubber.add_response(
        "describe_execution",
        {**base, "status": "FAILED", "error": "AccountCreationFailed", "cause": "EMAIL_ALREADY_EXISTS"},
    )
    slept: list[float] = []
    with stubber:
        run = wait_for_creation(client, arn, sleep=slept.append, poll_seconds=5)
        failed = account_creation(client, arn)
    assert (run.status, run.account_id, run.parent_id, run.polls) == (
        "SUCCEEDED",
        "555555555555",
        "ou-ab12-cd34ef56",
        4,
    )
    assert slept == [5]
    assert failed.done and failed.error == "AccountCreationFailed" and failed.cause == "EMAIL_ALREADY_EXISTS"


def test_closing_needs_a_reason_and_a_managed_account() -> None:
    """Refused before any workflow starts (the Step Functions client is never called: a stub with no answers)."""
    org = make_org()
    client = organizations()
    stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:closure"
    with Stubber(stepfunctions):
        with pytest.raises(ApprovalRequired, match="needs a reason"):
            start_account_closure(stepfunctions, client, arn, org.accounts["Apollo"], requested_by="alice", reason=" ")
        with pytest.raises(GuardDenied, match="not tagged MiyabiManaged=true") as info:
            start_account_closure(stepfunctions, client, arn, org.accounts["Apollo"], requested_by="alice", reason="x")
    assert info.value.code == "GuardDenied"


def test_whoever_asked_cannot_approve() -> None:
    stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
    pending = PendingClosure("arn:exec", "222222222222", "arn:aws:iam::1:user/alice", "done", "token-1")
    stubber = Stubber(stepfunctions)
    stubber.add_response("send_task_failure", {}, {"taskToken": "token-1", "error": "ApprovalRejected", "cause": "no"})
    with stubber:
        with pytest.raises(GuardDenied, match="cannot approve"):
            decide_closure(stepfunctions, pending, by="arn:aws:iam::1:user/alice", approve=True)
        decide_closure(stepfunctions, pending, by="arn:aws:iam::1:user/alice", approve=False, reason="no")
    stubber.assert_no_pending_responses()


def test_a_failed_attempt_can_be_retried_and_a_running_one_is_not_doubled() -> None:
    """An ended execution's name stays taken (90 days): a retry after a failure runs as `…-2`; the service model
    checks the stubbed shapes."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:lifecycle"
    request = AccountRequest(name="Hermes", email="hermes@example.com", role=AccountRole.PRODUCTION)
    first = machine.replace(":stateMachine:", ":execution:") + f":{request.execution_name()}"
    body = json.dumps(request.workflow_input())
    exists = {"service_error_code": "ExecutionAlreadyExists", "service_message": "exists", "http_status_code": 400}
    described = {"executionArn": first, "stateMachineArn": machine, "startDate": "2026-11-26T00:00:00Z", "input": body}
    stubber = Stubber(client)
    stubber.add_client_error("start_execution", **exists)
    stubber.add_response("describe_execution", {**described, "status": "FAILED"})
    stubber.add_response(
        "start_execution",
        {"executionArn": f"{first}-2", "startDate": "2026-11-26T00:01:00Z"},
        {"stateMachineArn": machine, "name": f"{request.execution_name()}-2", "input": body},
    )
    other = AccountRequest(name="Hermes", email="hermes@example.com", role=AccountRole.SECURITY)
    stubber.add_client_error("start_execution", **exists)
    stubber.add_response("describe_execution", {**described, "status": "RUNNING"})
    with stubber:
        assert start_account_creation(client, machine, request) == f"{first}-2"
        with pytest.raises(ResourceConflict, match="running with other parameters"):
            start_account_creation(client, machine, other)
    stubber.assert_no_pending_responses()
