"""Account creation end to end on the embedded AWS: the deployed workflow polls Organizations in its Wait loop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from aws_agent.accounts.events import AccountCreated, AccountCreationFailed
from aws_agent.accounts.lifecycle import AccountRequest, account_creation, start_account_creation
from aws_agent.basics import AccountRole

pytestmark = pytest.mark.e2e


@dataclass
class Org:
    client: Any
    root: str
    sandbox: str


@pytest.fixture
def org(local_agent: Any) -> Iterator[Org]:
    """An organization with a Sandbox OU for the test, removed afterwards: the other end-to-end tests resolve the
    example accounts from configuration, which a live organization would replace."""
    from aws_agent.accounts.directory import clear_cache

    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    sandbox = client.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]
    local_agent.results()  # drop earlier events
    try:
        yield Org(client, root, sandbox)
    finally:
        management = client.describe_organization()["Organization"]["MasterAccountId"]
        for account in client.list_accounts()["Accounts"]:
            if account["Id"] != management:
                client.remove_account_from_organization(AccountId=account["Id"])
        client.delete_organization()
        clear_cache()


@pytest.fixture
def account_states(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What Organizations answers, in order, for each read of a request's status (moto answers SUCCEEDED at once);
    the last one repeats. The test fills the list."""
    from moto.organizations.models import FakeAccount

    answers: list[str] = []
    original = FakeAccount.create_account_status.fget  # type: ignore[attr-defined]

    def scripted(account: Any) -> dict[str, Any]:
        status = original(account)
        state = answers.pop(0) if len(answers) > 1 else (answers[0] if answers else "SUCCEEDED")
        status["CreateAccountStatus"]["State"] = state
        if state != "SUCCEEDED":
            del status["CreateAccountStatus"]["AccountId"]
        if state == "FAILED":
            status["CreateAccountStatus"]["FailureReason"] = "EMAIL_ALREADY_EXISTS"
        return status

    monkeypatch.setattr(FakeAccount, "create_account_status", property(scripted))
    return answers


def _ended(execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(described)
        time.sleep(0.1)


def _states(execution_arn: str) -> list[str]:
    events = boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _events(agent: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in agent.results() if e["detail-type"] == detail_type]


def _start(agent: Any, request: AccountRequest) -> str:
    machine = agent.outputs["AccountLifecycleStateMachineArn"]
    return start_account_creation(boto3.client("stepfunctions"), machine, request)


def test_creation_is_polled_by_the_wait_loop_then_moved_and_announced(
    local_agent: Any, org: Org, account_states: list[str]
) -> None:
    account_states.extend(["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"])  # CreateAccount, then 3 polls
    request = AccountRequest(
        name="Hermes", email="hermes@example.com", role=AccountRole.PRODUCTION, destination=org.sandbox
    )
    execution = _start(local_agent, request)
    described = _ended(execution)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"), _states(execution))

    states = _states(execution)
    assert states.count("WaitForAccount") == 3 and states.count("DescribeCreateAccountStatus") == 3, states
    assert states.index("CreateAccount") < states.index("WaitForAccount") < states.index("MoveAccount")
    run = account_creation(boto3.client("stepfunctions"), execution)
    assert run.status == "SUCCEEDED" and run.polls == 3 and run.parent_id == org.sandbox

    assert run.account_id is not None
    account = org.client.describe_account(AccountId=run.account_id)["Account"]
    assert account["Name"] == "Hermes"
    assert org.client.list_parents(ChildId=run.account_id)["Parents"][0]["Id"] == org.sandbox
    tags = {t["Key"]: t["Value"] for t in org.client.list_tags_for_resource(ResourceId=run.account_id)["Tags"]}
    assert tags == {"MiyabiAccountRole": "Production", "MiyabiManaged": "true"}

    [created] = _events(local_agent, "AccountCreated")
    event = AccountCreated.model_validate(created)  # the workflow's event matches the published schema
    assert (event.account_id, event.name, event.role, event.parent_id, event.polls) == (
        run.account_id,
        "Hermes",
        AccountRole.PRODUCTION,
        org.sandbox,
        3,
    )


def test_the_same_request_started_twice_creates_one_account(local_agent: Any, org: Org) -> None:
    request = AccountRequest(name="Iris", email="iris@example.com", role=AccountRole.DEVELOPMENT)
    first = _start(local_agent, request)
    assert _ended(first)["status"] == "SUCCEEDED"
    assert _start(local_agent, request) == first  # same execution: no second CreateAccount
    names = [a["Name"] for a in org.client.list_accounts()["Accounts"]]
    assert names.count("Iris") == 1
    run = account_creation(boto3.client("stepfunctions"), first)
    assert run.parent_id == org.root  # no destination: it stays under the root
    assert "MoveAccount" not in _states(first)


def test_a_request_organizations_reports_failed_is_announced_with_the_reason(
    local_agent: Any, org: Org, account_states: list[str]
) -> None:
    account_states.extend(["IN_PROGRESS", "FAILED"])
    execution = _start(local_agent, AccountRequest(name="Janus", email="janus@example.com", role=AccountRole.SECURITY))
    described = _ended(execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "AccountCreationFailed" and "EMAIL_ALREADY_EXISTS" in described["cause"]
    assert "FindParent" not in _states(execution)
    [failed] = _events(local_agent, "AccountCreationFailed")
    event = AccountCreationFailed.model_validate(failed)
    assert event.error == "CreateAccountFailed" and "EMAIL_ALREADY_EXISTS" in event.cause
    assert event.name == "Janus" and event.request["State"] == "FAILED" and event.execution == execution


def test_a_malformed_request_fails_before_anything_is_created(local_agent: Any, org: Org) -> None:
    before = len(org.client.list_accounts()["Accounts"])
    machine = local_agent.outputs["AccountLifecycleStateMachineArn"]
    sfn = boto3.client("stepfunctions")
    bad_inputs = [
        {"name": "Kronos", "email": "kronos@example.com", "role": "Emperor"},
        {"name": "Kronos", "email": "kronos@example.com"},
        {"name": "Kronos", "email": "kronos@example.com", "role": "Production", "destination": "Sandbox"},
    ]
    for number, bad in enumerate(bad_inputs):
        started = sfn.start_execution(stateMachineArn=machine, name=f"bad-{number}", input=json.dumps(bad))
        described = _ended(started["executionArn"])
        assert described["status"] == "FAILED" and "InvalidRequest" in _states(started["executionArn"]), bad
        assert "role (one of Management" in described["cause"]
    assert len(org.client.list_accounts()["Accounts"]) == before
    failures = [AccountCreationFailed.model_validate(d) for d in _events(local_agent, "AccountCreationFailed")]
    assert [f.error for f in failures] == ["InvalidRequest"] * 3
    assert all(f.request == {"State": "NOT_STARTED"} for f in failures)


def test_cli_create_runs_the_workflow(local_agent: Any, org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_agent.cli import app

    for output, variable in (
        ("TasksTableName", "AGENT_TASKS_TABLE"),
        ("ResourcesTableName", "AGENT_RESOURCES_TABLE"),
        ("AgentsTableName", "AGENT_AGENTS_TABLE"),
        ("EventBusName", "AGENT_EVENT_BUS"),
        ("AccountLifecycleStateMachineArn", "AGENT_ACCOUNT_LIFECYCLE_STATE_MACHINE_ARN"),
    ):
        monkeypatch.setenv(variable, local_agent.outputs[output])
    args = ["accounts", "create", "--name", "Lyra", "--email", "lyra@example.com", "--role", "Security"]
    result = CliRunner().invoke(app, [*args, "--ou", "sandbox"])
    assert result.exit_code == 0, result.output
    assert "ready, role Security, in sandbox" in result.output
    lyra = next(a for a in org.client.list_accounts()["Accounts"] if a["Name"] == "Lyra")
    assert org.client.list_parents(ChildId=lyra["Id"])["Parents"][0]["Id"] == org.sandbox

    unplaced = CliRunner().invoke(app, ["accounts", "create", "--name", "Mira", "--email", "mira@example.com",
                                        "--role", "Development"])  # fmt: skip
    assert unplaced.exit_code == 0 and f"in {org.root}" in unplaced.output, unplaced.output  # no --ou: the root

    refused = CliRunner().invoke(app, ["accounts", "create", "--name", "Lyra", "--email", "nope", "--role", "Security"])
    assert refused.exit_code == 2 and "email" in refused.output


ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"


def _member(org: Org, name: str, *, managed: bool) -> str:
    tags = [{"Key": "MiyabiManaged", "Value": "true"}] if managed else []
    status = org.client.create_account(AccountName=name, Email=f"{name.lower()}@example.com", Tags=tags)
    request = status["CreateAccountStatus"]["Id"]
    return str(
        org.client.describe_create_account_status(CreateAccountRequestId=request)["CreateAccountStatus"]["AccountId"]
    )


def _pending(agent: Any, account_id: str, timeout: float = 30.0) -> Any:
    from aws_agent.accounts.lifecycle import pending_closure
    from aws_agent.approvals import ApprovalNotPending

    machine = agent.outputs["AccountClosureStateMachineArn"]
    deadline = time.monotonic() + timeout
    while True:
        try:
            return pending_closure(boto3.client("stepfunctions"), machine, account_id)
        except ApprovalNotPending:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _close(agent: Any, org: Org, account_id: str) -> str:
    from aws_agent.accounts.lifecycle import start_account_closure

    machine = agent.outputs["AccountClosureStateMachineArn"]
    return start_account_closure(
        boto3.client("stepfunctions"), org.client, machine, account_id, requested_by=ALICE, reason="project ended"
    )


def test_a_managed_account_is_closed_only_after_another_person_approves(local_agent: Any, org: Org) -> None:
    from aws_agent.accounts.events import AccountClosed, AccountClosureRequest
    from aws_agent.accounts.lifecycle import decide_closure
    from aws_agent.errors import GuardDenied

    account_id = _member(org, "Orion", managed=True)
    execution = _close(local_agent, org, account_id)
    pending = _pending(local_agent, account_id)
    assert pending.execution_arn == execution and pending.requested_by == ALICE and pending.reason == "project ended"
    assert _close(local_agent, org, account_id) == execution  # asked again while waiting: the same request
    assert "CloseAccount" not in _states(execution)  # nothing closed while it waits
    [requested] = _events(local_agent, "AccountClosureRequested")
    request = AccountClosureRequest.model_validate(requested)
    assert (request.account_id, request.name, request.requested_by, request.token) == (
        account_id,
        "Orion",
        ALICE,
        pending.token,
    )

    sfn = boto3.client("stepfunctions")
    with pytest.raises(GuardDenied, match="cannot approve"):
        decide_closure(sfn, pending, by=ALICE, approve=True)  # four eyes
    decide_closure(sfn, pending, by=BOB, approve=True, reason="confirmed with the owner")
    described = _ended(execution)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert _states(execution)[-3:] == ["CloseAccount", "AnnounceAccountClosed", "Closed"]
    [closed] = _events(local_agent, "AccountClosed")
    event = AccountClosed.model_validate(closed)
    assert (event.account_id, event.requested_by, event.approved_by) == (account_id, ALICE, BOB)


def test_a_rejected_closure_closes_nothing(local_agent: Any, org: Org) -> None:
    from aws_agent.accounts.events import AccountClosureFailed
    from aws_agent.accounts.lifecycle import decide_closure

    account_id = _member(org, "Pollux", managed=True)
    execution = _close(local_agent, org, account_id)
    decide_closure(boto3.client("stepfunctions"), _pending(local_agent, account_id), by=BOB, approve=False,
                   reason="still in use")  # fmt: skip
    described = _ended(execution)
    assert described["status"] == "FAILED" and described["error"] == "AccountClosureFailed"
    assert "still in use" in described["cause"]
    assert "CloseAccount" not in _states(execution)
    failures = [AccountClosureFailed.model_validate(d) for d in _events(local_agent, "AccountClosureFailed")]
    assert [(f.account_id, f.error) for f in failures] == [(account_id, "AccountClosureNotApproved")]


def test_an_unmanaged_account_is_never_put_to_a_human(local_agent: Any, org: Org) -> None:
    from aws_agent.errors import GuardDenied

    account_id = _member(org, "Castor", managed=False)
    with pytest.raises(GuardDenied, match="not tagged MiyabiManaged=true"):
        _close(local_agent, org, account_id)
    # Started directly, bypassing the library's check: the workflow refuses it before asking anyone.
    started = boto3.client("stepfunctions").start_execution(
        stateMachineArn=local_agent.outputs["AccountClosureStateMachineArn"],
        name="close-direct",
        input=json.dumps({"account_id": account_id, "requested_by": ALICE, "reason": "cleanup"}),
    )
    described = _ended(started["executionArn"])
    assert described["status"] == "FAILED" and "not tagged MiyabiManaged=true" in described["cause"]
    states = _states(started["executionArn"])
    assert "NotManaged" in states and "RequestApproval" not in states and "CloseAccount" not in states
    assert [e["error"] for e in _events(local_agent, "AccountClosureFailed")] == ["NotManaged"]


def test_an_answer_without_an_approver_closes_nothing(local_agent: Any, org: Org) -> None:
    account_id = _member(org, "Vega", managed=True)
    execution = _close(local_agent, org, account_id)
    boto3.client("stepfunctions").send_task_success(taskToken=_pending(local_agent, account_id).token, output="{}")
    described = _ended(execution)
    assert described["status"] == "FAILED" and "approved_by" in described["cause"]
    assert "CloseAccount" not in _states(execution)


def test_a_suspended_account_is_not_put_to_a_human(local_agent: Any, org: Org) -> None:
    from moto.organizations.models import organizations_backends

    account_id = _member(org, "Deneb", managed=True)
    backend = organizations_backends["123456789012"]["aws"]
    backend.get_account_by_id(account_id).status = "SUSPENDED"  # what a closed account shows
    execution = _close(local_agent, org, account_id)
    described = _ended(execution)
    assert described["status"] == "FAILED" and "is SUSPENDED, not ACTIVE" in described["cause"]
    states = _states(execution)
    assert "NotActive" in states and "RequestApproval" not in states and "CloseAccount" not in states
