"""`aws-agent analyze-eval`: the accuracy of an analyzer (rules or Bedrock) on the labelled example issues.

`--analyzer rules` runs offline. `--analyzer bedrock` calls Claude on Amazon Bedrock once per example with your
credentials (bedrock:InvokeModel on the model), through the same decision the Analyze step makes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Light at import (the CLI registers this command at start-up): the analyzers load when the command runs.
console = Console(width=None if sys.stdout.isatty() else 150)
DEFAULT_EXAMPLES = Path("tests/unit/issue_examples.py")


class AnalyzerName(StrEnum):
    rules = "rules"
    bedrock = "bedrock"


def analyze_eval_command(
    analyzer: Annotated[AnalyzerName, typer.Option(help="which analyzer to measure")] = AnalyzerName.rules,
    examples: Annotated[
        Path, typer.Option(help="the examples module (EXAMPLES, ACCOUNTS), e.g. the repository's test data")
    ] = DEFAULT_EXAMPLES,
    model_id: Annotated[str | None, typer.Option(help="Bedrock model or inference-profile id")] = None,
    region: Annotated[str | None, typer.Option(help="Bedrock region (default: AWS_REGION / us-east-1)")] = None,
    threshold: Annotated[float | None, typer.Option(help="confidence below which clarification is asked")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N examples")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="write per-example results as JSON here")] = None,
) -> None:
    """Measure an analyzer's accuracy on labelled example issues (`--analyzer bedrock` calls Bedrock)."""
    import os

    from ..analysis.evaluate import Report, evaluate_bedrock, evaluate_rules, load_examples

    if not examples.is_file():
        raise typer.BadParameter(f"{examples} not found (run from the repository root or pass --examples)")
    loaded = load_examples(examples)
    if limit is not None:
        loaded = replace(loaded, items=loaded.items[:limit])
    result: Report
    if analyzer is AnalyzerName.rules:
        result = evaluate_rules(loaded)
    else:
        from ..analysis.bedrock import bedrock_client
        from ..config import BedrockConfig

        settings: dict[str, object] = {"enabled": True}
        if model_id:
            settings["model_id"] = model_id
        if region:
            settings["region"] = region
        if threshold is not None:
            settings["confidence_threshold"] = threshold
        config = BedrockConfig.model_validate(settings)
        default_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        result = evaluate_bedrock(loaded, bedrock_client(config, default_region), config)
    _print(result)
    if report is not None:
        rows = [
            {"id": r.id, "outcome": r.outcome, "correct": r.correct, "problems": r.problems,
             "input_tokens": r.input_tokens, "output_tokens": r.output_tokens, "wall_ms": r.wall_ms}
            for r in result.results
        ]  # fmt: skip
        report.write_text(json.dumps({"analyzer": result.analyzer, "accuracy": result.accuracy, "examples": rows}))


def _print(result: object) -> None:
    from rich.table import Table

    from ..analysis.evaluate import Report

    assert isinstance(result, Report)
    wrong = [r for r in result.results if not r.correct]
    if wrong:
        table = Table("example", "outcome", "what differs", title="mismatches")
        for r in wrong:
            table.add_row(r.id, r.outcome, "; ".join(r.problems))
        console.print(table)
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))
    console.print(
        f"analyzer {result.analyzer}: {result.correct}/{len(result.results)} correct "
        f"({result.accuracy:.1%}); outcomes: {outcomes}"
    )
    tokens_in, tokens_out = result.tokens()
    if tokens_in or tokens_out:
        console.print(f"tokens: {tokens_in} in, {tokens_out} out; median latency {result.median_latency_ms():.0f} ms")
