"""Each guardian's allow / deny / needs-approval cases, the autonomy gate, and the policy file's overrides."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from aws_agent.config import AgentConfig
from aws_agent.guardians import GuardContext, Verdict, autonomy, buddha, cerberus, evaluate, michael
from aws_agent.guardians.policy import POLICIES_PATH_ENV, load_policies
from aws_agent.model import AwsResourceType, AwsTask, AwsTaskType, CostFinding

ZEUS, APOLLO, ATHENA = "123456789012", "222222222222", "444444444444"
DIRECTORY = {"Zeus": ZEUS, "Apollo": APOLLO, "Cerberus": "333333333333", "Athena": ATHENA}
T = AwsResourceType


def ctx(
    resource_type: AwsResourceType | None,
    params: dict[str, Any] | None = None,
    *,
    task_type: AwsTaskType = AwsTaskType.CREATE_RESOURCE,
    account_id: str = ZEUS,
    policies: dict[str, Any] | None = None,
    inventory: list[dict[str, Any]] | None = None,
    dry_run: bool = False,
) -> GuardContext:
    task = AwsTask(id="t-1", task_type=task_type, resource_type=resource_type, account_id=account_id,
                   region="us-east-1", parameters=params or {}, dry_run=dry_run)  # fmt: skip
    return GuardContext(
        task=task,
        policies=load_policies(AgentConfig(policies=policies or {})),
        directory=DIRECTORY,
        inventory=lambda account, rtype: list(inventory or []),
    )


# --- Cerberus -------------------------------------------------------------------------------------------------
def test_cerberus_allows_a_plain_bucket() -> None:
    assert cerberus.check(ctx(T.S3_BUCKET, {"bucket_name": "b"})).decision is Verdict.ALLOW


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"acl": "public-read"}, "public"),
        ({"public_access_block": False}, "public access block"),
        ({"public_access_block": {"BlockPublicAcls": True, "BlockPublicPolicy": False}}, "BlockPublicPolicy off"),
        ({"policy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}}, "everyone"),
        ({"encryption": "none"}, "encrypted"),
    ],
)
def test_cerberus_denies_public_or_unencrypted_buckets(params: dict[str, Any], reason: str) -> None:
    decision = cerberus.check(ctx(T.S3_BUCKET, params))
    assert decision.decision is Verdict.DENY and reason in "; ".join(decision.reasons)


@pytest.mark.parametrize(
    ("rule", "denied"),
    [
        ({"port": 22, "cidr": "0.0.0.0/0"}, True),
        ({"from_port": 3300, "to_port": 3400, "cidr_ipv6": "::/0"}, True),  # covers 3306 and 3389
        ({"protocol": "-1", "cidrs": ["0.0.0.0/0"]}, True),  # every port
        ({"port": 443, "cidr": "0.0.0.0/0"}, False),  # a public web port
        ({"port": 22, "cidr": "10.0.0.0/8"}, False),  # not open to the world
    ],
)
def test_cerberus_security_group_rules(rule: dict[str, Any], denied: bool) -> None:
    decision = cerberus.check(ctx(T.VPC_NETWORK, {"ingress": [rule]}))
    assert decision.decision is (Verdict.DENY if denied else Verdict.ALLOW)


def test_cerberus_asks_a_human_about_other_world_open_ports() -> None:
    decision = cerberus.check(ctx(T.VPC_NETWORK, {"ingress": [{"port": 8080, "cidr": "0.0.0.0/0"}]}))
    assert decision.decision is Verdict.NEEDS_APPROVAL and "8080" in decision.reasons[0]


@pytest.mark.parametrize(
    ("resource_type", "params"),
    [
        (T.EBS_VOLUME, {"encrypted": False}),
        (T.RDS_INSTANCE, {"storage_encrypted": False}),
        (T.EFS_FILE_SYSTEM, {"encrypted": "false"}),
        (T.DYNAMODB_TABLE, {"sse_enabled": False}),
        (T.EC2_INSTANCE, {"block_device_mappings": [{"device_name": "/dev/xvda", "ebs": {"encrypted": False}}]}),
    ],
)
def test_cerberus_denies_unencrypted_storage(resource_type: AwsResourceType, params: dict[str, Any]) -> None:
    assert cerberus.check(ctx(resource_type, params)).decision is Verdict.DENY


def test_cerberus_admin_ports_are_configuration() -> None:
    rule = {"ingress": [{"port": 8443, "cidr": "0.0.0.0/0"}]}
    assert cerberus.check(ctx(T.VPC_NETWORK, rule)).decision is Verdict.NEEDS_APPROVAL
    custom = ctx(T.VPC_NETWORK, rule, policies={"cerberus": {"admin_ports": [8443]}})
    assert cerberus.check(custom).decision is Verdict.DENY


# --- Michael --------------------------------------------------------------------------------------------------
def test_michael_allows_cheap_tagged_creates() -> None:
    assert michael.check(ctx(T.EC2_INSTANCE, {"instance_type": "t3.micro"})).decision is Verdict.ALLOW


def test_michael_denies_missing_required_tags() -> None:
    policies = {"michael": {"required_tags": ["Owner", "CostCenter"]}}
    decision = michael.check(ctx(T.S3_BUCKET, {"tags": {"Owner": "qa"}}, policies=policies))
    assert decision.decision is Verdict.DENY and "CostCenter" in decision.reasons[0]
    tagged = ctx(T.S3_BUCKET, {"tags": {"Owner": "qa", "CostCenter": "42"}}, policies=policies)
    assert michael.check(tagged).decision is Verdict.ALLOW


def test_michael_asks_for_approval_above_the_cost_threshold() -> None:
    decision = michael.check(ctx(T.EC2_INSTANCE, {"instance_type": "m5.4xlarge"}))  # ~ $18.43/day
    assert decision.decision is Verdict.NEEDS_APPROVAL and "18.43" in decision.reasons[0]


def test_michael_denies_over_the_account_budget() -> None:
    existing = [{"resource_type": "Ec2Instance", "metadata": {"instance_type": "m5.xlarge"}}] * 3  # 3 x $4.61/day
    policies = {"michael": {"daily_budget_usd": {"default": 100, "Athena": 15}}}
    decision = michael.check(ctx(T.EC2_INSTANCE, {"instance_type": "t3.large"}, account_id=ATHENA,
                                 policies=policies, inventory=existing))  # fmt: skip
    assert decision.decision is Verdict.DENY and "budget of $15.00/day" in decision.reasons[0]
    elsewhere = ctx(T.EC2_INSTANCE, {"instance_type": "t3.large"}, account_id=APOLLO, policies=policies,
                    inventory=existing)  # fmt: skip
    assert michael.check(elsewhere).decision is Verdict.ALLOW


def test_michael_reviews_removal_of_idle_resources_in_sweeps() -> None:
    policy = load_policies().michael
    finding = CostFinding(resource_id="vol-1", resource_type=T.EBS_VOLUME, account_id=ZEUS, region="us-east-1",
                          action="snapshot-and-delete-volume", monthly_savings=3, reason="unattached")  # fmt: skip
    assert michael.review_finding(finding, policy) is Verdict.NEEDS_APPROVAL
    finding.action = "stop"
    assert michael.review_finding(finding, policy) is Verdict.ALLOW


def test_the_sweep_default_guard_is_the_guardians() -> None:
    from aws_agent.costs.options import SweepOptions

    finding = CostFinding(resource_id="eipalloc-1", resource_type=T.EC2_INSTANCE, account_id=ZEUS,
                          region="us-east-1", action="release-address", monthly_savings=3, reason="idle")  # fmt: skip
    assert SweepOptions().guard(finding) == "needs-approval"
    finding.action = "stop"
    assert SweepOptions().guard(finding) == "allow"


# --- Buddha ---------------------------------------------------------------------------------------------------
def test_buddha_allows_within_quota_and_size() -> None:
    assert buddha.check(ctx(T.EC2_INSTANCE, {"instance_type": "t3.small"}, account_id=ATHENA)).decision is Verdict.ALLOW


def test_buddha_denies_over_the_quota() -> None:
    existing = [{"resource_type": "S3Bucket"}] * 2 + [{"resource_type": "Ec2Instance"}] * 5
    decision = buddha.check(ctx(T.S3_BUCKET, {}, policies={"buddha": {"quotas": {"S3Bucket": 2}}}, inventory=existing))
    assert decision.decision is Verdict.DENY and "already has 2 managed S3Bucket (max 2)" in decision.reasons[0]


def test_buddha_limits_sizes_in_development() -> None:
    big = ctx(T.EC2_INSTANCE, {"instance_type": "m5.4xlarge"}, account_id=ATHENA)
    decision = buddha.check(big)
    assert decision.decision is Verdict.DENY and "Development" in decision.reasons[0]
    # The same size is fine in Production (no size limit there), and a DB class is limited too.
    assert (
        buddha.check(ctx(T.EC2_INSTANCE, {"instance_type": "m5.4xlarge"}, account_id=APOLLO)).decision is Verdict.ALLOW
    )
    db = ctx(T.RDS_INSTANCE, {"db_instance_class": "db.m5.xlarge", "multi_az": True}, account_id=ATHENA)
    assert buddha.check(db).decision is Verdict.DENY


def test_buddha_spreads_production_across_azs() -> None:
    assert buddha.check(ctx(T.VPC_NETWORK, {"az_count": 1}, account_id=APOLLO)).decision is Verdict.DENY
    assert buddha.check(ctx(T.VPC_NETWORK, {"az_count": 2}, account_id=APOLLO)).decision is Verdict.ALLOW
    asg = ctx(T.AUTO_SCALING_GROUP, {"subnets": ["subnet-a"]}, account_id=APOLLO)
    assert buddha.check(asg).decision is Verdict.DENY
    single_az_db = ctx(T.RDS_INSTANCE, {"multi_az": False}, account_id=APOLLO)
    assert buddha.check(single_az_db).decision is Verdict.NEEDS_APPROVAL
    assert buddha.check(ctx(T.VPC_NETWORK, {"az_count": 1}, account_id=ATHENA)).decision is Verdict.ALLOW  # dev


# --- Autonomy and the overall decision -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("resource_type", "task_type", "verdict"),
    [
        (T.S3_BUCKET, AwsTaskType.CREATE_RESOURCE, Verdict.ALLOW),
        (T.S3_BUCKET, AwsTaskType.DELETE_RESOURCE, Verdict.ALLOW),  # risk 5 <= autonomy 5
        (T.RDS_INSTANCE, AwsTaskType.UPDATE_RESOURCE, Verdict.ALLOW),  # risk 4 <= autonomy 4
        (T.RDS_INSTANCE, AwsTaskType.DELETE_RESOURCE, Verdict.NEEDS_APPROVAL),  # risk 5 > autonomy 4
        (T.LAMBDA_FUNCTION, AwsTaskType.DELETE_RESOURCE, Verdict.ALLOW),
    ],
)
def test_autonomy_against_operation_risk(
    resource_type: AwsResourceType, task_type: AwsTaskType, verdict: Verdict
) -> None:
    assert autonomy.check(ctx(resource_type, {}, task_type=task_type)).decision is verdict


def test_evaluate_combines_strictest_and_records_every_guardian() -> None:
    gate = evaluate(ctx(T.EC2_INSTANCE, {"instance_type": "m5.4xlarge", "encrypted": False}))
    assert gate.decision is Verdict.DENY  # Cerberus denies; Michael's approval request does not soften it
    assert {g.guardian: g.decision for g in gate.guardians} == {
        "Cerberus": Verdict.DENY, "Michael": Verdict.NEEDS_APPROVAL, "Buddha": Verdict.ALLOW, "Autonomy": Verdict.ALLOW,
    }  # fmt: skip
    assert gate.policy_version == "1" and gate.estimated_daily_cost == "18.4320"


def test_a_dry_run_is_never_held_for_approval() -> None:
    gate = evaluate(ctx(T.EC2_INSTANCE, {"instance_type": "m5.4xlarge"}, dry_run=True))
    assert gate.decision is Verdict.ALLOW and "dry run" in gate.reasons[0]


def test_read_only_tasks_pass_every_guardian() -> None:
    gate = evaluate(ctx(None, {}, task_type=AwsTaskType.SECURITY_AUDIT))
    assert gate.decision is Verdict.ALLOW and gate.risk == 0


def test_average_autonomy() -> None:
    assert autonomy.average_autonomy([{"autonomy_level": 8}, {"autonomy_level": 6}, {"autonomy_level": 8}]) == (
        pytest.approx(22 / 3), 3)  # fmt: skip
    assert autonomy.average_autonomy([]) == (None, 0)


# --- The policy file -----------------------------------------------------------------------------------------
def test_policy_file_is_versioned_and_overridable(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_policies().version == "1"
    assert load_policies(AgentConfig(policies={"approvals": {"timeout_seconds": 60}})).approvals.timeout_seconds == 60
    custom = tmp_path / "policies.json"
    custom.write_text('{"version": "1", "autonomy": {"risk": {}}, "cerberus": {"admin_ports": [2222]}}')
    monkeypatch.setenv(POLICIES_PATH_ENV, str(custom))
    loaded = load_policies()
    assert loaded.cerberus.admin_ports == [2222] and loaded.risk_of(AwsTaskType.CREATE_RESOURCE) == 10


@pytest.mark.parametrize(
    "override",
    [{"version": "2"}, {"approvals": {"timeout_seconds": 0}}, {"buddha": {"max_sizes": {"Moon": {}}}}, {"nope": 1}],
)
def test_bad_policies_are_rejected(override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        load_policies(AgentConfig(policies=override))
