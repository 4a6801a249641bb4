"""Health routing: CloudWatch alarm state changes → the service agent's health, conditional, announced once."""

from __future__ import annotations

import boto3
import pytest
from health_fixtures import ACCOUNT, alarm_event, make_runtime, received, register

from aws_agent.errors import InvalidTaskEvent
from aws_agent.health.routing import normalize_timestamp, route
from aws_agent.model import AwsResourceType
from aws_agent.pipeline.runtime import Runtime


@pytest.fixture
def rt(mocked_aws: None) -> Runtime:
    return make_runtime()


FN = "api-handler"
ERRORS = f"miyabi/{ACCOUNT}/LambdaFunction/{FN}/Errors"
THROTTLES = f"miyabi/{ACCOUNT}/LambdaFunction/{FN}/Throttles"
KEY = f"{ACCOUNT}#us-east-1#LambdaFunction#{FN}"


def _agent(rt: Runtime) -> dict:
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(TableName="agents", Key={"name": {"S": KEY}})
    return item["Item"]


@pytest.fixture
def registered(rt: Runtime) -> Runtime:
    register(rt, AwsResourceType.LAMBDA_FUNCTION, FN)
    # Routing alone: auto-healing has its own tests.
    rt.settings.config.health.heal_enabled = False
    return rt


def test_timestamps_normalize_to_comparable_utc() -> None:
    assert normalize_timestamp("2019-10-02T17:04:40.989+0000") == "2019-10-02T17:04:40.989000+00:00"
    assert normalize_timestamp("2019-10-02T19:04:40.989+0200") == "2019-10-02T17:04:40.989000+00:00"


def test_alarm_then_ok_then_insufficient_data(registered: Runtime) -> None:
    rt = registered
    first = route(rt, alarm_event(ERRORS, "ALARM", "2026-01-01T10:00:00.000+0000"))
    assert first["health"] == "Unhealthy" and first["changed"] is True  # Errors is an Unhealthy-severity alarm
    assert _agent(rt)["health_status"] == {"S": "Unhealthy"}
    events = received(rt)
    assert [e["detail-type"] for e in events] == ["ServiceAgentHealthChanged"]
    detail = events[0]["detail"]
    assert detail["previous_health"] == "Unknown" and detail["health"] == "Unhealthy"
    assert detail["service_agent"] == KEY and detail["alarm_state"] == "ALARM"

    assert route(rt, alarm_event(ERRORS, "OK", "2026-01-01T10:05:00.000+0000"))["health"] == "Healthy"
    assert _agent(rt)["health_status"] == {"S": "Healthy"}
    assert [e["detail"]["health"] for e in received(rt)] == ["Healthy"]

    assert route(rt, alarm_event(ERRORS, "INSUFFICIENT_DATA", "2026-01-01T10:10:00.000+0000"))["health"] == "Unknown"
    assert _agent(rt)["health_status"] == {"S": "Unknown"}
    assert [e["detail"]["health"] for e in received(rt)] == ["Unknown"]


def test_degraded_by_severity_and_worst_of_all_alarms(registered: Runtime) -> None:
    rt = registered
    assert route(rt, alarm_event(THROTTLES, "ALARM", "2026-01-01T10:00:00.000+0000"))["health"] == "Degraded"
    assert route(rt, alarm_event(ERRORS, "OK", "2026-01-01T10:01:00.000+0000"))["health"] == "Degraded"
    assert route(rt, alarm_event(ERRORS, "ALARM", "2026-01-01T10:02:00.000+0000"))["health"] == "Unhealthy"
    assert route(rt, alarm_event(ERRORS, "OK", "2026-01-01T10:03:00.000+0000"))["health"] == "Degraded"
    assert route(rt, alarm_event(THROTTLES, "OK", "2026-01-01T10:04:00.000+0000"))["health"] == "Healthy"
    assert [e["detail"]["health"] for e in received(rt)] == ["Degraded", "Unhealthy", "Degraded", "Healthy"]


def test_out_of_order_event_never_overwrites_a_newer_state(registered: Runtime) -> None:
    rt = registered
    route(rt, alarm_event(ERRORS, "OK", "2026-01-01T10:05:00.000+0000"))
    received(rt)
    late = route(rt, alarm_event(ERRORS, "ALARM", "2026-01-01T10:00:00.000+0000"))  # older, delivered later
    assert late["stale"] is True and late["changed"] is False and late["health"] == "Healthy"
    item = _agent(rt)
    assert item["health_status"] == {"S": "Healthy"}
    assert item["alarm_states"]["M"]["Errors"]["M"]["state"] == {"S": "OK"}
    assert received(rt) == []  # nothing announced
    again = route(rt, alarm_event(ERRORS, "OK", "2026-01-01T10:05:00.000+0000"))  # a duplicate delivery
    assert again["stale"] is True and received(rt) == []


def test_same_health_is_not_announced_again(registered: Runtime) -> None:
    rt = registered
    route(rt, alarm_event(THROTTLES, "ALARM", "2026-01-01T10:00:00.000+0000"))
    received(rt)
    # Errors reporting OK leaves the aggregate Degraded (Throttles still in ALARM): no event.
    result = route(rt, alarm_event(ERRORS, "OK", "2026-01-01T10:01:00.000+0000"))
    assert result["changed"] is False and received(rt) == []


def test_direct_alarm_action_shape_is_understood(registered: Runtime) -> None:
    rt = registered
    event = {
        "source": "aws.cloudwatch",
        "alarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{ERRORS}",
        "accountId": ACCOUNT,
        "time": "2026-01-01T10:00:00.000+0000",
        "region": "us-east-1",
        "alarmData": {
            "alarmName": ERRORS,
            "state": {"value": "ALARM", "reason": "x", "timestamp": "2026-01-01T10:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "y", "timestamp": "2026-01-01T09:00:00.000+0000"},
            "configuration": {"metrics": []},
        },
    }
    assert route(rt, event)["health"] == "Unhealthy"


def test_foreign_and_unknown_alarms_are_ignored(registered: Runtime) -> None:
    rt = registered
    assert "ignored" in route(rt, alarm_event("ServerCpuTooHigh", "ALARM", "2026-01-01T10:00:00.000+0000"))
    ghost = f"miyabi/{ACCOUNT}/LambdaFunction/ghost/Errors"
    assert "ignored" in route(rt, alarm_event(ghost, "ALARM", "2026-01-01T10:00:00.000+0000"))
    spoofed = alarm_event(ERRORS, "ALARM", "2026-01-01T10:00:00.000+0000", account_id="999999999999")
    assert "ignored" in route(rt, spoofed)  # an alarm named for one account but raised in another
    assert received(rt) == []


def test_malformed_events_fail_clearly(registered: Runtime) -> None:
    with pytest.raises(InvalidTaskEvent, match=r"aws\.cloudwatch"):
        route(registered, {"source": "evil", "detail-type": "x", "detail": {}})
    broken = alarm_event(ERRORS, "ALARM", "not a time")
    with pytest.raises(InvalidTaskEvent, match="ISO 8601"):
        route(registered, broken)
