"""CloudWatchProvider against moto: tagged alarms, dashboards managed by prefix + marker widget."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.cloudwatch import CloudWatchProvider, marker_tags

MakeCtx = Callable[..., Any]
CW = AwsResourceType.CLOUDWATCH
T = AwsTaskType
provider = CloudWatchProvider()
ALARM = {"metric_name": "CPUUtilization", "namespace": "AWS/EC2", "threshold": 80, "dimensions": {"InstanceId": "i-1"}}


def cw() -> Any:
    return boto3.client("cloudwatch", region_name="us-east-1")


def test_registry_returns_the_cloudwatch_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(CW), CloudWatchProvider)


def test_create_alarm_tagged_at_creation(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(CW, {**ALARM, "alarm_name": "cpu-high"}))
    assert outcome.id == "alarm/cpu-high" and outcome.state is ResourceState.ACTIVE and outcome.ready
    (alarm,) = cw().describe_alarms()["MetricAlarms"]
    assert alarm["Threshold"] == 80.0 and alarm["Dimensions"] == [{"Name": "InstanceId", "Value": "i-1"}]
    tags = {t["Key"]: t["Value"] for t in cw().list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]}
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiAgent"] == "Drucker" and tags["MiyabiTask"] == "task-0001"


def test_create_never_overwrites_someone_elses_alarm(make_ctx: MakeCtx) -> None:
    cw().put_metric_alarm(
        AlarmName="theirs",
        MetricName="M",
        Namespace="N",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    with pytest.raises(ResourceConflict, match="not created by this task"):
        provider.create(make_ctx(CW, {**ALARM, "alarm_name": "theirs"}))
    assert cw().describe_alarms()["MetricAlarms"][0]["Threshold"] == 5.0
    first = provider.create(make_ctx(CW, ALARM))
    assert provider.create(make_ctx(CW, ALARM)).id == first.id  # a replay of the same task


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric_name": "M"}, "namespace"),
        ({**ALARM, "threshold": "high"}, "number"),
        ({**ALARM, "comparison_operator": "Bigger"}, "comparison_operator"),
        ({"kind": "graph"}, "alarm or dashboard"),
        ({"kind": "dashboard", "dashboard_body": "{"}, "not JSON"),
    ],
)
def test_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(CW, params))
    assert cw().describe_alarms()["MetricAlarms"] == [] and cw().list_dashboards()["DashboardEntries"] == []


def test_update_alarm_keeps_what_the_task_does_not_change(make_ctx: MakeCtx) -> None:
    alarm_id = provider.create(make_ctx(CW, {**ALARM, "alarm_name": "cpu"})).id
    ctx = make_ctx(CW, {"alarm_name": "cpu", "threshold": 95, "tags": {"Env": "prod"}}, task_type=T.UPDATE_RESOURCE)
    outcome = provider.update(ctx, alarm_id)
    assert outcome.metadata["threshold"] == 95.0 and outcome.metadata["metric_name"] == "CPUUtilization"
    assert outcome.tags["Env"] == "prod"


def test_dashboard_is_prefixed_and_carries_the_marker(make_ctx: MakeCtx) -> None:
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "hi"}}]}
    outcome = provider.create(make_ctx(CW, {"kind": "dashboard", "dashboard_name": "ops", "dashboard_body": body}))
    assert outcome.id == "dashboard/miyabi-ops" and outcome.managed
    stored = json.loads(cw().get_dashboard(DashboardName="miyabi-ops")["DashboardBody"])
    assert marker_tags(stored)["MiyabiTask"] == "task-0001"
    assert stored["widgets"][1]["y"] == 2  # moved below the marker
    provider.tag(make_ctx(CW, {}), outcome.id, {"Team": "sre"})
    assert provider.status(make_ctx(CW, {}), outcome.id).tags["Team"] == "sre"
    updated = provider.update(
        make_ctx(CW, {"dashboard_name": "miyabi-ops", "dashboard_body": {"widgets": []}}, task_type=T.UPDATE_RESOURCE),
        outcome.id,
    )
    assert updated.managed and updated.metadata["widgets"] == 1 and updated.tags["Team"] == "sre"


def test_dashboards_without_prefix_or_marker_are_not_managed(make_ctx: MakeCtx) -> None:
    marker = json.loads(CloudWatchProvider._dashboard_body(make_ctx(CW, {}), {"MiyabiManaged": "true"}, None))
    cw().put_dashboard(DashboardName="ops", DashboardBody=json.dumps(marker))  # a copied marker, no prefix
    cw().put_dashboard(DashboardName="miyabi-theirs", DashboardBody=json.dumps({"widgets": []}))
    for name in ("ops", "miyabi-theirs"):
        with pytest.raises(ResourceNotManaged):
            provider.delete(make_ctx(CW, {"dashboard_name": name}, task_type=T.DELETE_RESOURCE), f"dashboard/{name}")
        with pytest.raises(ResourceConflict):
            provider.tag(make_ctx(CW, {}), f"dashboard/{name}", {"MiyabiManaged": "true"})
    assert len(cw().list_dashboards()["DashboardEntries"]) == 2


def test_delete_alarm_and_dashboard(make_ctx: MakeCtx) -> None:
    alarm = provider.create(make_ctx(CW, ALARM)).id
    dashboard = provider.create(make_ctx(CW, {"kind": "dashboard"}, task_id="dash-1")).id
    for resource_id in (alarm, dashboard):
        outcome = provider.delete(make_ctx(CW, {"resource_id": resource_id}, task_type=T.DELETE_RESOURCE), resource_id)
        assert outcome.state is ResourceState.TERMINATED
    assert cw().describe_alarms()["MetricAlarms"] == [] and cw().list_dashboards()["DashboardEntries"] == []


def test_unmanaged_alarm_is_never_deleted(make_ctx: MakeCtx) -> None:
    cw().put_metric_alarm(
        AlarmName="theirs",
        MetricName="M",
        Namespace="N",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    with pytest.raises(ResourceNotManaged):
        provider.delete(make_ctx(CW, {"alarm_name": "theirs"}, task_type=T.DELETE_RESOURCE), "alarm/theirs")


def test_discover_and_plan(make_ctx: MakeCtx) -> None:
    alarm = provider.create(make_ctx(CW, ALARM)).id
    dashboard = provider.create(make_ctx(CW, {"kind": "dashboard"}, task_id="dash-1")).id
    cw().put_dashboard(DashboardName="plain", DashboardBody=json.dumps({"widgets": []}))
    found = {o.id: o for o in provider.discover(make_ctx(CW, {}, task_type=T.DISCOVER_RESOURCES))}
    assert found[alarm].managed and found[dashboard].managed and not found["dashboard/plain"].managed
    plan = provider.plan(make_ctx(CW, {**ALARM, "alarm_name": "planned"}))
    assert plan["calls"] == ["cloudwatch:PutMetricAlarm"]
    assert "planned" not in {a["AlarmName"] for a in cw().describe_alarms()["MetricAlarms"]}
