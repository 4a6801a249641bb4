"""Health routing: an alarm's state change becomes the service agent's health, written conditionally, announced once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import CloudWatchAlarmEvent, EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.cloud_watch_alarm_event import CloudWatchAlarmData
from botocore.exceptions import ClientError
from pydantic import BaseModel

from ..aws import error_code, translate
from ..basics import HealthStatus
from ..errors import InvalidTaskEvent, TransientAwsError
from ..observability import logger, metrics
from ..registry import from_item, to_item
from .alarms import Managed, id_segment, parse_alarm_name, spec_for
from .events import SERVICE_AGENT_HEALTH_CHANGED, ServiceAgentHealthChanged

if TYPE_CHECKING:
    from ..pipeline.runtime import Runtime

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
STATE_HEALTH = {"OK": HealthStatus.HEALTHY, "INSUFFICIENT_DATA": HealthStatus.UNKNOWN}
# "Worst of the current alarm states": an alarm that knows nothing outranks one that says all is well.
_RANK = {HealthStatus.HEALTHY: 0, HealthStatus.UNKNOWN: 1, HealthStatus.DEGRADED: 2, HealthStatus.UNHEALTHY: 3}
MAX_WRITE_ATTEMPTS = 5  # optimistic-lock retries when two alarms of one resource change at once


@dataclass(frozen=True)
class AlarmChange:
    """One alarm state change, from either event shape CloudWatch produces."""

    alarm_name: str
    state: str
    at: str  # the new state's timestamp, normalized to ISO 8601 UTC so strings compare in time order
    reason: str
    account_id: str
    region: str


def normalize_timestamp(value: str) -> str:
    """CloudWatch writes `2019-10-02T17:04:40.989+0000`; stored and compared as `...40.989000+00:00`."""
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidTaskEvent(f"alarm state timestamp {value[:40]!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


def parse_event(event: dict[str, Any]) -> AlarmChange:
    """EventBridge's "CloudWatch Alarm State Change" (detail = the alarm data), or an alarm's direct Lambda action."""
    try:
        if "alarmData" in event:  # an alarm action invoking Lambda directly
            direct = CloudWatchAlarmEvent(event)
            data, account, region = direct.alarm_data, direct.source_account_id, direct.region
        else:
            bridge = EventBridgeEvent(event)
            if bridge.source != "aws.cloudwatch" or bridge.detail_type != ALARM_STATE_CHANGE:
                raise InvalidTaskEvent(
                    f"expected source aws.cloudwatch / {ALARM_STATE_CHANGE!r}, got "
                    f"{str(bridge.get('source'))[:64]!r} / {str(bridge.get('detail-type'))[:64]!r}"
                )
            data, account, region = CloudWatchAlarmData(bridge.detail), bridge.account, bridge.region
        state = data.state
        change = AlarmChange(
            alarm_name=data.alarm_name,
            state=state.value,
            at=normalize_timestamp(state.timestamp),
            reason=str(state.get("reason") or "")[:512],
            account_id=account,
            region=region,
        )
    except (KeyError, TypeError) as exc:
        raise InvalidTaskEvent(f"not a CloudWatch alarm state change: missing {exc}") from exc
    if change.state not in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        raise InvalidTaskEvent(f"unknown alarm state {change.state[:32]!r}")
    return change


def state_health(resource: Managed, metric: str, state: str) -> HealthStatus:
    if state != "ALARM":
        return STATE_HEALTH[state]
    spec = spec_for(resource.resource_type, metric)
    return spec.severity if spec else HealthStatus.DEGRADED


def aggregate(resource: Managed, states: dict[str, str]) -> HealthStatus:
    """The worst health any current alarm state implies; Unknown until some alarm has reported."""
    if not states:
        return HealthStatus.UNKNOWN
    return max((state_health(resource, m, s) for m, s in states.items()), key=_RANK.__getitem__)


def find_resource(rt: Runtime, account_id: str, region: str, parsed: Any) -> Managed | None:
    from ..model import resource_key

    record = rt.resources.get(resource_key(account_id, region, parsed.resource_type, parsed.id_segment))
    if record is None and "~" in parsed.id_segment:  # a shortened id: match it among the account's resources
        candidates = rt.resources.by_account(account_id, parsed.resource_type.value)
        record = next(
            (r for r in candidates if r["region"] == region and id_segment(r["id"]) == parsed.id_segment), None
        )
    return Managed.from_record(record) if record else None


@dataclass
class HealthUpdate:
    resource: Managed
    metric: str
    previous: HealthStatus
    health: HealthStatus
    states: dict[str, str]
    stale: bool
    autonomy: int | None


def apply_change(rt: Runtime, resource: Managed, metric: str, change: AlarmChange) -> HealthUpdate:
    """Record the alarm's state and the aggregate health; an event older than the stored state changes nothing."""
    table = rt.settings.agents_table
    key = to_item({"name": resource.key})
    for _ in range(MAX_WRITE_ATTEMPTS):
        try:
            raw = rt.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        except ClientError as exc:
            raise translate(exc, f"read service agent {resource.key}") from exc
        if raw is None:
            raise InvalidTaskEvent(f"no service agent {resource.key} for alarm {change.alarm_name}")
        item = from_item(raw)
        stored: dict[str, dict[str, str]] = item.get("alarm_states") or {}
        previous = HealthStatus(item.get("health_status", HealthStatus.UNKNOWN.value))
        autonomy = int(item["autonomy_level"]) if "autonomy_level" in item else None
        current = {m: v["state"] for m, v in stored.items()}
        if metric in stored and stored[metric]["at"] >= change.at:
            return HealthUpdate(resource, metric, previous, previous, current, True, autonomy)
        states = {**current, metric: change.state}
        health = aggregate(resource, states)
        version = int(item.get("health_version", 0))
        values = {
            ":states": {**stored, metric: {"state": change.state, "at": change.at}},
            ":health": health.value,
            ":at": change.at,
            ":next": version + 1,
        }
        # Two guards: the alarm's own last-state timestamp (out-of-order delivery) and the item's health version
        # (another alarm of the same resource updated the aggregate between our read and this write).
        condition = (
            "attribute_exists(#name) AND (attribute_not_exists(alarm_states.#metric) OR alarm_states.#metric.#at < :at)"
        )
        if version:
            condition += " AND health_version = :version"
            values[":version"] = version
        else:
            condition += " AND attribute_not_exists(health_version)"
        try:
            rt.dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET alarm_states = :states, health_status = :health, health_updated_at = :at, "
                "health_version = :next",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#name": "name", "#metric": metric, "#at": "at"},
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                continue  # re-read: either a newer state of this alarm landed (stale) or another alarm moved
            raise translate(exc, f"update the health of {resource.key}") from exc
        return HealthUpdate(resource, metric, previous, health, states, False, autonomy)
    raise TransientAwsError(f"the health of {resource.key} kept changing under {MAX_WRITE_ATTEMPTS} writes; retry")


def emit(rt: Runtime, detail_type: str, detail: BaseModel, resources: list[str]) -> None:
    """Put one of the agent's events on its bus (source miyabi.aws-agent)."""
    from ..events import AGENT_SOURCE

    try:
        response = rt.events.put_events(
            Entries=[
                {
                    "Source": AGENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": detail.model_dump_json(exclude_none=True),
                    "EventBusName": rt.settings.event_bus,
                    "Resources": [r for r in resources if r],
                }
            ]
        )
    except ClientError as exc:
        raise translate(exc, f"publish {detail_type}") from exc
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise TransientAwsError(f"put_events failed: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")


def route(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """The health Lambda: alarm state change → service-agent health (→ ServiceAgentHealthChanged, → heal)."""
    change = parse_event(event)
    config = rt.settings.config.health
    parsed = parse_alarm_name(config.alarm_prefix, change.alarm_name)
    if parsed is None or parsed.account_id != change.account_id:
        return {"ignored": f"alarm {change.alarm_name[:255]} is not one of the agent's"}
    resource = find_resource(rt, change.account_id, change.region, parsed)
    if resource is None:
        logger.warning("alarm of an unregistered resource", extra={"alarm": change.alarm_name})
        return {"ignored": f"no registered resource for alarm {change.alarm_name[:255]}"}
    update = apply_change(rt, resource, parsed.metric, change)
    result: dict[str, Any] = {
        "service_agent": resource.key,
        "alarm": change.alarm_name,
        "state": change.state,
        "health": update.health.value,
        "previous_health": update.previous.value,
        "stale": update.stale,
        "changed": not update.stale and update.health is not update.previous,
    }
    if result["changed"]:
        emit(
            rt,
            SERVICE_AGENT_HEALTH_CHANGED,
            ServiceAgentHealthChanged(
                service_agent=resource.key,
                resource_type=resource.resource_type,
                resource_id=resource.id,
                account_id=resource.account_id,
                region=resource.region,
                previous_health=update.previous,
                health=update.health,
                alarm=change.alarm_name,
                alarm_state=change.state,
                reason=change.reason,
                alarm_states=update.states,
                changed_at=datetime.fromisoformat(change.at),
            ),
            [resource.arn],
        )
        metrics.add_metric(name=f"HealthChangedTo{update.health.value}", unit=MetricUnit.Count, value=1)
    spec = spec_for(resource.resource_type, parsed.metric)
    if not update.stale and change.state == "ALARM" and spec is not None and spec.heals and config.heal_enabled:
        from .heal import heal

        result["heal"] = heal(rt, resource, change.alarm_name, update.autonomy)
    logger.info("alarm routed", extra={"result": json.dumps(result, default=str)[:2000]})
    return result
