"""Sweep targets (account x region) from a c7n-org accounts file or from explicit account and region lists."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..aws import SessionFactory, Target

DEFAULT_ROLE_NAME = "MiyabiAgentRole"
_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class AccountEntry:
    """One account of an accounts file: its id, a display name, the role to assume (full ARN) and its regions."""

    account_id: str
    name: str
    role_arn: str
    regions: tuple[str, ...] = field(default_factory=tuple)


def role_arn_for(account_id: str, role: str | None, default_role_name: str = DEFAULT_ROLE_NAME) -> str:
    """A role given as a full ARN stays as it is; a bare role name becomes that role in the account."""
    if role and role.startswith("arn:"):
        return role
    return f"arn:aws:iam::{account_id}:role/{role or default_role_name}"


def parse_accounts(data: Any, default_role_name: str = DEFAULT_ROLE_NAME) -> list[AccountEntry]:
    """Accounts from the parsed c7n-org `accounts.yml`: `accounts: [{account_id, name, role, regions}]`."""
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise ValueError("an accounts file needs a top-level 'accounts' list")
    entries: list[AccountEntry] = []
    for index, raw in enumerate(data["accounts"]):
        if not isinstance(raw, dict):
            raise ValueError(f"accounts[{index}] is not a mapping")
        account_id = str(raw.get("account_id", "")).strip()
        if not _ACCOUNT_ID.match(account_id):
            raise ValueError(f"accounts[{index}]: account_id {account_id!r} is not 12 digits")
        regions = raw.get("regions") or []
        if isinstance(regions, str):
            regions = [regions]
        entries.append(
            AccountEntry(
                account_id=account_id,
                name=str(raw.get("name") or account_id),
                role_arn=role_arn_for(account_id, raw.get("role"), default_role_name),
                regions=tuple(str(region) for region in regions),
            )
        )
    return entries


def load_accounts_file(path: str | Path, default_role_name: str = DEFAULT_ROLE_NAME) -> list[AccountEntry]:
    """Read and parse a c7n-org accounts file (YAML, or JSON which YAML also reads)."""
    import yaml  # type: ignore[import-untyped,unused-ignore]  # stubs optional

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return parse_accounts(yaml.load(handle, Loader=loader), default_role_name)


def targets_from_accounts(
    accounts: Iterable[AccountEntry], regions: Sequence[str] = (), default_regions: Sequence[str] = ()
) -> list[Target]:
    """account x region pairs: each account's own regions, narrowed to `regions` when given (like c7n-org -r).

    An account listing no regions is swept in `regions`, else in `default_regions`.
    """
    wanted = list(dict.fromkeys(regions))
    targets: list[Target] = []
    for account in accounts:
        own = list(dict.fromkeys(account.regions))
        if own and wanted:
            chosen = [region for region in own if region in wanted]
        else:
            chosen = own or wanted or list(dict.fromkeys(default_regions))
        targets.extend(Target(account.account_id, region) for region in chosen)
    return list(dict.fromkeys(targets))


def targets_from_lists(account_ids: Sequence[str | None], regions: Sequence[str]) -> list[Target]:
    """Every account x every region; an account of None means the caller's own credentials, without AssumeRole."""
    for account_id in account_ids:
        if account_id is not None and not _ACCOUNT_ID.match(account_id):
            raise ValueError(f"account {account_id!r} is not 12 digits")
    return list(dict.fromkeys(Target(a, r) for a in account_ids for r in dict.fromkeys(regions)))


def session_factory(
    accounts: Iterable[AccountEntry] = (), role_name: str = DEFAULT_ROLE_NAME, session_name: str = "aws-agent-optimize"
) -> SessionFactory:
    """A SessionFactory that assumes each account's own role from the accounts file, else `role_name`."""
    return SessionFactory(
        agent_account_id=None,
        role_name=role_name,
        session_name=session_name,
        role_arns={account.account_id: account.role_arn for account in accounts},
    )
