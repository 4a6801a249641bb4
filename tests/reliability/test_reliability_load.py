"""Load and duplicates: N task events (creates, updates, deletes, discovers), 20 % delivered twice, 10 % out of order.

Expected: every task ends in exactly one terminal state, no resource created twice, no task lost (tasks in = tasks
recorded), every result event emitted once per task, nothing in the DLQ.

Delivery happens in phases, each drained before the next, as an orchestrator's stream would arrive:
1. the out-of-order events: updates and deletes of resources whose create has not arrived yet (they fail with
   ResourceNotFound: the resource does not exist when they run);
2. the creates, with the late copies of phase-1 duplicates;
3. the updates, deletes (of what phase 2 created; EC2 ids are read from phase 2's results, as an orchestrator reads
   them from AwsTaskCompleted) and discoveries, with the late copies of phase-2 duplicates;
4. the late copies of phase-3 duplicates.
Half of the duplicates are delivered in the same burst as their original, half one phase later (after the task is
terminal).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from rel_figures import record
from rel_harness import (
    Observer,
    Size,
    creation_ledger,
    dlq_depth,
    drive,
    executions,
    intake_outcomes,
    run_tag,
    statuses,
    structured,
    submit_all,
)

pytestmark = pytest.mark.e2e

ZEUS, APOLLO = "123456789012", "222222222222"
SEED = 1008
MAX_IN_FLIGHT = 100  # an SQS event source's MaximumConcurrency: the local poller waits above it


@dataclass
class Resource:
    kind: str  # s3 | ec2 | lambda
    name: str  # bucket / function name; for EC2 the Name tag (the instance id comes from the create's result)
    account: str
    region: str
    create_task: str
    resource_type: str
    instance_id: str | None = None


@dataclass
class Plan:
    tag: str
    resources: list[Resource] = field(default_factory=list)
    phases: list[list[dict[str, Any]]] = field(default_factory=lambda: [[], [], [], []])
    expected: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # task id -> (status, error code)
    kinds: dict[str, str] = field(default_factory=dict)  # task id -> create/update/delete/discover
    updated: list[Resource] = field(default_factory=list)
    deleted: list[Resource] = field(default_factory=list)
    duplicates: int = 0
    out_of_order: int = 0


def _create(resource: Resource) -> dict[str, Any]:
    params: dict[str, Any]
    if resource.kind == "s3":
        params = {"bucket_name": resource.name, "tags": {"Suite": "reliability"}}
    elif resource.kind == "ec2":
        params = {"instance_type": "t3.micro", "name": resource.name}
    else:
        params = {"function_name": resource.name, "memory_size": 128}
    return structured(
        resource.create_task,
        "CreateResource",
        resource.resource_type,
        account_id=resource.account,
        region=resource.region,
        parameters=params,
    )


def _update(task_id: str, resource: Resource) -> dict[str, Any]:
    params: dict[str, Any]
    if resource.kind == "s3":
        params = {"bucket_name": resource.name, "versioning": True, "tags": {"Load": "updated"}}
    elif resource.kind == "ec2":
        params = {"instance_id": resource.instance_id, "action": "stop"}
    else:
        params = {"function_name": resource.name, "memory_size": 256}
    return structured(
        task_id,
        "UpdateResource",
        resource.resource_type,
        account_id=resource.account,
        region=resource.region,
        parameters=params,
    )


def _delete(task_id: str, resource: Resource) -> dict[str, Any]:
    key = {"s3": "bucket_name", "lambda": "function_name"}.get(resource.kind)
    params = {key: resource.name} if key else {"instance_id": resource.instance_id}
    return structured(
        task_id,
        "DeleteResource",
        resource.resource_type,
        account_id=resource.account,
        region=resource.region,
        parameters=params,
    )


DISCOVERIES = (
    ("S3Bucket", ZEUS, "eu-west-1"),
    ("Ec2Instance", APOLLO, "us-east-1"),
    ("LambdaFunction", ZEUS, "us-east-1"),
)


def build_plan(n: int, tag: str) -> Plan:
    rng = random.Random(SEED)
    plan = Plan(tag=tag)
    n_create, n_update, n_delete = round(0.45 * n), round(0.25 * n), round(0.20 * n)
    n_discover = n - n_create - n_update - n_delete
    n_ooo = round(0.10 * n)
    ooo_updates, ooo_deletes = n_ooo // 2, n_ooo - n_ooo // 2
    plan.out_of_order = n_ooo

    for i in range(n_create):
        slot = i % 20
        task = f"rel-ld-{tag}-c{i:04d}"
        if slot < 12:
            res = Resource("s3", f"rel-ld-{tag}-b{i:04d}", ZEUS, "us-east-1", task, "S3Bucket")
        elif slot < 14:
            res = Resource("s3", f"rel-ld-{tag}-b{i:04d}", ZEUS, "eu-west-1", task, "S3Bucket")
        elif slot < 17:
            res = Resource("ec2", f"rel-ld-{tag}-i{i:04d}", APOLLO, "us-east-1", task, "Ec2Instance")
        else:
            res = Resource("lambda", f"rel-ld-{tag}-f{i:04d}", ZEUS, "us-east-1", task, "LambdaFunction")
        plan.resources.append(res)
        plan.expected[task] = ("Completed", None)
        plan.kinds[task] = "create"

    # Out of order: updates/deletes of S3 buckets and functions, delivered before their create.
    named = [r for r in plan.resources if r.kind != "ec2"]
    phase1: list[dict[str, Any]] = []
    for j, res in enumerate(rng.sample(named, ooo_updates)):
        task = f"rel-ld-{tag}-ou{j:04d}"
        phase1.append(_update(task, res))
        plan.expected[task] = ("Failed", "ResourceNotFound")
        plan.kinds[task] = "update (out of order)"
    for j, res in enumerate(rng.sample(named, ooo_deletes)):
        task = f"rel-ld-{tag}-od{j:04d}"
        phase1.append(_delete(task, res))
        plan.expected[task] = ("Failed", "ResourceNotFound")
        plan.kinds[task] = "delete (out of order)"

    # In order (phase 3): disjoint targets for updates and deletes.
    targets = rng.sample(plan.resources, (n_update - ooo_updates) + (n_delete - ooo_deletes))
    plan.updated = targets[: n_update - ooo_updates]
    plan.deleted = targets[n_update - ooo_updates :]
    for j, _ in enumerate(plan.updated):
        task = f"rel-ld-{tag}-u{j:04d}"
        plan.expected[task] = ("Completed", None)
        plan.kinds[task] = "update"
    for j, _ in enumerate(plan.deleted):
        task = f"rel-ld-{tag}-d{j:04d}"
        plan.expected[task] = ("Completed", None)
        plan.kinds[task] = "delete"
    for j in range(n_discover):
        task = f"rel-ld-{tag}-s{j:04d}"
        plan.expected[task] = ("Completed", None)
        plan.kinds[task] = "discover"

    plan.phases[0] = phase1
    plan.phases[1] = [_create(r) for r in plan.resources]
    plan.duplicates = round(0.20 * n)
    return plan


def phase3_events(plan: Plan) -> list[dict[str, Any]]:
    events = [_update(f"rel-ld-{plan.tag}-u{j:04d}", r) for j, r in enumerate(plan.updated)]
    events += [_delete(f"rel-ld-{plan.tag}-d{j:04d}", r) for j, r in enumerate(plan.deleted)]
    n_discover = sum(1 for k in plan.kinds.values() if k == "discover")
    for j in range(n_discover):
        resource_type, account, region = DISCOVERIES[j % len(DISCOVERIES)]
        events.append(
            structured(
                f"rel-ld-{plan.tag}-s{j:04d}", "DiscoverResources", resource_type, account_id=account, region=region
            )
        )
    return events


def with_duplicates(plan: Plan, rng: random.Random) -> tuple[list[set[str]], list[set[str]]]:
    """Pick the duplicated task ids and where each copy goes: (same burst per phase, next phase per phase)."""
    all_ids = sorted(plan.expected)
    picked = rng.sample(all_ids, plan.duplicates)
    phase_of = {}
    for task, kind in plan.kinds.items():
        phase_of[task] = 0 if "out of order" in kind else 1 if kind == "create" else 2
    same: list[set[str]] = [set(), set(), set(), set()]
    late: list[set[str]] = [set(), set(), set(), set()]
    for k, task in enumerate(picked):
        (same if k % 2 == 0 else late)[phase_of[task]].add(task)
    return same, late


def _s3_exists(session: boto3.Session, name: str) -> bool:
    try:
        session.client("s3").head_bucket(Bucket=name)
        return True
    except Exception:
        return False


def test_load_with_duplicates_and_out_of_order(local_agent: Any, observer: Observer, sz: Size) -> None:
    agent = local_agent
    rng = random.Random(SEED + 1)
    plan = build_plan(sz.load_events, run_tag())
    same, late = with_duplicates(plan, rng)
    started = time.perf_counter()
    by_id: dict[str, dict[str, Any]] = {}
    delivered = 0
    phase_seconds: list[float] = []
    sessions = _Sessions()
    dlq_before = dlq_depth(agent)
    with intake_outcomes(agent) as intake, creation_ledger() as ledger:
        for phase in range(4):
            if phase == 2:  # EC2 ids come from the creates' results, as the orchestrator would read them
                records = {r.create_task: r for r in plan.resources if r.kind == "ec2"}
                from rel_harness import task_records

                for task_id, rec in task_records(agent, list(records)).items():
                    records[task_id].instance_id = rec.get("resource_id")
                plan.phases[2] = phase3_events(plan)
            events = list(plan.phases[phase])
            for detail in events:
                by_id[detail["task_id"]] = detail
            events += [d for d in plan.phases[phase] if d["task_id"] in same[phase]]
            if phase > 0:
                events += [by_id[t] for t in sorted(late[phase - 1])]
            rng.shuffle(events)
            t0 = time.perf_counter()
            delivered += submit_all(agent, events)
            ids = [d["task_id"] for d in plan.phases[phase]] or [d["task_id"] for d in events]
            drive(agent, ids, timeout=1800, max_in_flight=MAX_IN_FLIGHT, housekeeping=sessions.sample)
            phase_seconds.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        counts = dict(intake)
        created = Counter(ledger)

    from rel_harness import task_records

    task_ids = sorted(plan.expected)
    records = task_records(agent, task_ids)
    extra = _records_with_prefix(agent, f"rel-ld-{plan.tag}-") - set(task_ids)
    events = observer.by_task(task_ids)
    names = executions(agent)
    from aws_agent.basics import execution_name

    # -- every task in is recorded once, and terminal in the expected state ------------------------------------
    assert set(records) == set(task_ids) and not extra, (len(records), len(task_ids), sorted(extra)[:5])
    wrong = {
        t: (r.get("status"), r.get("error_code"), r.get("error_message", "")[:200])
        for t, r in records.items()
        if (r.get("status"), r.get("error_code") if plan.expected[t][1] else None) != plan.expected[t]
    }
    assert not wrong, dict(list(wrong.items())[:10])
    for task_id, rec in records.items():
        if plan.expected[task_id][0] == "Failed":
            assert rec["error_state"] == "Execute" and "does not exist" in rec["error_message"], rec

    # -- one execution per task, ended as the task did ----------------------------------------------------------
    expected_exec = {"Completed": "SUCCEEDED", "Failed": "FAILED"}
    bad_exec = {
        t: names.get(execution_name(t))
        for t in task_ids
        if names.get(execution_name(t)) != expected_exec[records[t]["status"]]
    }
    assert not bad_exec, dict(list(bad_exec.items())[:10])

    # -- duplicates: acknowledged, never started twice -----------------------------------------------------------
    n_dup = sum(len(s) for s in same) + sum(len(s) for s in late)
    assert n_dup == plan.duplicates
    assert counts["deliveries"] == delivered == len(task_ids) + n_dup, (counts, delivered)
    assert counts["started"] == len(task_ids) and counts["duplicates"] == n_dup, counts

    # -- exactly one result event per task, matching its status -------------------------------------------------
    per_task = Counter(len(v) for v in events.values())
    assert per_task == Counter({1: len(task_ids)}), per_task
    for task_id, evs in events.items():
        want = "AwsTaskCompleted" if records[task_id]["status"] == "Completed" else "AwsTaskFailed"
        assert evs[0]["detail-type"] == want, (task_id, evs[0]["detail-type"])

    # -- nothing created twice; what was created is what was asked ----------------------------------------------
    assert not [k for k, v in created.items() if v > 1], created.most_common(5)
    expected_keys = set()
    for res in plan.resources:
        if res.kind == "s3":
            expected_keys.add(("s3", res.name))
        elif res.kind == "ec2":
            expected_keys.add(("ec2", f"{res.account}/{res.create_task}"))
        else:
            expected_keys.add(("lambda", f"{res.account}/{res.region}/{res.name}"))
    mine = {k for k in created if plan.tag in k[1]}
    assert mine == expected_keys, (len(mine), len(expected_keys), sorted(expected_keys - mine)[:5])

    # -- the end state in AWS matches the tasks ----------------------------------------------------------------
    deleted = {id(r) for r in plan.deleted}
    zeus, apollo = agent.session(ZEUS), agent.session(APOLLO)
    lam = zeus.client("lambda")
    functions = {f["FunctionName"] for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]}
    ec2_states = {}
    for page in (
        apollo.client("ec2")
        .get_paginator("describe_instances")
        .paginate(Filters=[{"Name": "tag:Name", "Values": [f"rel-ld-{plan.tag}-*"]}])
    ):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                ec2_states[instance["InstanceId"]] = instance["State"]["Name"]
    mismatched = []
    for res in plan.resources:
        gone = id(res) in deleted
        if res.kind == "s3":
            exists = _s3_exists(zeus, res.name)
        elif res.kind == "lambda":
            exists = res.name in functions
        else:
            exists = ec2_states.get(str(res.instance_id)) not in (None, "terminated", "shutting-down")
        if exists == gone:
            mismatched.append((res.kind, res.name, "exists" if exists else "missing"))
    assert not mismatched, mismatched[:10]
    assert len(ec2_states) == sum(1 for r in plan.resources if r.kind == "ec2"), "an EC2 create ran twice"
    s3 = zeus.client("s3")
    for res in [r for r in plan.updated if r.kind == "s3"][:20]:
        assert s3.get_bucket_versioning(Bucket=res.name).get("Status") == "Enabled", res.name
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=res.name)["TagSet"]}
        assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == res.create_task and tags["Load"] == "updated"

    # -- the DLQ received nothing --------------------------------------------------------------------------------
    dlq_after = dlq_depth(agent)
    assert dlq_after == dlq_before == 0

    by_status = statuses(records)
    kinds = Counter(plan.kinds.values())
    record(
        "load",
        {
            "task events in (unique)": len(task_ids),
            "mix": {k: kinds[k] for k in sorted(kinds)},
            "deliveries (incl. duplicates)": delivered,
            "delivered twice": f"{n_dup} ({n_dup / len(task_ids):.0%}; {sum(len(s) for s in same)} in the same burst,"
            f" {sum(len(s) for s in late)} after the task ended)",
            "out of order": f"{plan.out_of_order} ({plan.out_of_order / len(task_ids):.0%})",
            "tasks recorded": len(records),
            "terminal states": dict(sorted(by_status.items())),
            "tasks not terminal / lost": len(task_ids) - sum(by_status[s] for s in ("Completed", "Failed")),
            "executions started": counts["started"],
            "duplicates prevented (intake)": counts["duplicates"],
            "resources created / expected": f"{len(mine)} / {len(expected_keys)}",
            "resources created twice": sum(1 for v in created.values() if v > 1),
            "result events per task": "exactly 1 for all" if per_task == Counter({1: len(task_ids)}) else str(per_task),
            "DLQ messages": dlq_after,
            "wall time (s)": round(elapsed, 1),
            "throughput (tasks/s)": round(len(task_ids) / elapsed, 2),
            "phases (s)": ", ".join(f"{s:.0f}" for s in phase_seconds),
            "running tasks at most (the event source's maximum concurrency)": MAX_IN_FLIGHT,
            "assumed-role credentials cached at most (bounded LRU, no per-task session)": sessions.most,
        },
    )


class _Sessions:
    """The in-process runtime's assumed-role credentials: the SessionFactory keeps them in a bounded LRU (every client
    is built from one boto3 session, so no per-task botocore loader); sampled every 15 s to show the bound holds."""

    def __init__(self) -> None:
        self.most = 0

    def sample(self) -> None:
        from aws_agent.pipeline.runtime import runtime

        self.most = max(self.most, len(runtime().sessions._cache))


def _records_with_prefix(agent: Any, prefix: str) -> set[str]:
    ddb = boto3.client("dynamodb")
    pages = ddb.get_paginator("scan").paginate(
        TableName=agent.outputs["TasksTableName"],
        FilterExpression="begins_with(task_id, :p)",
        ExpressionAttributeValues={":p": {"S": prefix}},
        ProjectionExpression="task_id",
    )
    return {i["task_id"]["S"] for page in pages for i in page.get("Items", [])}
