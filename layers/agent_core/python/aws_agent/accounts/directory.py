"""The account directory: accounts and OUs from AWS Organizations, each with its AccountRole, and name -> id lookup."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code, translate
from ..basics import AccountRole
from ..errors import TaskAnalysisError

DEFAULT_ROLE_TAG = "MiyabiAccountRole"
# Words in an OU's name that decide the role of the accounts under it (checked in this order).
_OU_WORDS: tuple[tuple[AccountRole, tuple[str, ...]], ...] = (
    (AccountRole.SECURITY, ("security", "audit", "log")),
    (AccountRole.PRODUCTION, ("prod",)),
    (AccountRole.DEVELOPMENT, ("dev", "sandbox", "test", "staging", "stage")),
    (AccountRole.MANAGEMENT, ("management", "root")),
)
# Organizations is not usable from here: the directory falls back to the configured mapping.
_UNAVAILABLE = frozenset(
    {"AWSOrganizationsNotInUseException", "AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}
)


@dataclass(frozen=True)
class OrganizationalUnit:
    id: str
    name: str
    parent_id: str


@dataclass(frozen=True)
class Account:
    """One account of the organization as the agent sees it."""

    id: str
    name: str
    role: AccountRole
    status: str = "ACTIVE"
    email: str = ""
    parent_id: str = ""
    ou_name: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def role_from(tag: str | None, ou_name: str, *, management: bool) -> AccountRole:
    """The account tag wins; then the management account; then words in its OU's name; Development otherwise."""
    if tag:
        for role in AccountRole:
            if role.value.lower() == tag.strip().lower():
                return role
    if management:
        return AccountRole.MANAGEMENT
    lowered = ou_name.lower()
    for role, words in _OU_WORDS:
        if any(word in lowered for word in words):
            return role
    return AccountRole.DEVELOPMENT


@dataclass
class AccountDirectory:
    """Accounts by id, with a case-insensitive name index."""

    accounts: dict[str, Account]
    units: dict[str, OrganizationalUnit] = field(default_factory=dict)
    management_account_id: str | None = None
    source: str = "organizations"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str], agent_account_id: str | None = None) -> AccountDirectory:
        """The configured `accounts` mapping (name -> id) as a directory: the fallback without Organizations."""
        accounts = {
            account_id: Account(
                account_id,
                name,
                AccountRole.MANAGEMENT if account_id == agent_account_id else AccountRole.DEVELOPMENT,
            )
            for name, account_id in mapping.items()
        }
        return cls(accounts, management_account_id=agent_account_id, source="configuration")

    @classmethod
    def load(cls, organizations: Any, role_tag: str = DEFAULT_ROLE_TAG) -> AccountDirectory:
        """Walk the organization from its root: OUs breadth first, accounts per parent, tags per account."""
        management = organizations.describe_organization()["Organization"].get("MasterAccountId")
        units: dict[str, OrganizationalUnit] = {}
        parents: dict[str, str] = {}
        queue = [root["Id"] for root in _pages(organizations, "list_roots", "Roots")]
        while queue:
            parent = queue.pop(0)
            for account in _pages(organizations, "list_accounts_for_parent", "Accounts", ParentId=parent):
                parents[account["Id"]] = parent
            for unit in _pages(
                organizations, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
            ):
                units[unit["Id"]] = OrganizationalUnit(unit["Id"], unit["Name"], parent)
                queue.append(unit["Id"])
        accounts: dict[str, Account] = {}
        for raw in _pages(organizations, "list_accounts", "Accounts"):
            tags = {
                t["Key"]: t["Value"]
                for t in _pages(organizations, "list_tags_for_resource", "Tags", ResourceId=raw["Id"])
            }
            parent = parents.get(raw["Id"], "")
            ou_name = units[parent].name if parent in units else ""
            accounts[raw["Id"]] = Account(
                id=raw["Id"],
                name=raw["Name"],
                role=role_from(tags.get(role_tag), ou_name, management=raw["Id"] == management),
                status=raw.get("Status", "ACTIVE"),
                email=raw.get("Email", ""),
                parent_id=parent,
                ou_name=ou_name,
                tags=tags,
            )
        return cls(accounts, units, management)

    def names(self) -> dict[str, str]:
        return {account.name: account.id for account in self.accounts.values()}

    def find(self, name_or_id: str) -> Account | None:
        key = name_or_id.strip()
        if key in self.accounts:
            return self.accounts[key]
        lowered = key.lower()
        return next((a for a in self.accounts.values() if a.name.lower() == lowered), None)

    def resolve(self, name_or_id: str) -> str:
        """The account id for a name ("Apollo", any case) or an id; TaskAnalysisError lists the known names."""
        found = self.find(name_or_id)
        if found is None:
            known = ", ".join(sorted(self.names())) or "none known"
            raise TaskAnalysisError(f"unknown account {name_or_id!r}; known accounts: {known}")
        return found.id

    def active(self) -> list[Account]:
        return [a for a in self.accounts.values() if a.status == "ACTIVE"]

    def by_role(self, role: AccountRole) -> list[Account]:
        return [a for a in self.accounts.values() if a.role is role]

    def unit_named(self, name_or_id: str) -> OrganizationalUnit | None:
        lowered = name_or_id.lower()
        return next((u for u in self.units.values() if u.id == name_or_id or u.name.lower() == lowered), None)


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    try:
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    except ClientError as exc:
        raise translate(exc, f"organizations {operation}") from exc


def load_or_fallback(
    organizations: Any, mapping: Mapping[str, str], agent_account_id: str | None, role_tag: str = DEFAULT_ROLE_TAG
) -> AccountDirectory:
    """Organizations when the agent may read it; otherwise (no organization, no permission) the configured mapping.
    Configured names Organizations does not know stay resolvable."""
    try:
        directory = AccountDirectory.load(organizations, role_tag)
    except ClientError as exc:  # describe_organization is called unwrapped: its codes decide the fallback
        if error_code(exc) in _UNAVAILABLE:
            return AccountDirectory.from_mapping(mapping, agent_account_id)
        raise translate(exc, "organizations describe_organization") from exc
    known = {a.name.lower() for a in directory.accounts.values()}
    for name, account_id in mapping.items():
        if name.lower() not in known and account_id not in directory.accounts:
            directory.accounts[account_id] = Account(account_id, name, AccountRole.DEVELOPMENT)
    return directory


_CACHE_SECONDS = 600.0
_cache_lock = threading.Lock()
_cached: tuple[float, tuple[Any, ...], AccountDirectory] | None = None


def cached_directory(
    organizations: Any, mapping: Mapping[str, str], agent_account_id: str | None, role_tag: str = DEFAULT_ROLE_TAG
) -> AccountDirectory:
    """The directory of this process, read again after ten minutes (a warm Lambda resolves names without calls)."""
    global _cached
    key = (tuple(sorted(mapping.items())), agent_account_id, role_tag)
    with _cache_lock:
        if _cached is not None and _cached[1] == key and time.monotonic() - _cached[0] < _CACHE_SECONDS:
            return _cached[2]
    directory = load_or_fallback(organizations, mapping, agent_account_id, role_tag)
    with _cache_lock:
        _cached = (time.monotonic(), key, directory)
    return directory


def clear_cache() -> None:
    global _cached
    with _cache_lock:
        _cached = None


def account_names(rt: Any, request: Any) -> dict[str, str]:
    """Name -> id for the analyze step: the organization's names (plus configured ones) when a name must be
    resolved and Organizations is enabled in configuration; the configured mapping otherwise (no call made)."""
    cfg = rt.settings.config
    spec = getattr(request, "task", None)
    needs_names = request.issue is not None or (spec is not None and spec.account_id is None and spec.account_name)
    if not (needs_names and cfg.multi_account.use_organizations):
        return dict(cfg.accounts)
    directory = cached_directory(
        rt.client("organizations"), cfg.accounts, rt.agent_account_id, cfg.multi_account.account_role_tag
    )
    return {**cfg.accounts, **directory.names()}
