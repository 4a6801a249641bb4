"""Infrastructure fixtures: the CDK app synthesized once per session, as app.py builds it (cdk-nag included)."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:  # the `infrastructure` package lives at the project root, beside app.py
    sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass(frozen=True)
class Synthesized:
    """One synthesis of the app: the stack's template, its state machine definition and the validation outcome."""

    app: Any
    stack: Any
    template: Any  # aws_cdk.assertions.Template
    resources: dict[str, dict[str, Any]]
    definition: dict[str, Any]  # the task pipeline
    optimization_definition: dict[str, Any]
    outdir: Path
    validation_error: str | None  # cdk-nag 3 findings fail the synthesis with this message
    seconds: float

    def logical_id_of(self, step: str) -> str:
        """The logical id of the Lambda function of a pipeline step (found by its AGENT_STEP variable)."""
        for logical_id, resource in self.resources.items():
            variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            if resource["Type"] == "AWS::Lambda::Function" and variables.get("AGENT_STEP") == step:
                return logical_id
        raise KeyError(step)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}


def placeholder(part: Any) -> str:
    """A readable stand-in for an intrinsic inside DefinitionString: `${Logical.Attr}`, `${Logical}`, `${?}`."""
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        logical_id, attribute = part["Fn::GetAtt"]
        return f"${{{logical_id}.{attribute}}}"
    if isinstance(part, dict) and "Ref" in part:
        return f"${{{part['Ref']}}}"
    return "${?}"


def parse_definition(definition_string: Any) -> dict[str, Any]:
    """The state machine's ASL: DefinitionString is a string or an Fn::Join of strings and intrinsics."""
    if isinstance(definition_string, str):
        return dict(json.loads(definition_string))
    separator, parts = definition_string["Fn::Join"]
    return dict(json.loads(separator.join(p if isinstance(p, str) else placeholder(p) for p in parts)))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Synthesize once (jsii start-up + synth cost seconds); every test reads this one result."""
    from aws_cdk.assertions import Template

    from infrastructure.app import build_app

    started = time.perf_counter()
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(outdir=str(outdir))
    validation_error: str | None = None
    try:
        app.synth()
        template = Template.from_stack(stack)  # reuses the assembly synthesized above: no second synthesis
    except RuntimeError as error:  # the template is written before validation runs: keep testing it
        validation_error = str(error)
        template = Template.from_json(json.loads((outdir / f"{stack.artifact_id}.template.json").read_text()))
    as_json = template.to_json()
    machines = {
        logical_id: r
        for logical_id, r in as_json["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    }
    assert len(machines) == 5, "expected the task pipeline, optimization, discovery, account creation and closure"
    pipeline = next(r for logical_id, r in machines.items() if logical_id.startswith("Pipeline"))
    optimization = next(r for logical_id, r in machines.items() if logical_id.startswith("Optimization"))
    return Synthesized(
        app=app,
        stack=stack,
        template=template,
        resources=as_json["Resources"],
        definition=parse_definition(pipeline["Properties"]["DefinitionString"]),
        optimization_definition=parse_definition(optimization["Properties"]["DefinitionString"]),
        outdir=outdir,
        validation_error=validation_error,
        seconds=time.perf_counter() - started,
    )
