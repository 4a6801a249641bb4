"""The Bedrock analyzer's IAM in the template: nothing when disabled (the default); when enabled, InvokeModel on the
configured model only, granted to the analyze function only, and cdk-nag still passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aws_agent.config import BedrockConfig

if TYPE_CHECKING:
    from .conftest import Synthesized

PROFILE_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
FOUNDATION_ID = "anthropic.claude-3-haiku-20240307-v1:0"


def _statements_by_step(resources: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every IAM statement attached to each step function's role, keyed by the step (AGENT_STEP)."""
    role_of_step = {}
    for resource in resources.values():
        props = resource.get("Properties", {})
        step = props.get("Environment", {}).get("Variables", {}).get("AGENT_STEP")
        if resource["Type"] == "AWS::Lambda::Function" and step:
            role_of_step[step] = props["Role"]["Fn::GetAtt"][0]
    by_step: dict[str, list[dict[str, Any]]] = {step: [] for step in role_of_step}
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = {r.get("Ref") for r in resource["Properties"].get("Roles", [])}
        for step, role in role_of_step.items():
            if role in roles:
                by_step[step].extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return by_step


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _bedrock_statements(resources: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {
        step: found
        for step, statements in _statements_by_step(resources).items()
        if (found := [s for s in statements if any(a.startswith("bedrock:") for a in _actions(s))])
    }


def _resolved(value: Any) -> str:
    """An ARN as a readable string: Fn::Join parts joined, pseudo parameters as ${Name}."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return separator.join(p if isinstance(p, str) else "${" + p["Ref"].replace("AWS::", "") + "}" for p in parts)


def test_disabled_by_default_grants_nothing(synth: Synthesized) -> None:
    assert _bedrock_statements(synth.resources) == {}
    analyze = _statements_by_step(synth.resources)["analyze"]
    assert not any("events:PutEvents" in _actions(s) for s in analyze)
    variables = synth.resources[synth.logical_id_of("analyze")]["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["AGENT_CONFIG"]).get("bedrock", {}).get("enabled", False) is False


@pytest.fixture(scope="module")
def enabled(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str | None]:
    """The app synthesized with `bedrock.enabled` in the agent configuration (CDK context)."""
    from aws_cdk.assertions import Template

    from infrastructure.app import build_app, project_context

    config = dict(project_context()["aws-agent:config"])
    config["bedrock"] = {"enabled": True, "model_id": PROFILE_ID}
    outdir = tmp_path_factory.mktemp("cdk-bedrock.out")
    app, stack = build_app(context={"aws-agent:config": config}, outdir=str(outdir))
    error = None
    try:
        app.synth()
        template = dict(Template.from_stack(stack).to_json())
    except RuntimeError as exc:  # cdk-nag findings: keep the template to show what was found
        error = str(exc)
        template = json.loads((Path(outdir) / f"{stack.artifact_id}.template.json").read_text())
    return template, error


def test_enabled_grants_invoke_model_on_the_configured_model_to_analyze_only(
    enabled: tuple[dict[str, Any], str | None],
) -> None:
    template, error = enabled
    assert error is None  # cdk-nag passes: the one wildcard (the profile's routed regions) is acknowledged
    granted = _bedrock_statements(template["Resources"])
    assert list(granted) == ["analyze"]
    (statement,) = granted["analyze"]
    assert statement["Effect"] == "Allow" and statement["Sid"] == "InvokeConfiguredBedrockModel"
    assert _actions(statement) == ["bedrock:InvokeModel"]
    assert [_resolved(r) for r in statement["Resource"]] == [
        f"arn:${{Partition}}:bedrock:${{Region}}:${{AccountId}}:inference-profile/{PROFILE_ID}",
        f"arn:${{Partition}}:bedrock:*::foundation-model/{PROFILE_ID.removeprefix('us.')}",
    ]
    analyze = _statements_by_step(template["Resources"])["analyze"]
    assert any("events:PutEvents" in _actions(s) for s in analyze)  # Analyze emits rejections/clarifications
    variables = next(
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Environment", {}).get("Variables", {}).get("AGENT_STEP") == "analyze"
    )
    assert json.loads(variables["AGENT_CONFIG"])["bedrock"] == {"enabled": True, "model_id": PROFILE_ID}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            BedrockConfig(enabled=True, model_id=FOUNDATION_ID, region="us-west-2"),
            [f"arn:${{Partition}}:bedrock:us-west-2::foundation-model/{FOUNDATION_ID}"],
        ),
        (
            BedrockConfig(enabled=True, model_id=f"arn:aws:bedrock:eu-west-1::foundation-model/{FOUNDATION_ID}"),
            [f"arn:aws:bedrock:eu-west-1::foundation-model/{FOUNDATION_ID}"],
        ),
        (
            BedrockConfig(
                enabled=True, model_id=f"arn:aws:bedrock:eu-west-1:111111111111:inference-profile/eu.{FOUNDATION_ID}"
            ),
            [
                f"arn:aws:bedrock:eu-west-1:111111111111:inference-profile/eu.{FOUNDATION_ID}",
                f"arn:${{Partition}}:bedrock:*::foundation-model/{FOUNDATION_ID}",
            ],
        ),
    ],
    ids=["foundation-model-id", "foundation-model-arn", "profile-arn"],
)
def test_model_arns_per_model_id_form(config: BedrockConfig, expected: list[str]) -> None:
    from aws_cdk import Stack, Token

    from infrastructure.bedrock import model_arns

    stack = Stack()
    arns, _ = model_arns(config)
    rendered = [_resolved(stack.resolve(a)) if Token.is_unresolved(a) else a for a in arns]
    assert rendered == expected
