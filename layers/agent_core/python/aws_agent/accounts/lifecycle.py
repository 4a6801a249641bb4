"""Account lifecycle: create (a workflow polls Organizations), move to an OU, tag with its role; close needs a human."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, StringConstraints

from ..aws import error_code, translate
from ..basics import AccountRole
from ..errors import AgentError, GuardDenied, ResourceConflict
from .directory import DEFAULT_ROLE_TAG

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,250}\.[A-Za-z]{2,}$")
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class ApprovalRequired(GuardDenied):
    """An operation that only a human approval may allow (closing an account is never automatic)."""


def _call(doing: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("DuplicateAccountException", "DuplicateOrganizationalUnitException"):
            raise ResourceConflict(f"{doing}: {code}") from exc
        raise translate(exc, doing) from exc


class AccountRequest(BaseModel):
    """A request for a new account, checked before the account-creation workflow starts (AWS checks it again)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
    email: Annotated[str, StringConstraints(pattern=_EMAIL.pattern)]
    role: AccountRole
    destination: Annotated[str, StringConstraints(pattern=r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$")] = (
        ""
    )

    def execution_name(self) -> str:
        """Deterministic per e-mail address (unique per account at AWS): starting the same request twice starts one
        workflow, and its execution name says which account it creates without showing the address."""
        digest = hashlib.sha256(self.email.lower().encode()).hexdigest()[:16]
        return f"account-{_SAFE.sub('-', self.name)[:40]}-{digest}"

    def workflow_input(self) -> dict[str, str]:
        body = {"name": self.name, "email": self.email, "role": self.role.value}
        return {**body, "destination": self.destination} if self.destination else body


@dataclass(frozen=True)
class AccountCreationRun:
    """Where one account-creation workflow stands (DescribeExecution)."""

    execution_arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    account_id: str | None = None
    parent_id: str | None = None
    polls: int = 0
    error: str | None = None
    cause: str | None = None

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"


def start_account_creation(stepfunctions: Any, state_machine_arn: str, request: AccountRequest) -> str:
    """Start the account-creation workflow (the deployed `AccountLifecycleStateMachineArn`); returns the execution.

    A request already started (same e-mail address) returns its execution instead of creating a second account."""
    name = request.execution_name()
    try:
        started = stepfunctions.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(request.workflow_input())
        )
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise translate(exc, f"start the account-creation workflow for {request.name}") from exc
        return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    return str(started["executionArn"])


def account_creation(stepfunctions: Any, execution_arn: str) -> AccountCreationRun:
    """One look at the workflow: its status, and the new account (or AWS's reason) once it has ended."""
    try:
        described = stepfunctions.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        raise translate(exc, f"describe {execution_arn}") from exc
    output = json.loads(described.get("output") or "{}")
    return AccountCreationRun(
        execution_arn=execution_arn,
        status=described["status"],
        account_id=output.get("account_id"),
        parent_id=output.get("parent_id"),
        polls=int(output.get("polls", 0)),
        error=described.get("error"),
        cause=described.get("cause"),
    )


def wait_for_creation(
    stepfunctions: Any,
    execution_arn: str,
    *,
    sleep: Callable[[float], None],
    poll_seconds: float = 5.0,
    timeout_seconds: float = 3900.0,
) -> AccountCreationRun:
    """Follow the workflow until it ends (the CLI's `--wait`); Organizations is polled by the workflow, not here."""
    waited = 0.0
    run = account_creation(stepfunctions, execution_arn)
    while not run.done:
        if waited >= timeout_seconds:
            raise AgentError(f"{execution_arn} still running after {timeout_seconds:.0f} s")
        sleep(poll_seconds)
        waited += poll_seconds
        run = account_creation(stepfunctions, execution_arn)
    return run


def move_account(organizations: Any, account_id: str, destination: str) -> str:
    """Move the account under `destination` (an OU or root id); returns the parent it left (no-op if already there)."""
    parents = _call(f"parent of {account_id}", organizations.list_parents, ChildId=account_id)["Parents"]
    source = parents[0]["Id"]
    if source != destination:
        _call(
            f"move {account_id} to {destination}",
            organizations.move_account,
            AccountId=account_id,
            SourceParentId=source,
            DestinationParentId=destination,
        )
    return str(source)


def tag_account(organizations: Any, account_id: str, role: AccountRole, *, role_tag: str = DEFAULT_ROLE_TAG) -> None:
    _call(
        f"tag {account_id}",
        organizations.tag_resource,
        ResourceId=account_id,
        Tags=[{"Key": role_tag, "Value": role.value}],
    )


def close_account(account_id: str, *, approved_by: str | None = None) -> None:
    """Closing an account is irreversible for 90 days and ends everything in it: the agent never does it on its own.

    This version has no approval mechanism yet (issue 5 builds approvals), so every request is refused with the
    steps a human takes instead."""
    raise ApprovalRequired(
        f"closing account {account_id} requires a human approval and is never automatic"
        + (f" (an approval by {approved_by!r} cannot be verified yet)" if approved_by else "")
        + "; close it from the Organizations console or `aws organizations close-account` as the management account"
    )
