"""Per-process wiring: settings, AWS clients and repositories, built once per cold start and reused warm."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import boto3

from ..aws import RETRY_CONFIG, SessionFactory
from ..registry import ResourceRepository, TaskRepository
from ..settings import Settings


@dataclass
class Runtime:
    settings: Settings

    def client(self, service: str, region: str | None = None) -> Any:
        """A client in the agent's account; `region` for global services with one endpoint (Cost Explorer)."""
        return boto3.client(service, region_name=region or self.settings.region, config=RETRY_CONFIG)

    @cached_property
    def agent_account_id(self) -> str:
        # Set by the stack (AWS::AccountId); asking STS costs one call per cold start elsewhere.
        return self.settings.agent_account_id or str(self.client("sts").get_caller_identity()["Account"])

    @cached_property
    def sessions(self) -> SessionFactory:
        cfg = self.settings.config
        return SessionFactory(
            self.agent_account_id,
            cfg.member_role_name,
            external_id=cfg.multi_account.member_role_external_id,
            max_cached=cfg.multi_account.credentials_cache_size,
        )

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def tasks(self) -> TaskRepository:
        return TaskRepository(self.dynamodb, self.settings.tasks_table)

    @cached_property
    def resources(self) -> ResourceRepository:
        return ResourceRepository(self.dynamodb, self.settings.resources_table, self.settings.agents_table)

    @cached_property
    def events(self) -> Any:
        return self.client("events")

    @cached_property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    return Runtime(Settings.from_env())
