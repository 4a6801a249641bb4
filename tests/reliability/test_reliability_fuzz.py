"""Bad input: property-based fuzzing (hypothesis) of the intake, the event parser and the analyzer, then a corpus of
hostile events through the whole embedded pipeline.

Expected: never an unhandled exception, always a clear validation error on the task, nothing written for a rejected
event except its failure record.
"""

from __future__ import annotations

import json
import random
import re
import string
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_figures import record
from rel_harness import Observer, Size, creation_ledger, drive, run_tag, size

from aws_agent.basics import TASK_ID_PATTERN
from aws_agent.config import AgentConfig
from aws_agent.errors import AgentError
from aws_agent.events import MAX_BODY_CHARS, ORCHESTRATOR_SOURCE, TASK_REQUESTED
from aws_agent.pipeline.analyze import build_task, parse_request
from aws_agent.pipeline.intake import MAX_EVENT_BYTES, task_id_for
from aws_agent.pipeline.runtime import Runtime
from aws_agent.registry import MAX_TEXT
from aws_agent.settings import Settings

ZEUS = "123456789012"
ORG = {"Zeus": ZEUS, "Apollo": "222222222222", "Cerberus": "333333333333", "Athena": "444444444444"}
EXAMPLES = size().fuzz_examples
FIGURES: Counter[str] = Counter()

# Text an attacker or a broken producer sends: injections, template/JNDI probes, path traversal, control and
# invisible characters, right-to-left overrides, surrogates' neighbours, emoji, CJK.
HOSTILE = [
    "'; DROP TABLE tasks; --",
    '" OR 1=1 --',
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "$(rm -rf /)",
    "`reboot`",
    "../../../../etc/passwd",
    "\x00\x01\x02\x1b[31m\x7f",
    "\u202etxt.exe",
    "\u200b\u200c\u200d\ufeff",
    "\ud7ff\ue000\uffff",
    "🪣🔥" * 8,
    "バケットを作成して",
    "arn:aws:iam::*:role/*",
    "MiyabiManaged=true",
    "aws:cloudformation:stack-name",
    "\r\n\r\nX-Injected: 1",
    "%00%0d%0a",
    "A" * 5000,
]
_hostile = st.sampled_from(HOSTILE)
_text = st.one_of(_hostile, st.text(max_size=200), st.text(alphabet=st.characters(codec="utf-8"), max_size=64))
_huge = st.tuples(_hostile, st.integers(1000, 300_000)).map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]])
_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _text)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_text, inner, max_size=5)),
    max_leaves=20,
)
_task_types = st.one_of(
    st.sampled_from(["CreateResource", "UpdateResource", "DeleteResource", "DiscoverResources", "OptimizeCosts"]),
    _text,
    _json,
)
_resource_types = st.one_of(st.sampled_from(["S3Bucket", "Ec2Instance", "LambdaFunction", "RdsInstance"]), _text, _json)
_task = st.fixed_dictionaries(
    {},
    optional={
        "task_type": _task_types,
        "resource_type": _resource_types,
        "account_id": st.one_of(st.sampled_from(list(ORG.values())), _text, st.integers()),
        "account_name": st.one_of(st.sampled_from([*ORG, "Hermes"]), _text),
        "region": st.one_of(st.sampled_from(["us-east-1", "ap-south-1", "mars-1"]), _text),
        "parameters": st.one_of(st.dictionaries(_text, _json, max_size=5), _json),
        "dependencies": st.one_of(st.lists(_text, max_size=5), _json),
        "extra": _json,
    },
)
_issue = st.fixed_dictionaries(
    {},
    optional={
        "number": st.one_of(st.integers(-5, 10**12), _text),
        "title": st.one_of(_text, _huge),
        "body": st.one_of(_text, _huge),
        "labels": st.one_of(st.lists(_text, max_size=60), _json),
        "url": _text,
    },
)
_detail = st.fixed_dictionaries(
    {},
    optional={
        "version": st.one_of(st.just("1"), _json),
        "task_id": st.one_of(st.from_regex(TASK_ID_PATTERN, fullmatch=True), _text, _json),
        "task": st.one_of(_task, _json),
        "issue": st.one_of(_issue, _json),
        "dry_run": st.one_of(st.booleans(), _json),
        "requested_by": st.one_of(_text, _huge),
    },
)
_envelope = st.fixed_dictionaries(
    {
        "source": st.one_of(st.just(ORCHESTRATOR_SOURCE), _text),
        "detail-type": st.one_of(st.just(TASK_REQUESTED), _text),
        "detail": st.one_of(_detail, _json),
    },
    optional={"id": _text, "account": _text},
)


# Valid details, then one field replaced by junk or removed: reaches the analysis (not just the schema).
VALID_DETAILS: list[dict[str, Any]] = [
    {
        "task_id": "rel-fuzz-v1",
        "task": {
            "task_type": "CreateResource",
            "resource_type": "S3Bucket",
            "parameters": {"bucket_name": "rel-fuzz-bucket", "tags": {"Team": "qa"}},
        },
    },
    {
        "task_id": "rel-fuzz-v2",
        "task": {
            "task_type": "UpdateResource",
            "resource_type": "LambdaFunction",
            "account_name": "Apollo",
            "parameters": {"function_name": "f", "memory_size": 256},
        },
    },
    {
        "task_id": "rel-fuzz-v3",
        "task": {
            "task_type": "DeleteResource",
            "resource_type": "Ec2Instance",
            "account_id": "222222222222",
            "region": "eu-west-1",
            "parameters": {"instance_id": "i-0123456789abcdef0"},
        },
    },
    {"task_id": "rel-fuzz-v4", "task": {"task_type": "DiscoverResources", "resource_type": "S3Bucket"}},
    {"task_id": "rel-fuzz-v5", "task": {"task_type": "OptimizeCosts", "parameters": {"apply": False}}},
    {
        "task_id": "rel-fuzz-v6",
        "issue": {
            "number": 7,
            "title": "Deploy Lambda function for API endpoint",
            "body": "function: `api` in Apollo",
            "labels": ["aws"],
        },
    },
    {
        "task_id": "rel-fuzz-v7",
        "dry_run": True,
        "issue": {"number": 8, "title": "Create an S3 bucket", "body": "named rel-fuzz-issue"},
    },
]
_DELETE = object()
_PATHS = [
    ("task_id",),
    ("task",),
    ("issue",),
    ("dry_run",),
    ("version",),
    ("task", "task_type"),
    ("task", "resource_type"),
    ("task", "account_id"),
    ("task", "account_name"),
    ("task", "region"),
    ("task", "parameters"),
    ("task", "dependencies"),
    ("issue", "number"),
    ("issue", "title"),
    ("issue", "body"),
    ("issue", "labels"),
    ("task", "parameters", "bucket_name"),
    ("task", "parameters", "tags"),
    ("task", "parameters", "memory_size"),
    ("task", "parameters", "instance_id"),
]


def _mutate(args: tuple[dict[str, Any], tuple[str, ...], Any]) -> dict[str, Any]:
    detail, path, value = json.loads(json.dumps(args[0])), args[1], args[2]
    node = detail
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            return detail
        node = node[key]
    if value is _DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return detail


_mutated = st.tuples(
    st.sampled_from(VALID_DETAILS), st.sampled_from(_PATHS), st.one_of(st.just(_DELETE), _json, _huge)
).map(_mutate)


def _runtime() -> Runtime:
    """A Runtime whose analysis needs no AWS call (the account id is set; the configuration is preset)."""
    config = AgentConfig(accounts=ORG, allowed_accounts=sorted(ORG.values()))
    return Runtime(Settings("tasks", "resources", "agents", "bus", agent_account_id=ZEUS, preset_config=config))


RT = _runtime()


def _check_error(exc: AgentError) -> None:
    assert exc.message and exc.message.strip(), "an error without a message"
    assert len(exc.message) <= MAX_TEXT, len(exc.message)  # a huge input is never echoed back whole


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(
        _text,
        _huge,
        _json.map(json.dumps),
        _envelope.map(json.dumps),
        st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    )
)
def test_intake_gives_every_body_a_task_id(body: str) -> None:
    task_id, event = task_id_for(body, "11111111-2222-3333-4444-555555555555")
    FIGURES["intake bodies"] += 1
    assert re.match(TASK_ID_PATTERN, task_id), task_id
    assert isinstance(event, dict)
    if len(body.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES:  # never handed on: not JSON, or too large
        assert task_id.startswith("msg-") and event.get("problem"), event.get("problem")
    assert len(json.dumps(event)) < 2 * MAX_EVENT_BYTES + 10_000


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    event=st.one_of(
        _envelope,
        _mutated.map(lambda d: {"source": ORCHESTRATOR_SOURCE, "detail-type": TASK_REQUESTED, "detail": d}),
        _json.map(lambda v: {"detail": v}),
        _json.map(lambda v: {"raw": v}),
    )
)
def test_event_parser_and_analysis_raise_only_clear_validation_errors(event: Any) -> None:
    FIGURES["events parsed"] += 1
    try:
        request = parse_request(event)
        task, _ = build_task(RT, "rel-fuzz-1", request)
    except AgentError as exc:
        _check_error(exc)
        FIGURES[f"rejected: {exc.code}"] += 1
    else:
        FIGURES["accepted"] += 1
        assert task.id == "rel-fuzz-1"


@settings(max_examples=max(50, EXAMPLES // 3), deadline=None, suppress_health_check=list(HealthCheck))
@given(title=st.one_of(_text, _huge), body=st.one_of(_text, _huge), labels=st.lists(_text, max_size=60))
def test_issue_analysis_through_the_parser_on_hostile_issues(title: str, body: str, labels: list[str]) -> None:
    FIGURES["issues analysed"] += 1
    event = {
        "source": ORCHESTRATOR_SOURCE,
        "detail-type": TASK_REQUESTED,
        "detail": {"task_id": "rel-fuzz-2", "issue": {"number": 1, "title": title, "body": body, "labels": labels}},
    }
    started = time.perf_counter()
    try:
        build_task(RT, "rel-fuzz-2", parse_request(event))
    except AgentError as exc:
        _check_error(exc)
    assert time.perf_counter() - started < 5.0


def test_fuzz_figures() -> None:
    """Records the in-process figures (runs after the properties in this module, in the same process)."""
    if not FIGURES:
        pytest.skip("the properties ran in another process")
    rejected = {k.removeprefix("rejected: "): v for k, v in sorted(FIGURES.items()) if k.startswith("rejected: ")}
    record(
        "fuzz",
        {
            "hypothesis: intake bodies (any text, binary, huge, JSON)": FIGURES["intake bodies"],
            "hypothesis: events through parser + analysis": FIGURES["events parsed"],
            "hypothesis: hostile issues through the analyzer": FIGURES["issues analysed"],
            "hypothesis: rejected with a clear error, by code": rejected,
            "hypothesis: accepted (still valid after the mutation)": FIGURES["accepted"],
            "hypothesis: unhandled exceptions": 0,
        },
    )


# --- the whole pipeline ------------------------------------------------------------------------------------------

# The fields a rejected event's record may hold: the intake's, the failure's, the emission's. Nothing analysed.
FAILURE_FIELDS = {
    "task_id",
    "status",
    "created_at",
    "updated_at",
    "source",
    "version",
    "completed_at",
    "event_emitted",
    "error_code",
    "error_message",
    "error_state",
    "error_name",
    "emit_claim",
    "emit_claimed_at",
}


def _envelope_text(detail: Any, **overrides: Any) -> str:
    event = {
        "version": "0",
        "id": overrides.pop("id", str(uuid.uuid4())),
        "source": ORCHESTRATOR_SOURCE,
        "detail-type": TASK_REQUESTED,
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
        **overrides,
    }
    return json.dumps(event)


def hostile_corpus(n: int, tag: str, seed: int = 88) -> list[tuple[str, str, Any]]:
    """(channel, kind, payload): channel "queue" sends a raw SQS body; "bus" a detail through EventBridge."""
    rng = random.Random(seed)
    huge = "".join(rng.choice(string.printable) for _ in range(MAX_EVENT_BYTES + 10_000))
    pick = rng.choice
    raw: list[tuple[str, str, Any]] = [
        ("queue", "not JSON", '{"detail": {"task_id": '),
        ("queue", "JSON array", "[1, 2, 3]"),
        ("queue", "JSON string", json.dumps(pick(HOSTILE))),
        ("queue", "control characters", "\x00\x01\x02" + pick(HOSTILE)),
        ("queue", "oversize event", _envelope_text({"task_id": f"rel-fz-{tag}-big", "task": {"x": huge}})),
        ("queue", "detail not an object", _envelope_text(pick(HOSTILE))),
        ("queue", "wrong source", _envelope_text({"task_id": f"rel-fz-{tag}-src"}, source="evil.producer")),
        ("queue", "wrong detail-type", _envelope_text({"task_id": f"rel-fz-{tag}-dt"}, **{"detail-type": "X"})),
        ("queue", "no detail", json.dumps({"source": ORCHESTRATOR_SOURCE, "detail-type": TASK_REQUESTED})),
    ]
    bus: list[tuple[str, str, Any]] = []
    for i in range(max(0, n - len(raw))):
        task_id = f"rel-fz-{tag}-{i:03d}"
        text = pick(HOSTILE)
        shapes: list[tuple[str, Any]] = [
            ("task id missing", {"task": {"task_type": "CreateResource", "resource_type": "S3Bucket"}}),
            # (prefixed: the suite's observer subscribes to rel-/msg-/event- task ids; an invalid id becomes event-…)
            ("task id with injection", {"task_id": f"rel-{text}"[:60], "task": {"task_type": "CreateResource"}}),
            ("unknown task type", {"task_id": task_id, "task": {"task_type": text, "resource_type": "S3Bucket"}}),
            (
                "unknown resource type",
                {"task_id": task_id, "task": {"task_type": "CreateResource", "resource_type": text}},
            ),
            (
                "parameters not an object",
                {
                    "task_id": task_id,
                    "task": {"task_type": "CreateResource", "resource_type": "S3Bucket", "parameters": [text]},
                },
            ),
            (
                "account id malformed",
                {
                    "task_id": task_id,
                    "task": {"task_type": "CreateResource", "resource_type": "S3Bucket", "account_id": text[:40]},
                },
            ),
            (
                "region malformed",
                {
                    "task_id": task_id,
                    "task": {
                        "task_type": "CreateResource",
                        "resource_type": "S3Bucket",
                        "region": "us-east-1; " + text[:30],
                    },
                },
            ),
            (
                "task and issue",
                {"task_id": task_id, "task": {"task_type": "CreateResource"}, "issue": {"number": 1, "title": "x"}},
            ),
            ("neither task nor issue", {"task_id": task_id, "dry_run": True}),
            ("issue number wrong type", {"task_id": task_id, "issue": {"number": text[:20] or "x", "title": "x"}}),
            ("issue title too long", {"task_id": task_id, "issue": {"number": 1, "title": (text * 600)[:600]}}),
            (
                "issue body too long",
                {
                    "task_id": task_id,
                    "issue": {"number": 1, "title": "Create S3 bucket", "body": "x" * (MAX_BODY_CHARS + 1)},
                },
            ),
            ("too many labels", {"task_id": task_id, "issue": {"number": 1, "title": "t", "labels": ["l"] * 60}}),
            (
                "dry_run wrong type",
                {"task_id": task_id, "dry_run": {"x": text}, "task": {"task_type": "DiscoverResources"}},
            ),
            ("version 2", {"task_id": task_id, "version": "2", "task": {"task_type": "DiscoverResources"}}),
            ("unknown field", {"task_id": task_id, "task": {"task_type": "DiscoverResources"}, text[:30] or "x": 1}),
        ]
        kind, detail = shapes[i % len(shapes)]
        bus.append(("bus", kind, detail))
    return (raw + bus)[:n] if n < len(raw) else raw + bus


def test_hostile_events_through_the_pipeline_leave_only_failure_records(
    local_agent: Any, observer: Observer, sz: Size
) -> None:
    agent = local_agent
    tag = run_tag()
    corpus = hostile_corpus(sz.fuzz_e2e, tag)
    sqs, events = boto3.client("sqs"), boto3.client("events")
    resources_before = _count(agent.outputs["ResourcesTableName"])
    task_ids: dict[str, str] = {}  # task id -> kind
    with creation_ledger() as ledger:
        for channel, kind, payload in corpus:
            if channel == "queue":
                message_id = sqs.send_message(QueueUrl=agent.outputs["TaskQueueUrl"], MessageBody=payload)["MessageId"]
                body_task = _declared_task_id(payload)
                task_ids[body_task or f"msg-{message_id}"] = kind
            else:
                entry = events.put_events(
                    Entries=[
                        {
                            "Source": ORCHESTRATOR_SOURCE,
                            "DetailType": TASK_REQUESTED,
                            "Detail": json.dumps(payload),
                            "EventBusName": agent.outputs["EventBusName"],
                        }
                    ]
                )["Entries"][0]
                declared = payload.get("task_id")
                valid = isinstance(declared, str) and re.match(TASK_ID_PATTERN, declared)
                task_ids[declared if valid else f"event-{entry['EventId']}"] = kind
        records = drive(agent, list(task_ids), timeout=300)
        created = sum(ledger.values())

    wrong = {}
    for task_id, rec in records.items():
        extra = set(rec) - FAILURE_FIELDS
        ok = (
            rec["status"] == "Failed"
            and rec["error_code"] == "InvalidEvent"
            and rec["error_state"] == "Analyze"
            and 0 < len(rec["error_message"]) <= MAX_TEXT
            and not extra
        )
        if not ok:
            wrong[task_id] = (
                task_ids[task_id],
                rec.get("status"),
                rec.get("error_code"),
                sorted(extra),
                rec.get("error_message", "")[:200],
            )
    assert not wrong, wrong
    assert created == 0, "a rejected event created an AWS resource"
    assert _count(agent.outputs["ResourcesTableName"]) == resources_before, "a rejected event registered a resource"
    per_task = Counter(len(v) for v in observer.by_task(task_ids).values())
    assert per_task == Counter({1: len(task_ids)}), per_task
    assert all(e[0]["detail"]["error"]["code"] == "InvalidEvent" for e in observer.by_task(task_ids).values())
    example = next(r["error_message"] for t, r in records.items() if task_ids[t] == "unknown resource type")
    record(
        "fuzz",
        {
            "pipeline: hostile events sent (queue / bus)": f"{len(corpus)} "
            f"({sum(1 for c in corpus if c[0] == 'queue')} / {sum(1 for c in corpus if c[0] == 'bus')})",
            "pipeline: kinds": len({k for _, k, _ in corpus}),
            "pipeline: Failed InvalidEvent at Analyze": sum(
                1 for r in records.values() if r["error_code"] == "InvalidEvent"
            ),
            "pipeline: records with more than the failure": 0,
            "pipeline: AWS resources created / registered": f"{created} / "
            f"{_count(agent.outputs['ResourcesTableName']) - resources_before}",
            "pipeline: AwsTaskFailed events per task": "exactly 1 for all",
            "pipeline: example message": example[:110],
        },
    )


def _declared_task_id(body: str) -> str | None:
    """The task id the intake reads from a raw body (task_id_for), or None when it will use msg-<id>."""
    task_id, _ = task_id_for(body, "x")
    return None if task_id.startswith("msg-") else task_id


def _count(table: str) -> int:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(int(page["Count"]) for page in pages)
