"""The discovery workflow in the template: Distributed Map over account x region, schedule, least-privilege grants."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .conftest import Synthesized


def parse_definition(definition_string: Any) -> dict[str, Any]:
    """DefinitionString as ASL, intrinsics replaced by a stand-in (only the state layout is checked here)."""
    if isinstance(definition_string, str):
        return dict(json.loads(definition_string))
    separator, parts = definition_string["Fn::Join"]
    return dict(json.loads(separator.join(p if isinstance(p, str) else "${ref}" for p in parts)))


def _discovery(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical_id, machine),) = [
        (k, v)
        for k, v in synth.of_type("AWS::StepFunctions::StateMachine").items()
        if k.startswith("OrganizationDiscovery")
    ]
    return logical_id, parse_definition(machine["Properties"]["DefinitionString"])


def _statements(synth: Synthesized, prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for logical_id, policy in synth.of_type("AWS::IAM::Policy").items()
        if logical_id.startswith(prefix)
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_discovery_maps_over_every_target(synth: Synthesized) -> None:
    _, definition = _discovery(synth)
    assert definition["StartAt"] == "PlanDiscovery"
    states = definition["States"]
    assert states["PlanDiscovery"]["Parameters"] == {"run_id.$": "$$.Execution.Name", "input.$": "$"}
    assert states["PlanDiscovery"]["Next"] == "DiscoverTargets"
    mapped = states["DiscoverTargets"]
    assert mapped["Type"] == "Map"
    assert mapped["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert mapped["ItemsPath"] == "$.targets"
    assert mapped["MaxConcurrency"] == 20  # multi_account.discovery_concurrency
    assert mapped["ResultPath"] is None
    assert mapped["ItemSelector"] == {"run_id.$": "$.run_id", "target.$": "$$.Map.Item.Value"}
    worker = mapped["ItemProcessor"]["States"]["DiscoverTarget"]
    assert worker["Type"] == "Task" and "TransientAwsError" in worker["Retry"][0]["ErrorEquals"]
    assert mapped["End"] is True


def test_discovery_runs_on_a_schedule(synth: Synthesized) -> None:
    logical_id, _ = _discovery(synth)
    (rule,) = [
        r
        for r in synth.of_type("AWS::Events::Rule").values()
        if r["Properties"].get("Targets", [{}])[0].get("Arn") == {"Ref": logical_id}
    ]
    assert rule["Properties"]["ScheduleExpression"] == "rate(6 hours)"
    assert json.loads(rule["Properties"]["Targets"][0]["Input"]) == {"scheduled": True}


def test_workers_read_only_and_assume_the_member_role(synth: Synthesized) -> None:
    statements = _statements(synth, "OrganizationDiscoveryReadPolicy")
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "tag:GetResources" in actions and "sts:AssumeRole" in actions
    assert not [a for a in actions if a.split(":")[1].startswith(("Create", "Delete", "Put", "Terminate", "Stop"))]
    (assume,) = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    assert json.dumps(assume["Resource"]).endswith(':role/MiyabiAgentRole"]]}')
    organizations = _statements(synth, "OrganizationAnalyzeOrganizationsPolicy")
    assert all(
        a.startswith("organizations:Describe") or a.startswith("organizations:List") for a in organizations[0]["Action"]
    )


def test_discovery_worker_function(synth: Synthesized) -> None:
    worker = synth.resources[synth.logical_id_of("discover_target")]["Properties"]
    assert worker["MemorySize"] == 1024 and worker["Timeout"] == 600
    assert synth.logical_id_of("discover_plan")
    assert "DiscoveryStateMachineArn" in synth.template.to_json()["Outputs"]
