"""`aws-agent analyze-eval`: the analyzers' accuracy on the repository's example issues (rules offline, Bedrock
through the Stubber the way a real run goes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bedrock_stubs import converse_response, stubbed, tool_input
from typer.testing import CliRunner

from aws_agent.cli import app

EXAMPLES = Path(__file__).resolve().parent / "issue_examples.py"
RUNNER = CliRunner()


@pytest.fixture(autouse=True)
def _credentials(aws_env: None) -> None:
    """Dummy credentials and region (the Bedrock client resolves them; the Stubber answers)."""


def test_rules_accuracy_on_every_example_is_measured(tmp_path: Path) -> None:
    report = tmp_path / "rules.json"
    result = RUNNER.invoke(
        app, ["analyze-eval", "--analyzer", "rules", "--examples", str(EXAMPLES), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "analyzer rules: 87/87 correct (100.0%)" in result.output
    data = json.loads(report.read_text())
    assert data["accuracy"] == 1.0 and len(data["examples"]) == 87
    assert sum(row["outcome"] == "error" for row in data["examples"]) == 16  # the examples that expect a refusal


def test_bedrock_accuracy_is_measured_through_the_real_decision(tmp_path: Path) -> None:
    """Three examples, three Converse answers: right, wrong resource type (clarification), throttled (fallback)."""
    report = tmp_path / "bedrock.json"
    answers = [
        converse_response(tool_input("CreateResource", "LambdaFunction", 0.97), input_tokens=900, latency_ms=800),
        converse_response(
            tool_input("CreateResource", "CloudFrontDistribution", 0.9, parameters={"bucket_name": "acme-logs-2024"}),
            input_tokens=950,
        ),
    ]
    with stubbed() as stub:
        for answer in answers:
            stub.add_response("converse", answer)
        stub.add_client_error("converse", "ThrottlingException", "Rate exceeded", http_status_code=429)
        args = ["analyze-eval", "--analyzer", "bedrock", "--examples", str(EXAMPLES), "--limit", "3"]
        result = RUNNER.invoke(app, [*args, "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "analyzer bedrock: 2/3 correct (66.7%); outcomes: clarify 1, fallback 1, model 1" in result.output
    assert "tokens: 1850 in, 286 out" in result.output
    rows = {row["id"]: row for row in json.loads(report.read_text())["examples"]}
    assert rows["spec-deploy-lambda"]["correct"] and rows["spec-deploy-lambda"]["outcome"] == "model"
    assert rows["create-bucket-named"]["outcome"] == "clarify" and not rows["create-bucket-named"]["correct"]
    assert rows["terminate-ec2"]["outcome"] == "fallback" and rows["terminate-ec2"]["correct"]
