"""What the agent may do about each finding: opt-out and managed tags, autonomy, the guard seam, dry-run, caps."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..model import AwsResourceType, CostFinding
from ..resources.base import MANAGED_TAG
from .options import SweepOptions

OPT_OUT_TAG = "MiyabiOptimize"
_OFF = frozenset({"off", "false", "no", "disabled"})

# Autonomy a resource type needs before the agent takes the action without a human. Reversible and cheap to undo
# (stop) needs 5, so EC2 (6) qualifies; changes that disrupt a stateful service need more than RDS's 4; anything
# that destroys data or an address (delete, release) needs 9, above every type's level: always a recommendation.
REQUIRED_AUTONOMY: dict[str, int] = {
    "stop": 5,
    "enable-intelligent-tiering": 6,
    "rightsize": 7,
    "review-unused-bucket": 9,  # deleting a bucket needs an emptiness check and approval: report only
    "snapshot-and-delete-volume": 9,
    "release-address": 9,
}
DESTRUCTIVE_LEVEL = 9
# Actions this package carries out itself (sweep.stop_instances); every other one is only ever recommended.
AUTOMATED_ACTIONS = frozenset({"stop"})


def opted_out(tags: Mapping[str, str]) -> bool:
    """MiyabiOptimize=off (or false/no/disabled): leave the resource out of cost optimization entirely."""
    return tags.get(OPT_OUT_TAG, "").strip().lower() in _OFF


def is_managed(tags: Mapping[str, str]) -> bool:
    """Tagged MiyabiManaged=true: a resource the agent manages and may act on."""
    return tags.get(MANAGED_TAG) == "true"


@dataclass
class Plan:
    """Findings split into what to act on now and what to recommend; each carries its `decision`."""

    act: list[CostFinding] = field(default_factory=list)
    recommend: list[CostFinding] = field(default_factory=list)


def decide(findings: Iterable[CostFinding], instances: Mapping[str, int], options: SweepOptions) -> Plan:
    """Apply the gates in order: autonomy, managed, guard, per-account cap, dry-run.

    `instances` is the number of running instances scanned per account (the base of the percent cap). Under a cap,
    the largest savings go first. Opted-out resources never reach this point (the checks drop them).
    """
    plan = Plan()
    candidates: dict[str, list[CostFinding]] = defaultdict(list)
    for finding in findings:
        verdict = _gate(finding, options)
        if verdict is None:
            candidates[finding.account_id].append(finding)
        else:
            finding.decision = verdict
            plan.recommend.append(finding)
    for account_id, wanted in candidates.items():
        limit = cap(instances.get(account_id, 0), options)
        wanted.sort(key=lambda f: (-f.monthly_savings, f.resource_id))
        for index, finding in enumerate(wanted):
            if index >= limit:
                finding.decision = (
                    f"cap reached: at most {limit} actions in account {account_id} this run "
                    f"({options.max_actions_per_account} max, {options.max_percent_per_account:g} % of "
                    f"{instances.get(account_id, 0)} instances)"
                )
                plan.recommend.append(finding)
            elif not options.apply:
                finding.decision = f"dry-run: would {finding.action} (run with --apply to act)"
                plan.recommend.append(finding)
            else:
                plan.act.append(finding)
    return plan


def cap(instances: int, options: SweepOptions) -> int:
    """How many actions one account may take this run: the smaller of the count cap and the percent cap."""
    by_percent = math.floor(instances * options.max_percent_per_account / 100 + 1e-9)
    return max(0, min(options.max_actions_per_account, by_percent))


def _gate(finding: CostFinding, options: SweepOptions) -> str | None:
    """Why the finding stays a recommendation, or None when only the cap and dry-run remain to check."""
    required = REQUIRED_AUTONOMY.get(finding.action, DESTRUCTIVE_LEVEL)
    level = options.autonomy(AwsResourceType(finding.resource_type))
    if level < required:
        return f"autonomy: {finding.action} needs level {required}, {finding.resource_type} has {level}"
    if finding.action not in AUTOMATED_ACTIONS:
        return f"recommendation: the agent does not {finding.action} by itself; a human applies it"
    if not finding.managed and not options.include_unmanaged:
        return f"not managed: not tagged {MANAGED_TAG}=true (pass --include-unmanaged to act on unmanaged resources)"
    verdict = options.guard(finding)
    if verdict == "deny":
        return "denied by guard"
    if verdict == "needs-approval":
        return "needs approval (guard)"
    return None
