"""The rule-based issue analyzer: the example issues, its vocabulary, and its behaviour on hostile input."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from issue_examples import _UNSET, ACCOUNTS, EXAMPLES, IssueExample
from pydantic import ValidationError

from aws_agent.analysis import Analysis, analyze_issue
from aws_agent.analysis import vocabulary as V
from aws_agent.analysis.rules import _TOKEN
from aws_agent.errors import TaskAnalysisError
from aws_agent.events import IssueRef
from aws_agent.model import AwsResourceType, AwsTask, AwsTaskType

SLOW_SECONDS = 1.0  # a single analysis of the largest hostile input must stay well under this


def _issue(example: IssueExample) -> IssueRef:
    return IssueRef(number=1, title=example.title, body=example.body, labels=list(example.labels))


def _mismatches(example: IssueExample) -> list[str]:
    """What the analyzer got wrong on one example (empty when it matches)."""
    try:
        result = analyze_issue(_issue(example), ACCOUNTS)
    except TaskAnalysisError as exc:
        if example.error is not None and example.error in exc.message:
            return []
        return [f"raised {exc.message!r}, expected {example.error or 'an analysis'!r}"]
    if example.error is not None:
        return [f"expected an error containing {example.error!r}, got {result}"]
    problems: list[str] = []
    if result.task_type is not example.task_type:
        problems.append(f"task_type {result.task_type} != {example.task_type}")
    if result.resource_type is not example.resource_type:
        problems.append(f"resource_type {result.resource_type} != {example.resource_type}")
    for key, value in example.parameters.items():
        if result.parameters.get(key) != value:
            problems.append(f"parameters[{key!r}] {result.parameters.get(key)!r} != {value!r}")
    for key in example.absent:
        if key in result.parameters:
            problems.append(f"parameters[{key!r}] should be absent, got {result.parameters[key]!r}")
    for attr in ("account_name", "account_id", "region"):
        expected = getattr(example, attr)
        if expected is not _UNSET and getattr(result, attr) != expected:
            problems.append(f"{attr} {getattr(result, attr)!r} != {expected!r}")
    return problems


def test_there_are_enough_varied_examples() -> None:
    assert len(EXAMPLES) >= 45
    assert len({e.id for e in EXAMPLES}) == len(EXAMPLES)
    assert sum(e.expects_error for e in EXAMPLES) >= 8
    assert {e.resource_type for e in EXAMPLES if not e.expects_error} >= set(AwsResourceType)
    assert {e.task_type for e in EXAMPLES if not e.expects_error} == set(AwsTaskType)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example(example: IssueExample) -> None:
    assert _mismatches(example) == []


def test_accuracy_on_examples_is_total() -> None:
    failed = {e.id: problems for e in EXAMPLES if (problems := _mismatches(e))}
    accuracy = 1 - len(failed) / len(EXAMPLES)
    assert failed == {}
    assert accuracy == 1.0


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.expects_error], ids=lambda e: e.id)
def test_analysis_fits_the_task_model(example: IssueExample) -> None:
    """A draft always becomes a valid AwsTask (tags, parameter bounds) once account and region are defaulted."""
    result = analyze_issue(_issue(example), ACCOUNTS)
    AwsTask(
        id="t-1",
        task_type=result.task_type,
        resource_type=result.resource_type,
        account_id=result.account_id or "123456789012",
        region=result.region or "us-east-1",
        parameters=result.parameters,
    )
    assert result.evidence["operation"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.evidence.items())
    if result.resource_type is not None:
        assert result.evidence["resource_type"]


def test_analysis_is_deterministic() -> None:
    for example in EXAMPLES:
        first = second = None
        try:
            first = analyze_issue(_issue(example), ACCOUNTS)
        except TaskAnalysisError as exc:
            first_error = exc.message
            with pytest.raises(TaskAnalysisError) as again:
                analyze_issue(_issue(example), ACCOUNTS)
            assert again.value.message == first_error
            continue
        second = analyze_issue(_issue(example), ACCOUNTS)
        assert first == second


@pytest.mark.parametrize("resource_type", list(AwsResourceType))
def test_every_resource_type_is_reachable_by_its_common_name(resource_type: AwsResourceType) -> None:
    name = V.RESOURCE_EXAMPLES[resource_type]
    result = analyze_issue(IssueRef(number=1, title=f"Create {name} for the team"))
    assert result.resource_type is resource_type
    by_enum = analyze_issue(IssueRef(number=1, title="Create it", body=f"resource_type: {resource_type.value}"))
    assert by_enum.resource_type is resource_type


def test_vocabulary_phrases_are_written_the_way_the_tokenizer_reads_them() -> None:
    for phrase in [*V.LATIN_OPS, *V.LATIN_RESOURCES, *V.BREAK_WORDS, *V.CONJ_WORDS]:
        assert " ".join(m.group().lower() for m in _TOKEN.finditer(phrase)) == phrase, phrase


def test_account_names_without_a_directory() -> None:
    result = analyze_issue(IssueRef(number=1, title="Create S3 bucket in Apollo"))
    assert result.account_name is None and result.account_id is None
    with pytest.raises(TaskAnalysisError, match="unknown account 'Apollo'; known: \\(no accounts configured\\)"):
        analyze_issue(IssueRef(number=1, title="Create S3 bucket", body="account: Apollo"))


def test_unknown_operation_value_is_refused() -> None:
    with pytest.raises(TaskAnalysisError, match="unknown operation 'frobnicate'"):
        analyze_issue(IssueRef(number=1, title="S3 bucket", body="operation: frobnicate"))


# --- hostile input ----------------------------------------------------------------------------------------------

_PATHOLOGICAL = [
    "a" * 65_536,
    "`" * 65_536,
    "[" * 65_536,
    "[a](" * 16_384,
    "<!--" * 16_384,
    "<" * 65_536,
    "memory " + " " * 65_000 + "x",
    "timeout" + "\t" * 65_000 + "9" * 500,
    "named " * 10_000,
    "1" * 65_536,
    "1 " * 32_768,
    "|" * 65_536,
    "| a | b |\n" * 6_500,
    "#" * 65_536,
    "- [x] " * 10_000,
    "create delete " * 4_500,
    "lambda and s3 and " * 3_600,
    "Apollo Athena " * 4_600,
    "tags: " + "k=v, " * 13_000,
    "bucket " * 9_000,
    "s3://" + "a" * 65_000,
    "```\n" * 16_000,
    "\u30d0\u30b1\u30c3\u30c8\u3092\u524a\u9664\u3068" * 5_000,
    "\x00\x1b\u200b\ufeff" * 16_000,
    "ab-" * 21_000,
    "x." * 32_000,
    "t3.micro " * 7_000,
    "key: value\n" * 6_000,
]


@pytest.mark.parametrize("body", _PATHOLOGICAL, ids=range(len(_PATHOLOGICAL)))
def test_pathological_bodies_finish_quickly(body: str) -> None:
    issue = IssueRef(number=1, title="Create S3 bucket", body=body[:65_536])
    started = time.perf_counter()
    try:
        result = analyze_issue(issue, ACCOUNTS)
        assert isinstance(result, Analysis)
    except TaskAnalysisError:
        pass
    assert time.perf_counter() - started < SLOW_SECONDS


def test_oversized_input_is_truncated_not_trusted() -> None:
    """Even an IssueRef built without validation (1 MiB body, 10k-char title) is analysed within budget."""
    issue = IssueRef.model_construct(
        number=1,
        title="Delete EC2 instance " + "x" * 10_000,
        body=("lorem ipsum dolor " * 60_000),
        labels=["aws:delete"] * 500,
        url=None,
    )
    started = time.perf_counter()
    result = analyze_issue(issue, ACCOUNTS)
    assert result.task_type is AwsTaskType.DELETE_RESOURCE
    assert time.perf_counter() - started < SLOW_SECONDS


_WORDS = sorted(
    {
        *V.LATIN_OPS,
        *V.LATIN_RESOURCES,
        *V.CJK_OPS,
        *V.CJK_RESOURCES,
        *V.BREAK_WORDS,
        *V.CONJ_WORDS,
        *ACCOUNTS,
        "account",
        "named",
        "tags:",
        "Env=prod",
        "aws:x=y",
        "region:",
        "us-east-1",
        "t3.micro",
        "ami-0123456789abcdef0",
        "i-0123456789abcdef0",
        "python3.12",
        "512 MB",
        "memory",
        "timeout",
        "30s",
        "handler:",
        "s3://bucket",
        "`x`",
        "```",
        "<!--",
        "-->",
        "- [ ]",
        "- [x]",
        "###",
        "|",
        ":",
        "\n",
        "123456789012",
        "Hermes",
    }
)
_text = st.text(max_size=300)
_fragments = st.lists(st.one_of(st.sampled_from(_WORDS), _text), max_size=40).map(" ".join)
_big = st.tuples(st.one_of(st.sampled_from(_WORDS), _text), st.integers(1, 65_536)).map(
    lambda t: (t[0] * (t[1] // max(1, len(t[0])) + 1))[:65_536]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.one_of(_fragments, _text, st.text(alphabet=st.characters(codec="utf-8"), max_size=512)),
    body=st.one_of(_fragments, _text, _big, st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FFFF))),
    labels=st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=100)), max_size=8),
)
def test_any_input_gives_an_analysis_or_an_analysis_error(title: str, body: str, labels: list[str]) -> None:
    title = title[:512] or "x"
    labels = [label[:100] for label in labels]
    try:
        issue = IssueRef(number=1, title=title, body=body[:65_536], labels=labels)
    except ValidationError:  # e.g. lone surrogates: the analyzer must still cope with an unvalidated issue
        issue = IssueRef.model_construct(number=1, title=title, body=body, labels=labels, url=None)
    started = time.perf_counter()
    try:
        result = analyze_issue(issue, ACCOUNTS)
    except TaskAnalysisError as exc:
        assert exc.message
    else:
        assert isinstance(result, Analysis)
        assert isinstance(result.task_type, AwsTaskType)
        assert result.resource_type is not None or result.task_type in (
            AwsTaskType.DISCOVER_RESOURCES,
            AwsTaskType.OPTIMIZE_COSTS,
            AwsTaskType.SECURITY_AUDIT,
            AwsTaskType.HEALTH_CHECK,
            AwsTaskType.ANALYZE_BILLING,
        )
    assert time.perf_counter() - started < SLOW_SECONDS
