"""The provider interface: one small class per resource type, the same six verbs for each."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from ..aws import SessionFactory, Target
from ..config import AgentConfig
from ..model import AwsResourceType, AwsTask, ResourceState

MANAGED_TAG = "MiyabiManaged"
AGENT_TAG = "MiyabiAgent"
TASK_TAG = "MiyabiTask"


class ResourceOutcome(BaseModel):
    """What a provider reports about one resource after acting on it or looking at it."""

    id: str
    arn: str
    state: ResourceState
    # False while AWS is still creating/updating/deleting: the state machine's wait loop polls `status`.
    ready: bool = True
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def managed(self) -> bool:
        return self.tags.get(MANAGED_TAG) == "true"


@dataclass
class ProviderContext:
    """Everything a provider needs for one task: the task, its target and a client factory."""

    task: AwsTask
    sessions: SessionFactory
    config: AgentConfig = field(default_factory=AgentConfig)
    # The outcome the previous step reported (set by the wait loop's status check): lets a multi-phase operation
    # find what it started (a drift detection id, a change set) without a Lambda waiting for it.
    previous: ResourceOutcome | None = None

    @property
    def target(self) -> Target:
        return Target(self.task.account_id, self.task.region)

    @property
    def params(self) -> dict[str, Any]:
        return self.task.parameters

    def client(self, service: str) -> Any:
        return self.sessions.client(service, self.target, session_name=f"miyabi-{self.task.id}")

    def managed_tags(self) -> dict[str, str]:
        """Tags every resource the agent creates carries: requested tags, then the agent's own (which win)."""
        from ..assignment import decision_maker_for

        assert self.task.resource_type is not None
        requested = dict(self.params.get("tags") or {})
        return {
            **requested,
            MANAGED_TAG: "true",
            AGENT_TAG: decision_maker_for(self.task.resource_type).value,
            TASK_TAG: self.task.id,
        }


class ResourceProvider(ABC):
    """create / status / update / delete / discover / tag for one resource type."""

    resource_type: ClassVar[AwsResourceType]
    # The state machine's wait loop: seconds between status checks, and how long an operation may take in all.
    poll_seconds: ClassVar[int] = 10
    deadline_seconds: ClassVar[int] = 600

    @abstractmethod
    def resource_id(self, ctx: ProviderContext) -> str:
        """The id the task refers to (bucket name, instance id, function name); raises TaskAnalysisError if absent."""

    @abstractmethod
    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        """Dry run: validate the task's parameters and describe the calls it would make, changing nothing."""

    @abstractmethod
    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        """Create the resource, tagged at creation where the API allows; idempotent for the same task id."""

    @abstractmethod
    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """Current state and tags; raises ResourceNotFound when it does not exist."""

    @abstractmethod
    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """Apply the task's parameters to an existing managed resource."""

    @abstractmethod
    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """Delete a managed resource (ResourceNotManaged if it lacks MiyabiManaged=true)."""

    @abstractmethod
    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        """Every resource of this type in the task's account and region, managed or not."""

    @abstractmethod
    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        """Add or overwrite tags (never removes others)."""

    def managed_status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """`status`, refusing (ResourceNotManaged) a resource the agent does not manage."""
        outcome = self.status(ctx, resource_id)
        self.require_managed(outcome)
        return outcome

    def require_managed(self, outcome: ResourceOutcome) -> None:
        from ..errors import ResourceNotManaged

        if not outcome.managed:
            raise ResourceNotManaged(
                f"{self.resource_type.value} {outcome.id} is not tagged {MANAGED_TAG}=true; the agent only touches "
                "resources it manages"
            )
