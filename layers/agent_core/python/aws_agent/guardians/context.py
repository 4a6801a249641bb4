"""What a guardian looks at: the task, the policies, the account's role and its managed resources (read once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..basics import AccountRole
from ..model import AwsTask
from .policy import Policies

# (account id, resource type or None) -> the managed resources registered there (Resources table, by-account-type).
Inventory = Callable[[str, str | None], list[dict[str, Any]]]


def no_inventory(account_id: str, resource_type: str | None) -> list[dict[str, Any]]:
    return []


@dataclass
class GuardContext:
    task: AwsTask
    policies: Policies
    directory: dict[str, str] = field(default_factory=dict)  # account name -> id (AgentConfig.accounts)
    default_instance_type: str = "t3.micro"
    inventory: Inventory = no_inventory

    @property
    def params(self) -> dict[str, Any]:
        return self.task.parameters

    @cached_property
    def role(self) -> AccountRole | None:
        return self.policies.role_of(self.task.account_id, self.directory)

    @cached_property
    def account_resources(self) -> list[dict[str, Any]]:
        """Every managed resource of the task's account: one query, shared by the budget and the quota."""
        return self.inventory(self.task.account_id, None)

    def instance_type(self) -> str | None:
        value = self.params.get("instance_type")
        return str(value) if value else None
