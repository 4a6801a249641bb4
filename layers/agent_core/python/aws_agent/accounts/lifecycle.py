"""Account lifecycle: create (a workflow polls Organizations), move, tag; close only managed ones, after an approval."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, StringConstraints

from ..approvals import REJECTED_ERROR, ApprovalNotPending
from ..aws import error_code, translate
from ..basics import AccountRole, utc_now
from ..errors import AgentError, GuardDenied, ResourceConflict
from .directory import DEFAULT_ROLE_TAG

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,250}\.[A-Za-z]{2,}$")
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_PARENT_ID = r"^(|ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$"  # an OU or root id, or "" (none)
MANAGED_TAG = "MiyabiManaged"


class ApprovalRequired(GuardDenied):
    """A closure request without what its approver needs to decide."""


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
    destination: Annotated[str, StringConstraints(pattern=_PARENT_ID)] = ""  # "" stays under the root

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


MAX_ATTEMPTS = 10  # executions per e-mail address: the first, then retries after failed ones


def start_account_creation(stepfunctions: Any, state_machine_arn: str, request: AccountRequest) -> str:
    """Start the account-creation workflow (the deployed `AccountLifecycleStateMachineArn`); returns the execution.

    Execution names are per e-mail address (`…`, then `…-2`, `…-3` after failed attempts: an ended execution's name
    stays taken for 90 days). A request that is running, or has succeeded, returns that execution; one running with
    other parameters is refused. Organizations itself never creates two accounts for one address."""
    base = request.execution_name()
    body = request.workflow_input()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = base if attempt == 1 else f"{base}-{attempt}"
        try:
            started = stepfunctions.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(body)
            )
            return str(started["executionArn"])
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise translate(exc, f"start the account-creation workflow for {request.name}") from exc
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        earlier = _call(f"describe {arn}", stepfunctions.describe_execution, executionArn=arn)
        if earlier["status"] == "SUCCEEDED":
            return arn
        if earlier["status"] == "RUNNING":
            if json.loads(earlier.get("input") or "{}") != body:
                raise ResourceConflict(f"a request for this address is running with other parameters: {arn}")
            return arn
    raise AgentError(f"{MAX_ATTEMPTS} attempts to create {request.name} have failed; see the executions of {base}")


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


@dataclass(frozen=True)
class PendingClosure:
    """A closure workflow waiting for its approval: who asked, why, and the token that answers it."""

    execution_arn: str
    account_id: str
    requested_by: str
    reason: str
    token: str


def start_account_closure(
    stepfunctions: Any,
    organizations: Any,
    state_machine_arn: str,
    account_id: str,
    *,
    requested_by: str,
    reason: str,
) -> str:
    """Ask for an account's closure: the deployed workflow announces AccountClosureRequested and waits for a human.

    Refused at once for an account that is not tagged MiyabiManaged=true (the workflow checks again); a request
    already waiting for the same account is returned instead of a second one."""
    if not reason.strip():
        raise ApprovalRequired("closing an account needs a reason for the approver")
    tags = _call(f"tags of {account_id}", organizations.list_tags_for_resource, ResourceId=account_id)["Tags"]
    if {"Key": MANAGED_TAG, "Value": "true"} not in tags:
        raise GuardDenied(f"account {account_id} is not tagged {MANAGED_TAG}=true: the agent never closes it")
    waiting = _waiting(stepfunctions, state_machine_arn, account_id)
    if waiting:
        return waiting[0]
    name = f"close-{account_id}-{utc_now():%Y%m%dT%H%M%S}"
    request = {"account_id": account_id, "requested_by": requested_by, "reason": reason[:1000]}
    started = _call(
        f"start the closure workflow for {account_id}",
        stepfunctions.start_execution,
        stateMachineArn=state_machine_arn,
        name=name,
        input=json.dumps(request),
    )
    return str(started["executionArn"])


def _waiting(stepfunctions: Any, state_machine_arn: str, account_id: str) -> list[str]:
    pages = stepfunctions.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    )
    prefix = f"close-{account_id}-"
    return [e["executionArn"] for page in pages for e in page["executions"] if e["name"].startswith(prefix)]


def pending_closure(stepfunctions: Any, state_machine_arn: str, account_id: str) -> PendingClosure:
    """The closure request of this account that waits for an answer, read from its execution's history."""
    for execution_arn in _waiting(stepfunctions, state_machine_arn, account_id):
        history = stepfunctions.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn, reverseOrder=True
        )
        for page in history:
            for event in page["events"]:
                scheduled = event.get("taskScheduledEventDetails") or {}
                if scheduled.get("resourceType") != "events" or "waitForTaskToken" not in scheduled.get("resource", ""):
                    continue
                detail = json.loads(scheduled["parameters"])["Entries"][0]["Detail"]
                detail = json.loads(detail) if isinstance(detail, str) else detail
                return PendingClosure(
                    execution_arn, account_id, str(detail["requested_by"]), str(detail["reason"]), str(detail["token"])
                )
    raise ApprovalNotPending(f"no closure of account {account_id} is waiting for an approval")


def decide_closure(stepfunctions: Any, pending: PendingClosure, *, by: str, approve: bool, reason: str = "") -> None:
    """Answer a waiting closure: approve (CloseAccount follows) or reject (nothing is closed).

    Four eyes: whoever asked may reject their own request, never approve it."""
    if approve and by == pending.requested_by:
        raise GuardDenied(f"{by} asked for this closure and cannot approve it: another person must")
    if approve:
        output = json.dumps({"approved_by": by, "reason": reason[:1000]})
        _call("approve the closure", stepfunctions.send_task_success, taskToken=pending.token, output=output)
    else:
        _call(
            "reject the closure",
            stepfunctions.send_task_failure,
            taskToken=pending.token,
            error=REJECTED_ERROR,
            cause=(reason or f"rejected by {by}")[:32_000],
        )
