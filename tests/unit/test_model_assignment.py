"""The specification's types and its exact assignment and autonomy tables."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from aws_agent.assignment import autonomy_for, decision_maker_for
from aws_agent.model import (
    AccountRole,
    AwsAccount,
    AwsResource,
    AwsResourceType,
    AwsTask,
    AwsTaskType,
    CostFinding,
    CostReport,
    HealthStatus,
    HistoricalAgent,
    ResourceState,
    ServiceAgent,
    TaskStatus,
    execution_name,
)

T, H = AwsResourceType, HistoricalAgent
EXPECTED_OWNER = {
    T.EC2_INSTANCE: H.BILL_GATES, T.LAMBDA_FUNCTION: H.BILL_GATES,
    T.CLOUDFRONT_DISTRIBUTION: H.STEVE_JOBS, T.S3_BUCKET: H.STEVE_JOBS,
    T.AUTO_SCALING_GROUP: H.NAPOLEON, T.LOAD_BALANCER: H.NAPOLEON,
    T.LAMBDA_EDGE: H.HANNIBAL,
    T.CLOUDWATCH: H.DRUCKER, T.XRAY: H.DRUCKER,
    T.API_GATEWAY: H.KOTLER, T.SNS: H.KOTLER,
    T.RDS_INSTANCE: H.NOGUCHI, T.DYNAMODB_TABLE: H.NOGUCHI,
    # "anything else" → BillGates
    T.CLOUDFORMATION_STACK: H.BILL_GATES, T.VPC_NETWORK: H.BILL_GATES, T.ECS_SERVICE: H.BILL_GATES,
    T.EBS_VOLUME: H.BILL_GATES, T.EFS_FILE_SYSTEM: H.BILL_GATES, T.AURORA_CLUSTER: H.BILL_GATES,
    T.ROUTE53_HOSTED_ZONE: H.BILL_GATES,
}  # fmt: skip


def test_every_resource_type_is_listed() -> None:
    assert set(EXPECTED_OWNER) == set(AwsResourceType)
    assert len(AwsResourceType) == 20


@pytest.mark.parametrize(("resource_type", "owner"), sorted(EXPECTED_OWNER.items()))
def test_decision_maker_matches_spec_table(resource_type: AwsResourceType, owner: HistoricalAgent) -> None:
    assert decision_maker_for(resource_type) is owner


@pytest.mark.parametrize("resource_type", list(AwsResourceType))
def test_autonomy_matches_spec(resource_type: AwsResourceType) -> None:
    expected = {T.LAMBDA_FUNCTION: 8, T.EC2_INSTANCE: 6, T.RDS_INSTANCE: 4}.get(resource_type, 5)
    assert autonomy_for(resource_type) == expected


def test_enums_have_the_spec_values() -> None:
    assert [s.value for s in ResourceState] == ["Creating", "Active", "Updating", "Deleting", "Failed", "Terminated"]
    assert [h.value for h in HealthStatus] == ["Healthy", "Degraded", "Unhealthy", "Unknown"]
    assert [t.value for t in TaskStatus] == ["Pending", "InProgress", "Completed", "Failed", "Cancelled"]
    assert {r.value for r in AccountRole} == {"Management", "Production", "Security", "Development"}
    # The spec's seven task types, plus AnalyzeBilling (a product decision, README "Billing as a task").
    assert [t.value for t in AwsTaskType] == [
        "CreateResource",
        "UpdateResource",
        "DeleteResource",
        "DiscoverResources",
        "OptimizeCosts",
        "SecurityAudit",
        "HealthCheck",
        "AnalyzeBilling",
    ]


def _samples() -> list:
    return [
        AwsAccount(id="222222222222", name="Apollo", role=AccountRole.PRODUCTION,
                   credentials="arn:aws:iam::222222222222:role/MiyabiAgentRole"),
        AwsResource(id="i-0abc", arn="arn:aws:ec2:us-east-1:222222222222:instance/i-0abc",
                    resource_type=T.EC2_INSTANCE, region="us-east-1", account_id="222222222222",
                    state=ResourceState.ACTIVE, owner_agent=H.BILL_GATES, tags={"Env": "prod"},
                    metadata={"instance_type": "t3.micro", "nested": {"a": [1, 2]}}),
        ServiceAgent(name="x", service_type=T.LAMBDA_FUNCTION, state=ResourceState.ACTIVE, autonomy_level=8,
                     decision_maker=H.BILL_GATES, cost_per_day=Decimal("0.0123")),
        AwsTask(id="task-1", task_type=AwsTaskType.CREATE_RESOURCE, resource_type=T.S3_BUCKET,
                account_id="111111111111", region="eu-west-1", parameters={"bucket_name": "b"}),
        CostReport(total_savings=Decimal("12.5"), optimizations=[
            CostFinding(resource_id="i-1", resource_type=T.EC2_INSTANCE, account_id="111111111111",
                        region="us-east-1", action="stop", monthly_savings=Decimal("12.5"), reason="idle")]),
    ]  # fmt: skip


@pytest.mark.parametrize("value", _samples(), ids=lambda v: type(v).__name__)
def test_json_round_trip(value: object) -> None:
    cls = type(value)
    assert cls.model_validate_json(value.model_dump_json()) == value  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [
        {"account_id": "12345"},
        {"region": "moon-1"},
        {"id": "has spaces"},
        {"id": "x" * 200},
        {"task_type": "Explode"},
        {"parameters": {"tags": {"aws:reserved": "x"}}},
        {"parameters": {"tags": {f"k{i}": "v" for i in range(41)}}},
        {"parameters": {"tags": ["not", "a", "map"]}},
    ],
)
def test_task_validation_rejects(bad: dict) -> None:
    base = {"id": "t-1", "task_type": "CreateResource", "account_id": "111111111111", "region": "us-east-1"}
    with pytest.raises(ValidationError):
        AwsTask.model_validate({**base, **bad})


def test_service_agent_autonomy_bounds() -> None:
    with pytest.raises(ValidationError):
        ServiceAgent(name="x", service_type=T.SNS, state=ResourceState.ACTIVE, autonomy_level=11,
                     decision_maker=H.KOTLER, cost_per_day=Decimal(0))  # fmt: skip


def test_execution_name_is_deterministic_and_valid() -> None:
    name = execution_name("issue:42/odd id")
    assert name == execution_name("issue:42/odd id")
    assert name != execution_name("issue:42-odd-id")
    assert len(name) <= 80 and all(c.isalnum() or c in "-_" for c in name)
