"""Accuracy of the analyzers on labelled example issues (the repository's tests/unit/issue_examples.py).

An example holds an issue and what must be read from it: task type, resource type, a subset of parameters,
parameters that must be absent, account and region, or the substring of the refusal expected. The rule-based
analyzer is scored exactly like its unit test. The Bedrock analyzer is scored on its final decision: a task
(from the model, or from the rules after a fallback) must match; an example that expects a refusal is correct when
the analyzer refuses in any form (clarification, rejection or analysis error), since its wording differs.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TaskAnalysisError
from ..events import IssueRef
from .rules import Analysis, analyze_issue


@dataclass(frozen=True)
class Examples:
    items: list[Any]
    accounts: dict[str, str]
    unset: Any  # the sentinel meaning "not checked" for account/region fields


@dataclass
class ExampleResult:
    id: str
    outcome: str  # rules / model / fallback / clarify / reject / refuse / error
    problems: list[str]
    input_tokens: int = 0
    output_tokens: int = 0
    wall_ms: int = 0

    @property
    def correct(self) -> bool:
        return not self.problems


@dataclass
class Report:
    analyzer: str
    results: list[ExampleResult] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(r.correct for r in self.results)

    @property
    def accuracy(self) -> float:
        return self.correct / len(self.results) if self.results else 0.0

    @property
    def outcomes(self) -> dict[str, int]:
        return dict(Counter(r.outcome for r in self.results))

    def tokens(self) -> tuple[int, int]:
        return sum(r.input_tokens for r in self.results), sum(r.output_tokens for r in self.results)

    def median_latency_ms(self) -> float:
        latencies = [r.wall_ms for r in self.results if r.wall_ms]
        return statistics.median(latencies) if latencies else 0.0


def load_examples(path: Path) -> Examples:
    """The EXAMPLES, ACCOUNTS and _UNSET of an examples module, loaded from its file."""
    spec = importlib.util.spec_from_file_location("issue_examples", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("issue_examples", module)
    spec.loader.exec_module(module)
    return Examples(items=list(module.EXAMPLES), accounts=dict(module.ACCOUNTS), unset=module._UNSET)


def issue_of(example: Any) -> IssueRef:
    return IssueRef(number=1, title=example.title, body=example.body, labels=list(example.labels))


def score(example: Any, analysis: Analysis | None, error: str | None, unset: Any, *, exact_error: bool) -> list[str]:
    """What the analysis got wrong on one example (empty when it matches)."""
    if analysis is None:
        if example.error is not None and (not exact_error or example.error in (error or "")):
            return []
        return [f"refused ({(error or '')[:120]!r}), expected {example.error or 'an analysis'!r}"]
    if example.error is not None:
        return [f"expected a refusal containing {example.error!r}, got {analysis.task_type.value}"]
    problems: list[str] = []
    if analysis.task_type is not example.task_type:
        problems.append(f"task_type {analysis.task_type} != {example.task_type}")
    if analysis.resource_type is not example.resource_type:
        problems.append(f"resource_type {analysis.resource_type} != {example.resource_type}")
    for key, value in example.parameters.items():
        if analysis.parameters.get(key) != value:
            problems.append(f"parameters[{key!r}] {analysis.parameters.get(key)!r} != {value!r}")
    for key in example.absent:
        if key in analysis.parameters:
            problems.append(f"parameters[{key!r}] should be absent, got {analysis.parameters[key]!r}")
    for attr in ("account_name", "account_id", "region"):
        expected = getattr(example, attr)
        if expected is not unset and getattr(analysis, attr) != expected:
            problems.append(f"{attr} {getattr(analysis, attr)!r} != {expected!r}")
    return problems


def evaluate_rules(examples: Examples) -> Report:
    report = Report("rules")
    for example in examples.items:
        try:
            analysis, error = analyze_issue(issue_of(example), examples.accounts), None
        except TaskAnalysisError as exc:
            analysis, error = None, exc.message
        problems = score(example, analysis, error, examples.unset, exact_error=True)
        report.results.append(ExampleResult(example.id, "rules" if analysis else "error", problems))
    return report


def evaluate_bedrock(examples: Examples, client: Any, config: Any) -> Report:
    """Each example through the Bedrock analyzer's full decision (one Converse call per example at most)."""
    from .decide import decide

    report = Report("bedrock")
    for example in examples.items:
        decision = decide(issue_of(example), examples.accounts, client, config)
        error = decision.reason if decision.analysis is None else None
        if decision.outcome == "fallback" and decision.analysis is None:
            error = decision.rules_error
        problems = score(example, decision.analysis, error, examples.unset, exact_error=False)
        usage = decision.usage
        report.results.append(
            ExampleResult(
                example.id,
                decision.outcome,
                problems,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                wall_ms=usage.wall_ms if usage else 0,
            )
        )
    return report
