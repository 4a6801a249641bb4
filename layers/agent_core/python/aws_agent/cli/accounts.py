"""`aws-agent accounts ...`: the organization's accounts (list, create, move, close) and their budgets."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..basics import AccountRole
from ..errors import AgentError

accounts_app = typer.Typer(help="The organization's accounts: list, create, move, budgets; close after an approval.")


def _out() -> Console:
    from . import console  # the CLI's console: wide enough for these tables when piped

    return console


def _organizations() -> Any:
    import boto3

    from ..aws import RETRY_CONFIG

    return boto3.client("organizations", region_name="us-east-1", config=RETRY_CONFIG)


def _unit(directory: Any, ou: str) -> Any:
    """The one OU with this id or name: OU names are unique only among siblings, so an ambiguous name is refused."""
    lowered = ou.lower()
    matches = [u for u in directory.units.values() if u.id == ou or u.name.lower() == lowered]
    if not matches:
        raise typer.BadParameter(f"no OU {ou!r} in the organization")
    if len(matches) > 1:
        raise typer.BadParameter(f"{len(matches)} OUs are named {ou!r}: give one of {', '.join(u.id for u in matches)}")
    return matches[0]


def _refused(exc: Exception) -> typer.Exit:
    _out().print(f"[red]refused:[/] {exc}")
    return typer.Exit(2)


def directory_table(directory: Any) -> Table:
    table = Table(title=f"Accounts (from {directory.source})", title_justify="left")
    for column in ("id", "name", "role", "status", "OU", "email"):
        table.add_column(column)
    for account in sorted(directory.accounts.values(), key=lambda a: (a.role.value, a.name.lower())):
        management = " (management)" if account.id == directory.management_account_id else ""
        table.add_row(
            account.id,
            account.name + management,
            account.role.value,
            account.status,
            account.ou_name or account.parent_id,
            account.email,
        )
    return table


@accounts_app.command("list")
def list_accounts(
    role_tag: Annotated[str, typer.Option(help="the account tag naming its role")] = "MiyabiAccountRole",
) -> None:
    """Accounts and their roles (from the role tag, else the OU's name)."""
    from ..accounts.directory import AccountDirectory

    _out().print(directory_table(AccountDirectory.load(_organizations(), role_tag)))


@accounts_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="account name, e.g. Hermes")],
    email: Annotated[str, typer.Option(help="the root e-mail address (unique per account)")],
    role: Annotated[AccountRole, typer.Option(help="its AccountRole (tagged on the account)")],
    ou: Annotated[str | None, typer.Option(help="OU id or name to move it to once created")] = None,
    wait: Annotated[bool, typer.Option(help="follow the workflow until the account is ready")] = True,
    stack_name: Annotated[str, typer.Option("--stack-name", help="the deployed CloudFormation stack")] = "AwsAgent",
) -> None:
    """Create an account: starts the deployed account-creation workflow, which polls Organizations until it exists,
    moves it to its OU and sends AccountCreated (or AccountCreationFailed with AWS's reason)."""
    import time

    from pydantic import ValidationError

    from ..accounts.directory import AccountDirectory
    from ..accounts.lifecycle import AccountRequest, start_account_creation, wait_for_creation
    from .target import Deployment

    destination = ""
    if ou:
        destination = _unit(AccountDirectory.load(_organizations()), ou).id
    try:
        request = AccountRequest(name=name, email=email, role=role, destination=destination)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(problems) from exc
    deployment = Deployment.from_stack(stack_name)
    machine = deployment.outputs.get("AccountLifecycleStateMachineArn")
    if not machine:
        raise typer.BadParameter(f"stack {stack_name} has no AccountLifecycleStateMachineArn output")
    stepfunctions = deployment.client("stepfunctions")
    try:
        execution = start_account_creation(stepfunctions, machine, request)
    except AgentError as exc:
        raise _refused(exc) from exc
    _out().print(f"account-creation workflow started: {execution}")
    if not wait:
        return
    try:
        run = wait_for_creation(stepfunctions, execution, sleep=time.sleep)
    except AgentError as exc:
        raise _refused(exc) from exc
    if run.status != "SUCCEEDED":
        _out().print(f"[red]account {name} not created:[/] {run.status} {run.error or ''}: {run.cause or ''}")
        raise typer.Exit(1)
    where = f", in {ou} ({run.parent_id})" if ou else f", in {run.parent_id}"
    _out().print(
        f"account [bold]{run.account_id}[/] ({name}) ready, role {role.value}{where}; "
        f"{run.polls} status checks by the workflow"
    )


@accounts_app.command("move")
def move(
    account: Annotated[str, typer.Argument(help="account id or name")],
    ou: Annotated[str, typer.Option(help="destination OU id or name")],
) -> None:
    """Move an account to another OU."""
    from ..accounts.directory import AccountDirectory
    from ..accounts.lifecycle import move_account

    org = _organizations()
    directory = AccountDirectory.load(org)
    unit = _unit(directory, ou)
    try:
        left = move_account(org, directory.resolve(account), unit.id)
    except AgentError as exc:
        raise _refused(exc) from exc
    _out().print(f"moved {account} from {left} to {unit.name} ({unit.id})")


@accounts_app.command("tag")
def tag(
    account: Annotated[str, typer.Argument(help="account id or name")],
    role: Annotated[AccountRole, typer.Option(help="its AccountRole (the directory reads it from this tag)")],
    role_tag: Annotated[str, typer.Option(help="the account tag naming its role")] = "MiyabiAccountRole",
) -> None:
    """Tag an account with its role (new accounts get it at creation; this changes or adds it)."""
    from ..accounts.directory import AccountDirectory
    from ..accounts.lifecycle import tag_account

    org = _organizations()
    try:
        account_id = AccountDirectory.load(org, role_tag).resolve(account)
        tag_account(org, account_id, role, role_tag=role_tag)
    except AgentError as exc:
        raise _refused(exc) from exc
    _out().print(f"{account_id} tagged {role_tag}={role.value}")


def _closure_workflow(stack_name: str) -> tuple[Any, str]:
    from .target import Deployment

    deployment = Deployment.from_stack(stack_name)
    machine = deployment.outputs.get("AccountClosureStateMachineArn")
    if not machine:
        raise typer.BadParameter(f"stack {stack_name} has no AccountClosureStateMachineArn output")
    return deployment.client("stepfunctions"), machine


def _caller() -> str:
    import boto3

    from ..aws import RETRY_CONFIG

    return str(boto3.client("sts", config=RETRY_CONFIG).get_caller_identity()["Arn"])


@accounts_app.command("close")
def close(
    account: Annotated[str, typer.Argument(help="account id or name")],
    reason: Annotated[str, typer.Option(help="why, for the approver")],
    stack_name: Annotated[str, typer.Option("--stack-name", help="the deployed CloudFormation stack")] = "AwsAgent",
) -> None:
    """Ask for an account's closure: only a managed account, and only once another person approves
    (`aws-agent accounts approve-close`). Nothing is closed by this command."""
    from ..accounts.directory import AccountDirectory
    from ..accounts.lifecycle import start_account_closure

    org = _organizations()
    stepfunctions, machine = _closure_workflow(stack_name)
    try:
        account_id = AccountDirectory.load(org).resolve(account)
        execution = start_account_closure(
            stepfunctions, org, machine, account_id, requested_by=_caller(), reason=reason
        )
    except AgentError as exc:
        raise _refused(exc) from exc
    _out().print(
        f"closure of {account_id} waits for an approval ({execution}); another person approves it with "
        f"`aws-agent accounts approve-close {account_id}` or rejects it with `--reject`"
    )


@accounts_app.command("approve-close")
def approve_close(
    account: Annotated[str, typer.Argument(help="account id or name")],
    reject: Annotated[bool, typer.Option("--reject", help="reject instead: nothing is closed")] = False,
    reason: Annotated[str, typer.Option(help="why (recorded with the decision)")] = "",
    stack_name: Annotated[str, typer.Option("--stack-name", help="the deployed CloudFormation stack")] = "AwsAgent",
) -> None:
    """Approve (or reject) a waiting account closure; the one who asked cannot approve it."""
    from ..accounts.directory import AccountDirectory
    from ..accounts.lifecycle import decide_closure, pending_closure

    stepfunctions, machine = _closure_workflow(stack_name)
    try:
        account_id = AccountDirectory.load(_organizations()).resolve(account)
        pending = pending_closure(stepfunctions, machine, account_id)
        decide_closure(stepfunctions, pending, by=_caller(), approve=not reject, reason=reason)
    except AgentError as exc:
        raise _refused(exc) from exc
    _out().print(
        f"closure of {account_id} {'rejected' if reject else 'approved'} "
        f"(asked by {pending.requested_by}: {pending.reason})"
    )


@accounts_app.command("budgets")
def budgets(
    limit: Annotated[float, typer.Option(help="monthly budget per account, USD")] = 100.0,
    threshold: Annotated[list[float] | None, typer.Option(help="notify at this percent (repeatable)")] = None,
    subscriber: Annotated[list[str] | None, typer.Option(help="e-mail to notify (repeatable)")] = None,
) -> None:
    """A monthly budget with alerts for every active account of the organization (idempotent)."""
    import boto3

    from ..accounts.budgets import ensure_budgets
    from ..accounts.directory import AccountDirectory
    from ..aws import RETRY_CONFIG

    org = _organizations()
    directory = AccountDirectory.load(org)
    payer = directory.management_account_id
    if payer is None:
        raise typer.BadParameter("the organization has no management account id")
    rollout = ensure_budgets(
        boto3.client("budgets", region_name="us-east-1", config=RETRY_CONFIG),
        payer,
        [a.id for a in directory.active()],
        limit_usd=limit,
        thresholds=threshold or [80.0, 100.0],
        subscribers=subscriber or [],
    )
    _out().print(
        f"budgets: {len(rollout.created)} created, {len(rollout.updated)} updated, {len(rollout.unchanged)} unchanged; "
        f"{rollout.notifications_added} notifications added"
    )
