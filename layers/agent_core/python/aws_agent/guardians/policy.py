"""The guardians' policies: a versioned JSON file in the package, overridable per deployment, pydantic-validated."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..basics import AccountRole, AwsResourceType, AwsTaskType

if TYPE_CHECKING:
    from ..config import AgentConfig

POLICIES_FILE = Path(__file__).resolve().parent.parent / "data" / "policies.json"
# A deployment may replace the packaged file entirely (a path in the Lambda's environment or on the CLI's machine);
# `AgentConfig.policies` (CDK context) then overrides single keys of whichever file is used.
POLICIES_PATH_ENV = "AGENT_POLICIES_PATH"


class Verdict(StrEnum):
    ALLOW = "allow"
    NEEDS_APPROVAL = "needs-approval"
    DENY = "deny"


_RANK = {Verdict.ALLOW: 0, Verdict.NEEDS_APPROVAL: 1, Verdict.DENY: 2}


def strictest(verdicts: list[Verdict]) -> Verdict:
    """deny beats needs-approval beats allow."""
    return max(verdicts, key=_RANK.__getitem__, default=Verdict.ALLOW)


class GuardianDecision(BaseModel):
    """One guardian's answer about one action."""

    model_config = ConfigDict(extra="forbid")

    guardian: Literal["Cerberus", "Michael", "Buddha", "Autonomy"]
    decision: Verdict
    reasons: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, guardian: str, denials: list[str], approvals: list[str] | None = None) -> GuardianDecision:
        """deny when there is a denial, needs-approval when there is an approval reason, else allow."""
        approvals = approvals or []
        verdict = Verdict.DENY if denials else Verdict.NEEDS_APPROVAL if approvals else Verdict.ALLOW
        return cls.model_validate({"guardian": guardian, "decision": verdict, "reasons": denials + approvals})


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutonomyPolicy(_Policy):
    # Risk of each operation on the 0-10 autonomy scale: an action whose risk exceeds the resource type's autonomy
    # (assignment.autonomy_for) waits for a human. Read-only work is 0; create 3 < update 4 < delete 5, so every
    # type at the default autonomy (5) or above runs creates, updates and deletes itself, and RDS (4) needs a human
    # to delete.
    risk: dict[AwsTaskType, Annotated[int, Field(ge=0, le=10)]]


class ApprovalPolicy(_Policy):
    # How long a task waits for `aws-agent approve|reject` before it ends Cancelled (Step Functions TimeoutSeconds).
    timeout_seconds: Annotated[int, Field(ge=1, le=7 * 86400)] = 86400


class CerberusPolicy(_Policy):
    admin_ports: list[Annotated[int, Field(ge=0, le=65535)]]
    open_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0", "::/0"])
    # Ports any client may reach (world-open is fine); other non-administrative world-open ports need approval.
    public_ports: list[Annotated[int, Field(ge=0, le=65535)]] = Field(default_factory=lambda: [80, 443])
    require_encryption: bool = True
    public_acls: list[str] = Field(default_factory=lambda: ["public-read", "public-read-write", "authenticated-read"])


class MichaelPolicy(_Policy):
    required_tags: list[str] = Field(default_factory=list)
    # USD per day per account (name or id), "default" for the others; the account's managed resources' estimated
    # cost plus the new one must stay within it.
    daily_budget_usd: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(
        default_factory=lambda: {"default": Decimal(100)}
    )
    # An action adding at least this much per day needs a human's approval.
    approval_daily_cost_usd: Annotated[Decimal, Field(ge=0)] = Decimal(10)
    # Cost-sweep findings that remove something (idle resources): a human reviews their necessity first.
    review_actions: list[str] = Field(default_factory=list)


class SizeLimit(_Policy):
    ec2_instance_type: str | None = None
    rds_instance_class: str | None = None


class BuddhaPolicy(_Policy):
    # Managed resources per account and type ("default" for types not listed).
    quotas: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: {"default": 100})
    max_sizes: dict[AccountRole, SizeLimit] = Field(default_factory=dict)
    az_spread_roles: list[AccountRole] = Field(default_factory=lambda: [AccountRole.PRODUCTION])
    min_azs: Annotated[int, Field(ge=1, le=6)] = 2

    def quota_for(self, resource_type: AwsResourceType) -> int:
        return self.quotas.get(resource_type.value, self.quotas.get("default", 100))


class Policies(_Policy):
    """What the guardians enforce; `version` is the file's schema version (only "1" exists)."""

    version: Literal["1"]
    account_roles: dict[str, AccountRole] = Field(default_factory=dict)  # account name or id -> role
    autonomy: AutonomyPolicy
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    cerberus: CerberusPolicy
    michael: MichaelPolicy = Field(default_factory=MichaelPolicy)
    buddha: BuddhaPolicy = Field(default_factory=BuddhaPolicy)

    def risk_of(self, task_type: AwsTaskType) -> int:
        return self.autonomy.risk.get(task_type, 10)  # an operation the file does not rate always asks a human

    def role_of(self, account_id: str, directory: dict[str, str]) -> AccountRole | None:
        """The account's role, from `account_roles` keyed by id or by its name in the account directory."""
        if account_id in self.account_roles:
            return self.account_roles[account_id]
        for name, known_id in directory.items():
            if known_id == account_id and name in self.account_roles:
                return self.account_roles[name]
        return None

    def budget_of(self, account_id: str, directory: dict[str, str]) -> Decimal | None:
        budgets = self.michael.daily_budget_usd
        names = [name for name, known_id in directory.items() if known_id == account_id]
        for key in [account_id, *names, "default"]:
            if key in budgets:
                return budgets[key]
        return None


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: objects merge key by key, everything else (lists included) is replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@lru_cache(maxsize=8)
def _file(path: str) -> dict[str, Any]:
    return dict(json.loads(Path(path).read_text()))


def load_policies(config: AgentConfig | None = None, path: str | None = None) -> Policies:
    """The packaged file (or `AGENT_POLICIES_PATH`), with the deployment's `policies` overrides, validated."""
    source = path or os.environ.get(POLICIES_PATH_ENV) or str(POLICIES_FILE)
    document = _file(source)
    if config is not None and config.policies:
        document = merge(document, config.policies)
    return Policies.model_validate(document)
