"""Auto-healing: acts within autonomy on managed resources only, at most N times per window, then escalates once."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from health_fixtures import ACCOUNT, alarm_event, make_runtime, received, register

from aws_agent.aws import SessionFactory
from aws_agent.health.alarms import Managed
from aws_agent.health.heal import heal
from aws_agent.health.routing import route
from aws_agent.model import AwsResourceType
from aws_agent.pipeline.runtime import Runtime


@pytest.fixture
def rt(mocked_aws: None) -> Runtime:
    return make_runtime()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every mutating AWS call the agent's clients make, as moto answered it (operation, params)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    original = SessionFactory.client

    def spying(self: SessionFactory, service: str, target: Any, *, session_name: str | None = None) -> Any:
        client = original(self, service, target, session_name=session_name)

        pending: list[tuple[str, dict[str, Any]]] = []

        def before(model: Any, params: dict[str, Any], **_: Any) -> None:
            if model.name in ("RebootInstances", "UpdateAlias", "RebootDBInstance", "UpdateService"):
                pending.append((model.name, dict(params)))

        def after(model: Any, http_response: Any, **_: Any) -> None:
            if pending and pending[-1][0] == model.name and http_response.status_code == 200:
                seen.append(pending.pop())

        client.meta.events.register("provide-client-params", before)
        client.meta.events.register("after-call", after)
        return client

    monkeypatch.setattr(SessionFactory, "client", spying)
    yield seen


def _instance(tags: dict[str, str]) -> str:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    return str(
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=spec)["Instances"][0]["InstanceId"]
    )


def _status_alarm(instance: str) -> str:
    return f"miyabi/{ACCOUNT}/Ec2Instance/{instance}/StatusCheckFailed"


def _flap(rt: Runtime, alarm: str, times: int) -> list[dict[str, Any]]:
    """The alarm goes ALARM → OK `times` times (each ALARM is one state-change event)."""
    results = []
    for minute in range(times):
        results.append(route(rt, alarm_event(alarm, "ALARM", f"2026-01-01T10:{2 * minute:02d}:00.000+0000")))
        route(rt, alarm_event(alarm, "OK", f"2026-01-01T10:{2 * minute + 1:02d}:00.000+0000"))
    return results


def test_ec2_is_rebooted_within_its_bound_then_escalated_once(rt: Runtime, calls: list) -> None:
    rt.settings.config.health.heal_max_attempts = 2
    instance = _instance({"MiyabiManaged": "true"})
    register(rt, AwsResourceType.EC2_INSTANCE, instance)
    results = _flap(rt, _status_alarm(instance), 4)
    assert [r["heal"].get("healed") for r in results] == [True, True, False, False]
    assert calls == [("RebootInstances", {"InstanceIds": [instance]})] * 2  # the reboots moto received
    escalations = [e for e in received(rt) if e["detail-type"] == "HealEscalated"]
    assert len(escalations) == 1  # the third failure escalates, the fourth stays quiet
    assert escalations[0]["detail"]["reason"] == "attempts-exhausted" and escalations[0]["detail"]["attempts"] == 2


def test_a_new_window_allows_healing_again(rt: Runtime, calls: list) -> None:
    rt.settings.config.health.heal_max_attempts = 1
    instance = _instance({"MiyabiManaged": "true"})
    register(rt, AwsResourceType.EC2_INSTANCE, instance)
    resource = Managed(ACCOUNT, "us-east-1", AwsResourceType.EC2_INSTANCE, instance)
    assert heal(rt, resource, "a", now=1_000_000.0)["healed"] is True
    assert heal(rt, resource, "a", now=1_000_060.0)["escalated"] is True
    assert heal(rt, resource, "a", now=1_000_000.0 + 3601)["healed"] is True  # the 60-minute window is over
    assert len(calls) == 2


def test_unmanaged_instance_is_never_touched(rt: Runtime, calls: list) -> None:
    instance = _instance({})
    register(rt, AwsResourceType.EC2_INSTANCE, instance)
    result = _flap(rt, _status_alarm(instance), 1)[0]
    assert result["heal"]["reason"] == "not-managed" and calls == []
    assert [e["detail"]["reason"] for e in received(rt) if e["detail-type"] == "HealEscalated"] == ["not-managed"]


def test_a_stopped_instance_is_not_rebooted(rt: Runtime, calls: list) -> None:
    """Stopped on purpose (the cost optimizer, a human): its status alarm escalates, the agent does not start it."""
    instance = _instance({"MiyabiManaged": "true"})
    boto3.client("ec2", region_name="us-east-1").stop_instances(InstanceIds=[instance])
    register(rt, AwsResourceType.EC2_INSTANCE, instance)
    result = _flap(rt, _status_alarm(instance), 1)[0]
    assert result["heal"]["reason"] == "heal-failed" and calls == []
    assert "not running" in next(e for e in received(rt) if e["detail-type"] == "HealEscalated")["detail"]["message"]


def test_dry_run_decides_but_does_not_reboot(rt: Runtime, calls: list) -> None:
    rt.settings.config.health.heal_dry_run = True
    instance = _instance({"MiyabiManaged": "true"})
    register(rt, AwsResourceType.EC2_INSTANCE, instance)
    result = _flap(rt, _status_alarm(instance), 1)[0]
    assert result["heal"]["dry_run"] is True and result["heal"]["would"] == f"RebootInstances {instance}"
    assert calls == []


def test_low_autonomy_escalates_instead_of_acting(rt: Runtime, calls: list) -> None:
    register(rt, AwsResourceType.RDS_INSTANCE, "orders-db")  # RDS autonomy 4 < 5
    alarm = f"miyabi/{ACCOUNT}/RdsInstance/orders-db/DatabaseConnections"
    result = route(rt, alarm_event(alarm, "ALARM", "2026-01-01T10:00:00.000+0000"))
    assert result["heal"]["reason"] == "autonomy-too-low" and calls == []
    escalated = [e["detail"] for e in received(rt) if e["detail-type"] == "HealEscalated"]
    assert escalated[0]["action"] == "reboot" and "autonomy 4" in escalated[0]["message"]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def test_lambda_alias_rolls_back_one_published_version(rt: Runtime, calls: list, lambda_execution_role: str) -> None:
    lam = boto3.client("lambda", region_name="us-east-1")
    lam.create_function(FunctionName="api", Runtime="python3.12", Role=lambda_execution_role, Handler="handler.handler",
                        Code={"ZipFile": _zip()}, Tags={"MiyabiManaged": "true"})  # fmt: skip
    lam.publish_version(FunctionName="api")
    lam.update_function_code(FunctionName="api", ZipFile=_zip())
    v2 = lam.publish_version(FunctionName="api")["Version"]
    lam.create_alias(FunctionName="api", Name="live", FunctionVersion=v2)
    register(rt, AwsResourceType.LAMBDA_FUNCTION, "api")
    result = route(
        rt, alarm_event(f"miyabi/{ACCOUNT}/LambdaFunction/api/Errors", "ALARM", "2026-01-01T10:00:00.000+0000")
    )
    assert result["health"] == "Unhealthy"
    assert result["heal"] == {"healed": True, "dry_run": False, "action": "rollback", "attempts": 1, "alias": "live",
                              "from_version": v2, "to_version": "1"}  # fmt: skip
    assert lam.get_alias(FunctionName="api", Name="live")["FunctionVersion"] == "1"
    # At version 1 there is nothing older: the next failure escalates instead of looping.
    route(rt, alarm_event(f"miyabi/{ACCOUNT}/LambdaFunction/api/Errors", "OK", "2026-01-01T10:01:00.000+0000"))
    again = route(
        rt, alarm_event(f"miyabi/{ACCOUNT}/LambdaFunction/api/Errors", "ALARM", "2026-01-01T10:02:00.000+0000")
    )
    assert again["heal"]["reason"] == "heal-failed" and "no earlier version" in again["heal"]["message"]
