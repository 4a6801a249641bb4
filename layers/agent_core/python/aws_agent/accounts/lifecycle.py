"""Account lifecycle: create (asynchronous, polled), move to an OU, tag with its role; closing needs an approval."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..aws import translate
from ..basics import AccountRole
from ..errors import AgentError, AwsCallFailed, GuardDenied, ResourceConflict, TaskAnalysisError
from .directory import DEFAULT_ROLE_TAG

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,250}\.[A-Za-z]{2,}$")
MANAGED_TAG = "MiyabiManaged"


class ApprovalRequired(GuardDenied):
    """An operation that only a human approval may allow (closing an account is never automatic)."""


@dataclass(frozen=True)
class AccountCreation:
    """Where a CreateAccount request stands. `ready` is False while Organizations is still creating the account:
    the caller's wait loop (the state machine's, or the CLI's) polls `creation_status` again."""

    request_id: str
    state: str  # IN_PROGRESS | SUCCEEDED | FAILED
    account_id: str | None = None
    failure_reason: str | None = None

    @property
    def ready(self) -> bool:
        return self.state != "IN_PROGRESS"


def _call(doing: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("DuplicateAccountException", "DuplicateOrganizationalUnitException"):
            raise ResourceConflict(f"{doing}: {code}") from exc
        raise translate(exc, doing) from exc


def create_account(
    organizations: Any, name: str, email: str, role: AccountRole, *, role_tag: str = DEFAULT_ROLE_TAG
) -> AccountCreation:
    """Start CreateAccount with the role tag (and MiyabiManaged=true): returns at once, not ready."""
    if not 1 <= len(name) <= 50:
        raise TaskAnalysisError("account name must have 1 to 50 characters")
    if not _EMAIL.match(email):
        raise TaskAnalysisError(f"{email!r} is not an e-mail address (Organizations needs one per account)")
    response = _call(
        f"create account {name}",
        organizations.create_account,
        Email=email,
        AccountName=name,
        Tags=[{"Key": role_tag, "Value": role.value}, {"Key": MANAGED_TAG, "Value": "true"}],
    )
    return _status(response["CreateAccountStatus"])


def creation_status(organizations: Any, request_id: str) -> AccountCreation:
    """One poll of a CreateAccount request (DescribeCreateAccountStatus)."""
    response = _call(
        f"status of account request {request_id}",
        organizations.describe_create_account_status,
        CreateAccountRequestId=request_id,
    )
    return _status(response["CreateAccountStatus"])


def _status(raw: dict[str, Any]) -> AccountCreation:
    return AccountCreation(raw["Id"], raw["State"], raw.get("AccountId"), raw.get("FailureReason"))


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


def finish_creation(
    organizations: Any,
    creation: AccountCreation,
    *,
    role: AccountRole,
    destination: str | None,
    role_tag: str = DEFAULT_ROLE_TAG,
) -> str:
    """After the wait loop: fail on FAILED, else move the new account to its OU and (re)tag it; returns its id."""
    if creation.state == "FAILED" or creation.account_id is None:
        raise AwsCallFailed(f"account request {creation.request_id} failed: {creation.failure_reason or 'unknown'}")
    if destination:
        move_account(organizations, creation.account_id, destination)
    tag_account(organizations, creation.account_id, role, role_tag=role_tag)
    return creation.account_id


def wait_for_account(
    organizations: Any,
    creation: AccountCreation,
    *,
    max_polls: int = 60,
    sleep: Callable[[float], None] | None = None,
    poll_seconds: float = 10.0,
) -> AccountCreation:
    """The CLI's wait loop (in the cloud the state machine's Wait state plays it): poll until not IN_PROGRESS."""
    polls = 0
    while not creation.ready:
        polls += 1
        if polls > max_polls:
            raise AgentError(f"account request {creation.request_id} still in progress after {max_polls} checks")
        if sleep is not None:
            sleep(poll_seconds)
        creation = creation_status(organizations, creation.request_id)
    return creation


def close_account(account_id: str, *, approved_by: str | None = None) -> None:
    """Closing an account is irreversible for 90 days and ends everything in it: the agent never does it on its own.

    This version has no approval mechanism yet (issue 5 builds approvals), so every request is refused with the
    steps a human takes instead."""
    raise ApprovalRequired(
        f"closing account {account_id} requires a human approval and is never automatic"
        + (f" (an approval by {approved_by!r} cannot be verified yet)" if approved_by else "")
        + "; close it from the Organizations console or `aws organizations close-account` as the management account"
    )
