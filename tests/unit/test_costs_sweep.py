"""The fleet sweep: several accounts through assumed roles, per-target errors, the report contract."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from test_costs_fleet import (
    AGENT_ACCOUNT,
    BUSY,
    IDLE,
    MEMBER_ROLE,
    REGION,
    ids,
    make_bucket,
    options,
    put_cpu,
    run_instances,
    sessions,
    state,
    sweep,
)

from aws_agent.aws import SessionFactory, Target
from aws_agent.costs.options import SweepOptions
from aws_agent.costs.sweep import TargetResult, optimize_target
from aws_agent.errors import AccessDenied

pytestmark = pytest.mark.usefixtures("mocked_aws")
APOLLO, ATHENA, CERBERUS = "111111111111", "222222222222", "333333333333"


class DenyingSessions(SessionFactory):
    """AssumeRole refused for one account, as a missing trust policy would."""

    def __init__(self, denied: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.denied = denied

    def session(self, account_id: str | None, *, session_name: str | None = None) -> boto3.Session:
        if account_id == self.denied:
            raise AccessDenied(f"assume {self.role_arn(account_id)}: AccessDenied: not authorized")
        return super().session(account_id, session_name=session_name)


def seed_member(account: str) -> tuple[list[str], list[str]]:
    idle = run_instances(2, account=account)
    busy = run_instances(2, account=account)
    put_cpu(idle, IDLE, account=account)
    put_cpu(busy, BUSY, account=account)
    make_bucket(f"empty-{account}", account=account)
    return idle, busy


def test_two_accounts_through_assumed_roles_each_see_only_their_own() -> None:
    apollo_idle, apollo_busy = seed_member(APOLLO)
    athena_idle, athena_busy = seed_member(ATHENA)
    role_arns = {a: f"arn:aws:iam::{a}:role/{MEMBER_ROLE}" for a in (APOLLO, ATHENA)}

    report = sweep(targets=[Target(APOLLO, REGION), Target(ATHENA, REGION)], factory=sessions(role_arns))

    by_account = {a: {f.resource_id for f in report.optimizations if f.account_id == a} for a in (APOLLO, ATHENA)}
    assert by_account == {APOLLO: set(apollo_idle), ATHENA: set(athena_idle)}
    assert {f.resource_id: f.account_id for f in report.recommendations} == {
        f"empty-{APOLLO}": APOLLO,
        f"empty-{ATHENA}": ATHENA,
    }
    assert {state(i, APOLLO) for i in apollo_idle} == {"stopped"}
    assert {state(i, ATHENA) for i in athena_busy} == {"running"}
    assert {state(i, APOLLO) for i in apollo_busy} == {"running"}
    assert report.targets == 2 and not report.errors
    assert report.requests["cloudwatch.GetMetricData"] == 2 and report.requests["ec2.StopInstances"] == 2


def test_access_denied_on_one_account_does_not_stop_the_others() -> None:
    apollo_idle, _ = seed_member(APOLLO)
    factory = DenyingSessions(CERBERUS, agent_account_id=AGENT_ACCOUNT, role_name=MEMBER_ROLE)

    report = sweep(targets=[Target(CERBERUS, REGION), Target(APOLLO, REGION)], factory=factory)

    assert ids(report.optimizations) == set(apollo_idle)
    assert [(e.account_id, e.code) for e in report.errors] == [(CERBERUS, "AccessDenied")]


def test_report_follows_the_bench_contract() -> None:
    idle, _ = seed_member(APOLLO)

    report = sweep(targets=[Target(APOLLO, REGION)])
    data = json.loads(report.model_dump_json())

    assert isinstance(data["optimizations"], list) and isinstance(data["recommendations"], list)
    for item in data["optimizations"] + data["recommendations"]:
        assert isinstance(item["resource_id"], str) and isinstance(item["action"], str)
    assert {i["resource_id"] for i in data["optimizations"] if i["action"] == "stop"} == set(idle)
    for key in ("total_savings", "potential_savings", "fleet_monthly_cost", "savings_percent", "errors", "skipped"):
        assert key in data


def test_optimize_target_alone_returns_a_serialisable_result() -> None:
    idle, _ = seed_member(APOLLO)

    result = optimize_target(sessions(), Target(APOLLO, REGION), SweepOptions(apply=True, include_unmanaged=True))

    assert ids(result.acted) == set(idle) and result.instances == 4 and result.fleet_monthly_cost > 0
    assert result.requests["ec2.StopInstances"] == 1
    assert TargetResult.model_validate_json(result.model_dump_json()) == result


def test_the_callers_own_account_needs_no_assumed_role() -> None:
    idle = run_instances(2)
    put_cpu(idle[:1], IDLE)

    report = sweep(targets=[Target(None, REGION)], opts=options())

    assert ids(report.optimizations) == {idle[0]} and report.optimizations[0].account_id == AGENT_ACCOUNT
