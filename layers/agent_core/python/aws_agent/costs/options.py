"""Sweep options: the checks' thresholds and the policy's safety knobs (safe by default: dry-run, managed only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..assignment import autonomy_for
from ..model import AwsResourceType, CostFinding

Verdict = Literal["allow", "deny", "needs-approval"]
Guard = Callable[[CostFinding], Verdict]

ALL_CHECKS = frozenset(
    {"ec2-idle", "s3-unused", "rds-rightsize", "s3-intelligent-tiering", "ebs-unattached", "eip-idle"}
)


def allow_all(finding: CostFinding) -> Verdict:
    """A guard that vetoes nothing (tests and explicit opt-outs)."""
    return "allow"


def guardians(finding: CostFinding) -> Verdict:
    """The default guard: the guardians' policies (aws_agent.guardians.sweep), loaded at first use."""
    from ..guardians.sweep import guardians_guard

    verdict = guardians_guard(finding)
    return "deny" if verdict == "deny" else "needs-approval" if verdict == "needs-approval" else "allow"


@dataclass(frozen=True)
class SweepOptions:
    """What to look for and how far the agent may go.

    Safe by default: `apply=False` is a dry run; only resources tagged MiyabiManaged=true are acted on unless
    `include_unmanaged=True` (an explicit opt-in, e.g. for a fleet the agent did not create); MiyabiOptimize=off
    opts a resource out entirely; an action needs `autonomy(resource type)` >= its required level; at most
    `max_actions_per_account` actions and `max_percent_per_account` % of an account's instances per run.

    `guard` is the seam for the guardians: called for every finding the policy would act on, it returns
    "allow", "deny" or "needs-approval" (the latter two leave the finding a recommendation). Default: the guardians.
    """

    days: int = 14
    cpu_threshold: float = 5.0  # EC2 idle: CPUUtilization Maximum over `days` below this (percent)
    # RDS over-provisioned: CPU Maximum below this. One class down halves the vCPUs: the peak would stay below 50 %.
    rds_cpu_threshold: float = 25.0
    # Intelligent-Tiering: only buckets at least this big (smaller ones save cents) whose average object >= 128 KiB.
    it_min_bucket_bytes: int = 1024**3
    apply: bool = False
    include_unmanaged: bool = False
    max_actions_per_account: int = 50
    max_percent_per_account: float = 50.0
    checks: frozenset[str] = ALL_CHECKS
    autonomy: Callable[[AwsResourceType], int] = autonomy_for
    guard: Guard = guardians
    concurrency: int = 8

    def __post_init__(self) -> None:
        if self.days < 1 or self.days > 455:  # CloudWatch keeps hourly data for 455 days
            raise ValueError("days must be between 1 and 455")
        if self.max_actions_per_account < 0 or not 0 <= self.max_percent_per_account <= 100:
            raise ValueError("caps must be >= 0 and the percent cap at most 100")
        unknown = set(self.checks) - ALL_CHECKS
        if unknown:
            raise ValueError(f"unknown checks: {', '.join(sorted(unknown))}")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
