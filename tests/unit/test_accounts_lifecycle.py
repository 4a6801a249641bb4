"""Account lifecycle on a moto organization: create through a wait loop, move, tag, list; close is refused."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from organization import make_org

from aws_agent.accounts.directory import AccountDirectory
from aws_agent.accounts.lifecycle import (
    AccountCreation,
    ApprovalRequired,
    close_account,
    create_account,
    creation_status,
    finish_creation,
    move_account,
    wait_for_account,
)
from aws_agent.basics import AccountRole
from aws_agent.errors import AwsCallFailed, TaskAnalysisError

pytestmark = pytest.mark.usefixtures("mocked_aws")


def organizations() -> Any:
    return boto3.client("organizations", region_name="us-east-1")


def test_create_move_and_tag_through_the_wait_loop() -> None:
    org = make_org()
    client = organizations()
    creation = create_account(client, "Hermes", "hermes@example.com", AccountRole.PRODUCTION)
    done = wait_for_account(client, creation)
    assert done.ready and done.state == "SUCCEEDED" and done.account_id
    account_id = finish_creation(client, done, role=AccountRole.PRODUCTION, destination=org.ous["Production"])
    directory = AccountDirectory.load(client)
    hermes = directory.find("hermes")
    assert hermes is not None and hermes.id == account_id
    assert hermes.parent_id == org.ous["Production"] and hermes.role is AccountRole.PRODUCTION
    assert hermes.tags["MiyabiAccountRole"] == "Production" and hermes.tags["MiyabiManaged"] == "true"
    assert move_account(client, account_id, org.ous["Production"]) == org.ous["Production"]  # already there


def test_in_progress_request_is_polled_until_it_succeeds() -> None:
    """Organizations creates accounts asynchronously; moto answers SUCCEEDED at once, so the states before are stubbed
    against the real service model."""
    client = boto3.client("organizations", region_name="us-east-1")
    stubber = Stubber(client)
    base = {"Id": "car-1234567890abcdef", "AccountName": "Hermes"}
    stubber.add_response("create_account", {"CreateAccountStatus": {**base, "State": "IN_PROGRESS"}})
    for state in ("IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"):
        extra = {"AccountId": "555555555555"} if state == "SUCCEEDED" else {}
        stubber.add_response(
            "describe_create_account_status",
            {"CreateAccountStatus": {**base, "State": state, **extra}},
            {"CreateAccountRequestId": base["Id"]},
        )
    slept: list[float] = []
    with stubber:
        creation = create_account(client, "Hermes", "hermes@example.com", AccountRole.DEVELOPMENT)
        assert creation.ready is False
        done = wait_for_account(client, creation, sleep=slept.append, poll_seconds=10)
    assert done.account_id == "555555555555" and slept == [10, 10, 10]


def test_failed_creation_and_bad_input_are_clear_errors() -> None:
    client = organizations()
    with pytest.raises(TaskAnalysisError, match="e-mail"):
        create_account(client, "Hermes", "not-an-email", AccountRole.DEVELOPMENT)
    failed = AccountCreation("car-1", "FAILED", failure_reason="EMAIL_ALREADY_EXISTS")
    with pytest.raises(AwsCallFailed, match="EMAIL_ALREADY_EXISTS"):
        finish_creation(client, failed, role=AccountRole.DEVELOPMENT, destination=None)


def test_status_reads_the_request() -> None:
    make_org()
    client = organizations()
    creation = create_account(client, "Iris", "iris@example.com", AccountRole.SECURITY)
    assert creation_status(client, creation.request_id).account_id is not None


def test_closing_an_account_is_refused_without_approval() -> None:
    with pytest.raises(ApprovalRequired, match="requires a human approval") as info:
        close_account("222222222222")
    assert info.value.code == "GuardDenied"
    with pytest.raises(ApprovalRequired, match="cannot be verified"):
        close_account("222222222222", approved_by="alice")
