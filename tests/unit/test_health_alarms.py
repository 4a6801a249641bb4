"""Alarm sets: one per resource type with a health metric, created at registration and removed at deletion."""

from __future__ import annotations

import pytest
from health_fixtures import ACCOUNT, MEMBER, alarm_names, make_runtime, member_session, register

from aws_agent.config import HealthConfig
from aws_agent.health.alarms import ALARM_SETS, Managed, alarm_name, alarm_request, alarm_set, parse_alarm_name
from aws_agent.model import AwsResourceType, HealthStatus, ResourceState
from aws_agent.pipeline.runtime import Runtime


@pytest.fixture
def rt(mocked_aws: None) -> Runtime:
    return make_runtime()


NO_HEALTH_METRIC = {
    AwsResourceType.S3_BUCKET,
    AwsResourceType.CLOUDFORMATION_STACK,
    AwsResourceType.VPC_NETWORK,
    AwsResourceType.CLOUDWATCH,
    AwsResourceType.XRAY,
    AwsResourceType.ROUTE53_HOSTED_ZONE,
}


def test_every_type_has_an_alarm_set_or_is_documented_without() -> None:
    assert set(ALARM_SETS) | NO_HEALTH_METRIC == set(AwsResourceType)
    assert not set(ALARM_SETS) & NO_HEALTH_METRIC
    for specs in ALARM_SETS.values():
        assert specs and all(s.severity in (HealthStatus.DEGRADED, HealthStatus.UNHEALTHY) for s in specs)


def test_names_follow_one_convention_and_parse_back() -> None:
    resource = Managed(ACCOUNT, "us-east-1", AwsResourceType.EC2_INSTANCE, "i-0abc")
    spec = alarm_set(AwsResourceType.EC2_INSTANCE)[0]
    name = alarm_name("miyabi", resource, spec)
    assert name == f"miyabi/{ACCOUNT}/Ec2Instance/i-0abc/StatusCheckFailed"
    parsed = parse_alarm_name("miyabi", name)
    assert parsed is not None and (parsed.account_id, parsed.resource_type, parsed.id_segment, parsed.metric) == (
        ACCOUNT, AwsResourceType.EC2_INSTANCE, "i-0abc", "StatusCheckFailed")  # fmt: skip
    assert parse_alarm_name("miyabi", "someone-elses-alarm") is None
    long_id = "x" * 400
    long_name = alarm_name(
        "miyabi", Managed(ACCOUNT, "us-east-1", AwsResourceType.SNS, long_id), ALARM_SETS[AwsResourceType.SNS][0]
    )
    assert len(long_name) <= 255


def test_thresholds_are_configuration() -> None:
    resource = Managed(ACCOUNT, "us-east-1", AwsResourceType.EC2_INSTANCE, "i-1")
    cpu = alarm_set(AwsResourceType.EC2_INSTANCE)[1]
    assert alarm_request(HealthConfig(), resource, cpu)["Threshold"] == 90
    tuned = HealthConfig(thresholds={"Ec2Instance.CPUUtilization": 97.5})
    assert alarm_request(tuned, resource, cpu)["Threshold"] == 97.5


@pytest.mark.parametrize(
    ("resource_type", "resource_id", "metrics"),
    [
        (AwsResourceType.EC2_INSTANCE, "i-0123456789abcdef0", {"StatusCheckFailed", "CPUUtilization"}),
        (AwsResourceType.LAMBDA_FUNCTION, "api-handler", {"Errors", "Throttles"}),
        (AwsResourceType.RDS_INSTANCE, "orders-db", {"CPUUtilization", "FreeStorageSpace", "DatabaseConnections"}),
        (AwsResourceType.DYNAMODB_TABLE, "orders", {"ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors"}),
        (AwsResourceType.API_GATEWAY, "a1b2c3", {"5XXError", "Latency"}),
        (AwsResourceType.CLOUDFRONT_DISTRIBUTION, "E2QWRUHAPOMQZL", {"5xxErrorRate"}),
        (AwsResourceType.ECS_SERVICE, "web/frontend", {"CPUUtilization", "MemoryUtilization"}),
        (AwsResourceType.LOAD_BALANCER, "app/web/50dc6c495c0c9188", {"HTTPCode_ELB_5XX_Count", "UnHealthyHostCount"}),
    ],
)
def test_registration_creates_and_deletion_removes_the_alarm_set(
    rt: Runtime, resource_type: AwsResourceType, resource_id: str, metrics: set[str]
) -> None:
    result = register(rt, resource_type, resource_id)
    assert result["alarms"] == {"created": len(metrics), "deleted": 0}
    prefix = f"miyabi/{ACCOUNT}/{resource_type.value}/{resource_id}/"
    alarms = alarm_names()
    assert {name.removeprefix(prefix) for name in alarms} == metrics
    for alarm in alarms.values():
        assert alarm["ActionsEnabled"] is False and alarm["AlarmActions"] == []
    cloudwatch = __import__("boto3").client("cloudwatch", region_name="us-east-1")
    tags = cloudwatch.list_tags_for_resource(ResourceARN=next(iter(alarms.values()))["AlarmArn"])["Tags"]
    assert {"Key": "MiyabiManaged", "Value": "true"} in tags
    assert {"Key": "MiyabiResource", "Value": f"{ACCOUNT}/us-east-1/{resource_type.value}/{resource_id}"} in tags

    deleted = register(rt, resource_type, resource_id, state=ResourceState.TERMINATED, task_id="t-del")
    assert deleted["alarms"] == {"created": 0, "deleted": len(metrics)}
    assert alarm_names() == {}


def test_ec2_alarm_watches_the_instance(rt: Runtime) -> None:
    register(rt, AwsResourceType.EC2_INSTANCE, "i-0123456789abcdef0")
    alarm = alarm_names()[f"miyabi/{ACCOUNT}/Ec2Instance/i-0123456789abcdef0/StatusCheckFailed"]
    assert alarm["Namespace"] == "AWS/EC2" and alarm["Dimensions"] == [
        {"Name": "InstanceId", "Value": "i-0123456789abcdef0"}
    ]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Statistic"] == "Maximum"


def test_alarms_of_a_member_account_resource_live_in_that_account(rt: Runtime) -> None:
    register(rt, AwsResourceType.LAMBDA_FUNCTION, "member-fn", account_id=MEMBER)
    assert alarm_names() == {}  # nothing in the agent's own account
    assert set(alarm_names(member_session())) == {
        f"miyabi/{MEMBER}/LambdaFunction/member-fn/Errors",
        f"miyabi/{MEMBER}/LambdaFunction/member-fn/Throttles",
    }


def test_types_without_a_health_metric_make_no_call(rt: Runtime) -> None:
    assert register(rt, AwsResourceType.S3_BUCKET, "bucket")["alarms"] == {"created": 0, "deleted": 0}


def test_deleting_a_resource_keeps_the_alarms_of_another_whose_id_extends_it(rt: Runtime) -> None:
    register(rt, AwsResourceType.ECS_SERVICE, "web")
    register(rt, AwsResourceType.ECS_SERVICE, "web/frontend")
    register(rt, AwsResourceType.ECS_SERVICE, "web", state=ResourceState.TERMINATED, task_id="t-del")
    assert set(alarm_names()) == {
        f"miyabi/{ACCOUNT}/EcsService/web/frontend/CPUUtilization",
        f"miyabi/{ACCOUNT}/EcsService/web/frontend/MemoryUtilization",
    }
