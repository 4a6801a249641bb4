"""The demo on the embedded AWS: tasks of every kind, bad input, guardians, health, billing and a new account."""

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
FIFTH_WAVE = [_task("demo-012-billing", {"task_type": "AnalyzeBilling", "parameters": {"period": "last-month"}})]
# moto keeps no billing data: its Cost Explorer answers what it is given (the three queries of one report).
DEMO_COSTS = [
    {"222222222222": ("184.20", "Apollo"), "333333333333": ("41.75", "Cerberus"), "123456789012": ("12.40", "Zeus")},
    {"Amazon Elastic Compute Cloud - Compute": ("151.30", ""), "AWS Lambda": ("45.10", ""), "Amazon S3": ("41.95", "")},
    {"MiyabiAgent$BillGates": ("196.40", ""), "MiyabiAgent$SteveJobs": ("41.95", "")},
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
        console.print(
            "\n[bold]5.[/] the organization: an AnalyzeBilling task (Cost Explorer answers seeded into moto) and a new "
            "account through the account-creation workflow (CreateAccount → Wait loop → MoveAccount)"
        )
        _seed_costs(agent)
        for detail in FIFTH_WAVE:
            agent.submit(detail)
        with console.status("reporting and creating the account…"):
            agent.run([d["task_id"] for d in FIFTH_WAVE], timeout=120)
            account = _create_account(agent)
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
        return {
            "tasks": tasks,
            "resources": resources,
            "agents": agents,
            "events": events,
            "buckets": buckets,
            "account": account,
        }
    finally:
        agent.__exit__(None, None, None)


def _fn(agent: LocalAgent, step: str) -> str:
    assert agent.stack is not None
    return next((name for name, s in agent.stack.functions.items() if s == step), "")


def _seed_costs(agent: LocalAgent) -> None:
    import urllib.request

    results = []
    for groups in DEMO_COSTS:
        results.append(
            {
                "ResultsByTime": [
                    {
                        "Groups": [
                            {"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
                            for key, (amount, _) in groups.items()
                        ],
                        "Estimated": False,
                    }
                ],
                "DimensionValueAttributes": [
                    {"Value": key, "Attributes": {"description": name}} for key, (_, name) in groups.items() if name
                ],
            }
        )
    request = urllib.request.Request(
        f"{agent.emulator.endpoint}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=30)


def _create_account(agent: LocalAgent) -> Any:
    """An organization (moto has none until asked), a Sandbox OU, and one account through the deployed workflow."""
    import time

    import boto3

    from ..accounts.lifecycle import AccountRequest, start_account_creation, wait_for_creation
    from ..basics import AccountRole

    organizations = boto3.client("organizations", region_name="us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    sandbox = organizations.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]
    request = AccountRequest(
        name="Hermes", email="hermes@example.com", role=AccountRole.DEVELOPMENT, destination=sandbox
    )
    stepfunctions = boto3.client("stepfunctions")
    execution = start_account_creation(stepfunctions, agent.outputs["AccountLifecycleStateMachineArn"], request)
    return wait_for_creation(stepfunctions, execution, sleep=time.sleep, poll_seconds=0.2, timeout_seconds=60)
