"""The demo scenario on the embedded AWS: creates, a cross-account launch, a delete, a duplicate and bad input."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from ..local.agent import LocalAgent
from .views import agents_table, events_table, resources_table, tasks_table

BUCKET = "miyabi-demo-assets"


def _task(task_id: str, task: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    return {"task_id": task_id, "task": task, "dry_run": dry_run}


def _issue(task_id: str, number: int, title: str, body: str = "", labels: list[str] | None = None) -> dict[str, Any]:
    return {"task_id": task_id, "issue": {"number": number, "title": title, "body": body, "labels": labels or []}}


FIRST_WAVE = [
    _issue(
        "demo-001-lambda",
        101,
        "Deploy Lambda function for API endpoint",
        "## Details\n- runtime: python3.12\n- memory: 256 MB\n- function: `orders-api`\n\ntags: Team=web, Env=demo",
        ["aws", "deploy"],
    ),
    _task(
        "demo-002-bucket",
        {
            "task_type": "CreateResource",
            "resource_type": "S3Bucket",
            "parameters": {"bucket_name": BUCKET, "tags": {"Team": "frontend"}},
        },
    ),
    _issue("demo-003-ec2", 103, "Launch EC2 instance t3.micro in the Apollo account", "Region: us-east-1"),
    _task(
        "demo-004-dryrun",
        {"task_type": "CreateResource", "resource_type": "Ec2Instance", "parameters": {"instance_type": "t3.large"}},
        dry_run=True,
    ),
    _task("demo-005-unknown", {"task_type": "CreateResource", "resource_type": "MainframeCluster"}),
    _issue("demo-006-vague", 106, "Please make things better", "no idea what I want"),
]
SECOND_WAVE = [
    _task(
        "demo-007-delete",
        {"task_type": "DeleteResource", "resource_type": "S3Bucket", "parameters": {"bucket_name": BUCKET}},
    ),
]
THIRD_WAVE = [
    _issue(
        "demo-008-optimize",
        108,
        "Optimize costs in the Apollo account",
        "Find idle EC2 instances, unused S3 buckets and unattached volumes. A dry run: report, change nothing.",
    ),
]
FOURTH_WAVE = [
    _task(
        "demo-009-public",
        {
            "task_type": "CreateResource",
            "resource_type": "S3Bucket",
            "parameters": {"bucket_name": "miyabi-demo-public", "acl": "public-read"},
        },
    ),
    _task("demo-010-audit", {"task_type": "SecurityAudit", "account_name": "Apollo"}),
    _task("demo-011-health", {"task_type": "HealthCheck", "account_name": "Apollo"}),
]
DUPLICATE = FIRST_WAVE[1]
MALFORMED_BODY = '{"detail-type": "AwsTaskRequested", "detail": {"task_id": '


def run_demo(console: Console) -> dict[str, Any]:
    """Runs the scenario and prints what happened; returns the figures for tests."""
    with console.status("synthesizing the CDK app and deploying it into the embedded AWS (moto)…"):
        agent = LocalAgent().__enter__()
    try:
        console.print(f"[bold]embedded AWS[/] at {agent.emulator.endpoint} — stack outputs:")
        console.print_json(json.dumps(agent.outputs))
        console.print(
            "\n[bold]1.[/] orchestrator events: a Lambda from an issue, a bucket, an EC2 instance in "
            "Apollo, a dry run, an unknown type, a vague issue, a duplicate and a malformed message"
        )
        for detail in FIRST_WAVE:
            agent.submit(detail)
        agent.submit(DUPLICATE)  # delivered twice: must not create a second bucket
        agent.send_raw(MALFORMED_BODY)
        ids = [d["task_id"] for d in FIRST_WAVE]
        with console.status("running tasks (bus → queue → intake → state machine)…"):
            agent.run(ids, timeout=180)
            agent.run(timeout=10)  # let the malformed message reach its failure record
        console.print("\n[bold]2.[/] delete the bucket created above")
        for detail in SECOND_WAVE:
            agent.submit(detail)
        with console.status("running the delete…"):
            agent.run([d["task_id"] for d in SECOND_WAVE], timeout=120)
        console.print("\n[bold]3.[/] a cost-optimization sweep of Apollo (Distributed Map workflow, dry run)")
        for detail in THIRD_WAVE:
            agent.submit(detail)
        with console.status("sweeping…"):
            agent.run([d["task_id"] for d in THIRD_WAVE], timeout=120)
        console.print(
            "\n[bold]4.[/] guardians and health: a public bucket (Cerberus denies it), a SecurityAudit and a "
            "HealthCheck of Apollo"
        )
        for detail in FOURTH_WAVE:
            agent.submit(detail)
        with console.status("auditing and checking…"):
            agent.run([d["task_id"] for d in FOURTH_WAVE], timeout=120)
        from ..pipeline.runtime import runtime

        rt = runtime()
        tasks = rt.tasks.list(limit=100)
        resources = rt.resources.list_resources()
        agents = rt.resources.list_agents()
        events = agent.results()
        console.print(tasks_table(tasks))
        console.print(resources_table(resources))
        console.print(agents_table(agents))
        console.print(events_table(events))
        buckets = [b["Name"] for b in agent.session().client("s3").list_buckets()["Buckets"]]
        console.print(
            f"\nbuckets now in moto: {buckets or 'none'} · executions started: "
            f"{agent.emulator.invocations.get(_fn(agent, 'analyze'), 0)} · Lambda invocations: "
            f"{sum(agent.emulator.invocations.values())}"
        )
        return {"tasks": tasks, "resources": resources, "agents": agents, "events": events, "buckets": buckets}
    finally:
        agent.__exit__(None, None, None)


def _fn(agent: LocalAgent, step: str) -> str:
    assert agent.stack is not None
    return next((name for name, s in agent.stack.functions.items() if s == step), "")
