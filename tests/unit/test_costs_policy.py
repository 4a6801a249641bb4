"""The safety gates of the cost sweep: dry-run, managed tags, opt-out, autonomy, caps and the guard seam."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_costs_fleet import IDLE, ids, make_bucket, options, put_cpu, run_instances, state, sweep

from aws_agent.costs.options import SweepOptions
from aws_agent.costs.policy import REQUIRED_AUTONOMY, cap, decide, opted_out
from aws_agent.model import AwsResourceType, CostFinding
from aws_agent.resources.base import MANAGED_TAG

EC2 = AwsResourceType.EC2_INSTANCE
MANAGED = {MANAGED_TAG: "true"}


def finding(resource_id: str, savings: str = "10", account: str = "111111111111", **extra: object) -> CostFinding:
    values: dict[str, object] = {
        "resource_id": resource_id,
        "resource_type": EC2,
        "account_id": account,
        "region": "us-east-1",
        "action": "stop",
        "monthly_savings": Decimal(savings),
        "reason": "idle",
        "managed": True,
    }
    values.update(extra)
    return CostFinding.model_validate(values)


# --- the policy on its own (no AWS) ------------------------------------------------------------------------------
def test_defaults_are_safe() -> None:
    defaults = SweepOptions()
    assert not defaults.apply and not defaults.include_unmanaged
    assert (defaults.max_actions_per_account, defaults.max_percent_per_account) == (50, 50.0)
    assert REQUIRED_AUTONOMY["stop"] == 5 and REQUIRED_AUTONOMY["snapshot-and-delete-volume"] == 9


def test_cap_is_the_smaller_of_count_and_percent() -> None:
    opts = SweepOptions(max_actions_per_account=3, max_percent_per_account=50)
    assert cap(100, opts) == 3 and cap(4, opts) == 2 and cap(1, opts) == 0
    assert cap(10, SweepOptions(max_actions_per_account=0)) == 0


def test_cap_counts_per_account_and_keeps_the_largest_savings() -> None:
    findings = [finding(f"i-a{n}", savings=str(n)) for n in range(1, 6)]
    findings += [finding("i-b1", account="222222222222")]
    plan = decide(
        findings, {"111111111111": 10, "222222222222": 10}, SweepOptions(apply=True, max_actions_per_account=2)
    )
    assert ids(plan.act) == {"i-a5", "i-a4", "i-b1"}
    capped = [f for f in plan.recommend if f.resource_id.startswith("i-a")]
    assert len(capped) == 3 and all((f.decision or "").startswith("cap reached") for f in capped)


def test_autonomy_below_the_required_level_makes_a_recommendation() -> None:
    plan = decide([finding("i-1")], {"111111111111": 10}, SweepOptions(apply=True, autonomy=lambda _: 4))
    assert plan.act == [] and "autonomy" in (plan.recommend[0].decision or "")


def test_destructive_actions_are_never_taken_even_at_full_autonomy() -> None:
    volume = finding("vol-1", action="snapshot-and-delete-volume", resource_type=AwsResourceType.EBS_VOLUME)
    plan = decide([volume], {"111111111111": 10}, SweepOptions(apply=True, autonomy=lambda _: 10))
    assert plan.act == [] and "a human applies it" in (plan.recommend[0].decision or "")


@pytest.mark.parametrize(
    ("verdict", "decision"), [("deny", "denied by guard"), ("needs-approval", "needs approval (guard)")]
)
def test_the_guard_seam_can_veto_or_ask_for_approval(verdict: str, decision: str) -> None:
    opts = SweepOptions(apply=True, guard=lambda _: verdict)  # type: ignore[arg-type,return-value]
    plan = decide([finding("i-1")], {"111111111111": 10}, opts)
    assert plan.act == [] and plan.recommend[0].decision == decision


def test_opt_out_values() -> None:
    assert opted_out({"MiyabiOptimize": "off"}) and opted_out({"MiyabiOptimize": " OFF "})
    assert not opted_out({"MiyabiOptimize": "on"}) and not opted_out({})


# --- the gates end to end on moto ----------------------------------------------------------------------------------
@pytest.mark.usefixtures("mocked_aws")
def test_dry_run_changes_nothing() -> None:
    idle = run_instances(2)
    put_cpu(idle, IDLE)

    report = sweep(options(apply=False))

    assert {state(i) for i in idle} == {"running"}
    assert report.dry_run and report.optimizations == [] and report.total_savings == 0
    decisions = sorted((f.decision or "")[:13] for f in report.recommendations)
    assert decisions == ["cap reached: ", "dry-run: woul"]  # the 50 % cap: apply would stop one of the two
    assert report.potential_savings > 0


@pytest.mark.usefixtures("mocked_aws")
def test_the_cap_stops_acting_at_its_bound() -> None:
    idle = run_instances(6)
    busy = run_instances(4)
    put_cpu(idle, IDLE)

    report = sweep(options(max_actions_per_account=3))

    stopped = [i for i in idle if state(i) != "running"]
    assert len(stopped) == 3 and ids(report.optimizations) == set(stopped)
    assert {state(i) for i in busy} == {"running"}
    capped = [f for f in report.recommendations if f.action == "stop"]
    assert len(capped) == 3 and all("cap reached" in (f.decision or "") for f in capped)


@pytest.mark.usefixtures("mocked_aws")
def test_the_percent_cap_bounds_the_share_of_an_accounts_instances() -> None:
    idle = run_instances(4)
    put_cpu(idle, IDLE)

    report = sweep(options(max_percent_per_account=25))

    assert len(report.optimizations) == 1 and len([i for i in idle if state(i) != "running"]) == 1


@pytest.mark.usefixtures("mocked_aws")
def test_autonomy_below_the_threshold_leaves_instances_running() -> None:
    idle = run_instances(2)
    put_cpu(idle, IDLE)

    report = sweep(options(autonomy=lambda _: 4))

    assert {state(i) for i in idle} == {"running"} and report.optimizations == []
    assert all("autonomy" in (f.decision or "") for f in report.recommendations)


@pytest.mark.usefixtures("mocked_aws")
def test_unmanaged_resources_are_untouched_without_the_opt_in() -> None:
    unmanaged = run_instances(2)
    managed = run_instances(2, tags=MANAGED)
    put_cpu(unmanaged + managed, IDLE)

    report = sweep(options(include_unmanaged=False))

    assert {state(i) for i in unmanaged} == {"running"}
    assert len(report.optimizations) == 2 and ids(report.optimizations) == set(managed)
    assert all(f.managed for f in report.optimizations)
    not_managed = [f for f in report.recommendations if f.resource_id in unmanaged]
    assert len(not_managed) == 2 and all("not managed" in (f.decision or "") for f in not_managed)


@pytest.mark.usefixtures("mocked_aws")
def test_opted_out_resources_are_skipped_entirely() -> None:
    opted = run_instances(1, tags={"MiyabiOptimize": "off"})
    idle = run_instances(1)
    run_instances(2)  # busy enough to keep the percent cap out of the way: no metrics
    put_cpu(opted + idle, IDLE)
    make_bucket("opted-out-empty", tags={"MiyabiOptimize": "off"})
    make_bucket("plain-empty")

    report = sweep()

    assert state(opted[0]) == "running" and state(idle[0]) != "running"
    listed = ids(report.optimizations) | ids(report.recommendations)
    assert opted[0] not in listed and "opted-out-empty" not in listed and "plain-empty" in listed
    assert report.skipped == 2
