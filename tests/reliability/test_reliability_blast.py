"""Blast radius: an account (Cerberus) holds resources the agent does not manage (no MiyabiManaged=true tag), some
with the same names as managed ones, some with look-alike tags. A chaos run of discoveries, a cost optimization that
acts, deletes and updates (of managed and of unmanaged resources), colliding creates and dry runs, under injected
throttling, must leave every unmanaged resource exactly as it was (full state compared before and after).

Then a heal storm: "CloudWatch Alarm State Change" events in ALARM for the agent's alarm names of every unmanaged
instance (as if a look-alike alarm had been made for it) and of the managed ones, through the deployed health
function: only managed instances may be rebooted.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from rel_faults import FaultPlan, aws_faults
from rel_figures import record
from rel_harness import Observer, Size, drive, run_tag, structured, submit_all

pytestmark = pytest.mark.e2e

CERBERUS = "333333333333"
REGION, OTHER_REGION = "us-east-1", "us-west-2"
# Tags that look like the agent's but do not make a resource managed (only MiyabiManaged=true, exactly, does).
LOOKALIKE_TAGS = [
    {},
    {"MiyabiManaged": "false"},
    {"MiyabiManaged": "TRUE"},
    {"miyabimanaged": "true"},
    {"MiyabiManaged": "true "},
    {"MiyabiAgent": "SteveJobs", "Owner": "someone-else"},
]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 'not the agent'\n")
    return buffer.getvalue()


def _tags_of(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


class Account:
    """The unmanaged resources of one account and their full state."""

    def __init__(self, agent: Any, tag: str, each: int, managed_task: str, managed_names: dict[str, list[str]]) -> None:
        self.session = agent.session(CERBERUS)
        self.tag = tag
        self.buckets: list[str] = []
        self.instances: list[str] = []
        self.functions: list[tuple[str, str]] = []  # (region, name)
        self._create(each, managed_task, managed_names)

    def _create(self, each: int, managed_task: str, managed_names: dict[str, list[str]]) -> None:
        s3 = self.session.client("s3", region_name=REGION)
        for i in range(each):
            name = f"rel-br-{self.tag}-u{i}"
            tags = LOOKALIKE_TAGS[i % len(LOOKALIKE_TAGS)]
            if tags == {"MiyabiManaged": "true "}:
                # moto's S3 (XML) trims tag values, which would make this bucket genuinely managed; S3 keeps them.
                tags = {"MiyabiManaged": "yes"}
            if i == 0:  # carries a managed task's id, yet is not managed
                tags = {**tags, "MiyabiTask": managed_task}
            s3.create_bucket(Bucket=name)
            if tags:
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags_of(tags)})
            if i % 2 == 0:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            s3.put_object(Bucket=name, Key="data/keep.txt", Body=b"owned by someone else")
            self.buckets.append(name)

        ec2 = self.session.client("ec2", region_name=REGION)
        for i in range(each):
            tags = {
                **LOOKALIKE_TAGS[(i + 1) % len(LOOKALIKE_TAGS)],
                "Name": managed_names["ec2"][i % len(managed_names["ec2"])],
            }  # the same Name as a managed instance
            instance = ec2.run_instances(
                ImageId="ami-12c6146b",
                InstanceType="m5.large",
                MinCount=1,
                MaxCount=1,
                TagSpecifications=[{"ResourceType": "instance", "Tags": _tags_of(tags)}],
            )["Instances"][0]
            self.instances.append(instance["InstanceId"])
        idle_cpu(self.session, self.instances)

        role = self.session.client("iam").get_role(RoleName="MiyabiLambdaExecutionRole")["Role"]["Arn"]
        for i in range(each):
            for region, name, tags in (
                (OTHER_REGION, managed_names["lambda"][i % len(managed_names["lambda"])], {}),  # same name
                (REGION, f"rel-br-{self.tag}-ufn{i}", LOOKALIKE_TAGS[(i + 2) % len(LOOKALIKE_TAGS)]),
            ):
                if (region, name) in self.functions:
                    continue
                self.session.client("lambda", region_name=region).create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=role,
                    Handler="index.handler",
                    Code={"ZipFile": _zip()},
                    MemorySize=192,
                    Timeout=7,
                    Tags=tags,
                    Environment={"Variables": {"OWNER": "someone-else"}},
                )
                self.functions.append((region, name))

    def snapshot(self) -> dict[str, Any]:
        """Everything observable about each unmanaged resource."""
        state: dict[str, Any] = {}
        s3 = self.session.client("s3", region_name=REGION)
        for name in self.buckets:
            state[f"s3:{name}"] = {
                "tags": _call(lambda n=name: s3.get_bucket_tagging(Bucket=n)["TagSet"]),
                "versioning": _call(lambda n=name: s3.get_bucket_versioning(Bucket=n).get("Status")),
                "encryption": _call(
                    lambda n=name: s3.get_bucket_encryption(Bucket=n)["ServerSideEncryptionConfiguration"]
                ),
                "public_access_block": _call(
                    lambda n=name: s3.get_public_access_block(Bucket=n)["PublicAccessBlockConfiguration"]
                ),
                "policy": _call(lambda n=name: s3.get_bucket_policy(Bucket=n)["Policy"]),
                "location": _call(lambda n=name: s3.get_bucket_location(Bucket=n).get("LocationConstraint")),
                "objects": _call(
                    lambda n=name: [
                        (v["Key"], v["VersionId"], v["ETag"], v["Size"])
                        for v in s3.list_object_versions(Bucket=n).get("Versions", [])
                    ]
                ),
            }
        ec2 = self.session.client("ec2", region_name=REGION)
        for reservation in ec2.describe_instances(InstanceIds=self.instances)["Reservations"]:
            for instance in reservation["Instances"]:
                instance = dict(instance)
                instance["Tags"] = sorted(instance.get("Tags", []), key=lambda t: t["Key"])
                state[f"ec2:{instance['InstanceId']}"] = instance
        for region, name in self.functions:
            lam = self.session.client("lambda", region_name=region)
            function = lam.get_function(FunctionName=name)
            state[f"lambda:{region}:{name}"] = {
                "configuration": function["Configuration"],
                "tags": function.get("Tags", {}),
                "versions": [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]],
            }
        return json.loads(json.dumps(state, default=str, sort_keys=True))


def _call(fetch: Any) -> Any:
    try:
        return fetch()
    except Exception as exc:  # "no such configuration" is part of the state too
        return {"error": type(exc).__name__, "code": getattr(exc, "response", {}).get("Error", {}).get("Code")}


def idle_cpu(session: boto3.Session, instance_ids: list[str]) -> None:
    now = datetime.now(UTC)
    cloudwatch = session.client("cloudwatch", region_name=REGION)
    for instance_id in instance_ids:
        cloudwatch.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                    "Timestamp": now - timedelta(hours=hour + 1),
                    "Value": value,
                    "Unit": "Percent",
                }
                for hour, value in enumerate([1.0, 0.5, 2.0, 1.5])
            ],
        )


def _lookalike(state: dict[str, Any]) -> bool:
    """Whether a snapshot carries a tag that looks like the agent's (any key starting with "miyabi")."""
    tags = state.get("tags") or state.get("Tags") or []
    keys = tags.keys() if isinstance(tags, dict) else [t.get("Key", "") for t in tags if isinstance(t, dict)]
    return any(str(k).lower().startswith("miyabi") for k in keys)


def _heal_storm(agent: Any, unmanaged: list[str], managed: list[str]) -> dict[str, int]:
    """ALARM on the agent's StatusCheckFailed alarm name of every instance, managed or not, through the deployed health
    function; the instances moto was asked to reboot are recorded."""
    from moto.ec2.models.instances import InstanceBackend

    rebooted: list[str] = []
    original = InstanceBackend.reboot_instances

    def reboot_instances(self: Any, instance_ids: list[str]) -> Any:
        rebooted.extend(instance_ids)
        return original(self, instance_ids)

    health = next(name for name, step in agent.stack.functions.items() if step == "health")
    lam = agent.session().client("lambda")
    results = []
    InstanceBackend.reboot_instances = reboot_instances  # type: ignore[method-assign]
    try:
        for instance in unmanaged + managed:
            event = {
                "version": "0", "id": f"blast-{instance}", "detail-type": "CloudWatch Alarm State Change",
                "source": "aws.cloudwatch", "account": CERBERUS, "time": "2026-01-01T10:00:00Z", "region": REGION,
                "resources": [],
                "detail": {
                    "alarmName": f"miyabi/{CERBERUS}/Ec2Instance/{instance}/StatusCheckFailed",
                    "state": {"value": "ALARM", "reason": "chaos", "timestamp": "2026-01-01T10:00:00.000+0000"},
                    "previousState": {"value": "OK", "reason": "", "timestamp": "2026-01-01T09:00:00.000+0000"},
                    "configuration": {"metrics": []},
                },
            }  # fmt: skip
            response = lam.invoke(FunctionName=health, Payload=json.dumps(event))
            results.append((instance, json.loads(response["Payload"].read())))
    finally:
        InstanceBackend.reboot_instances = original  # type: ignore[method-assign]
    healed = [i for i, r in results if i in managed and (r.get("heal") or {}).get("healed")]
    return {
        "unmanaged events": len(unmanaged),
        "managed events": len(managed),
        "unmanaged rebooted": sum(1 for i in rebooted if i in unmanaged),
        "managed healed": len(healed),
        "managed escalated": sum(1 for i, r in results if i in managed and (r.get("heal") or {}).get("escalated")),
    }


def test_chaos_run_leaves_unmanaged_resources_untouched(local_agent: Any, observer: Observer, sz: Size) -> None:
    agent = local_agent
    tag = run_tag()
    each = sz.chaos_each
    p = f"rel-br-{tag}"

    # -- the agent's own resources in Cerberus --------------------------------------------------------------------
    managed = {
        "s3": [f"{p}-m{i}" for i in range(each)],
        "ec2": [f"{p}-web{i}" for i in range(each)],
        "lambda": [f"{p}-fn{i}" for i in range(each)],
    }
    creates = []
    for kind, names in managed.items():
        for name in names:
            rtype, key = {
                "s3": ("S3Bucket", "bucket_name"),
                "ec2": ("Ec2Instance", "name"),
                "lambda": ("LambdaFunction", "function_name"),
            }[kind]
            creates.append(
                structured(f"{name}-create", "CreateResource", rtype, account_id=CERBERUS, parameters={key: name})
            )
    submit_all(agent, creates)
    created = drive(agent, [c["task_id"] for c in creates], timeout=300)
    assert all(r["status"] == "Completed" for r in created.values()), created
    managed_instances = [created[f"{n}-create"]["resource_id"] for n in managed["ec2"]]
    idle_cpu(agent.session(CERBERUS), managed_instances)

    # -- resources the agent does not manage, some with the same names ----------------------------------------------
    account = Account(agent, tag, each, f"{managed['s3'][0]}-create", managed)
    before = account.snapshot()
    unmanaged_count = len(before)

    # -- the chaos run ---------------------------------------------------------------------------------------------
    tasks: list[dict[str, Any]] = []
    expect: dict[str, tuple[str, str | None]] = {}

    def add(detail: dict[str, Any], status: str, code: str | None = None) -> None:
        tasks.append(detail)
        expect[detail["task_id"]] = (status, code)

    for rtype, region in (
        ("S3Bucket", REGION),
        ("Ec2Instance", REGION),
        ("LambdaFunction", REGION),
        ("LambdaFunction", OTHER_REGION),
    ):
        add(
            structured(
                f"{p}-discover-{rtype}-{region}", "DiscoverResources", rtype, account_id=CERBERUS, region=region
            ),
            "Completed",
        )
    add(
        structured(
            f"{p}-optimize",
            "OptimizeCosts",
            None,
            account_id=CERBERUS,
            parameters={"apply": True, "targets": [{"account_id": CERBERUS, "region": REGION}]},
        ),
        "Completed",
    )
    # managed: deleted / updated as asked
    add(
        structured(
            f"{p}-del-m0",
            "DeleteResource",
            "S3Bucket",
            account_id=CERBERUS,
            parameters={"bucket_name": managed["s3"][0]},
        ),
        "Completed",
    )
    add(
        structured(
            f"{p}-del-fn0",
            "DeleteResource",
            "LambdaFunction",
            account_id=CERBERUS,
            parameters={"function_name": managed["lambda"][0]},
        ),
        "Completed",
    )
    add(
        structured(
            f"{p}-del-web0",
            "DeleteResource",
            "Ec2Instance",
            account_id=CERBERUS,
            parameters={"instance_id": managed_instances[0]},
        ),
        "Completed",
    )
    # unmanaged: every delete, update and dry run refused; creates under their names refused
    for i, name in enumerate(account.buckets):
        add(
            structured(
                f"{p}-del-u{i}", "DeleteResource", "S3Bucket", account_id=CERBERUS, parameters={"bucket_name": name}
            ),
            "Failed",
            "ResourceNotManaged",
        )
        add(
            structured(
                f"{p}-upd-u{i}",
                "UpdateResource",
                "S3Bucket",
                account_id=CERBERUS,
                parameters={"bucket_name": name, "versioning": False, "tags": {"Hijacked": "yes"}},
            ),
            "Failed",
            "ResourceNotManaged",
        )
        add(
            structured(
                f"{p}-new-u{i}", "CreateResource", "S3Bucket", account_id=CERBERUS, parameters={"bucket_name": name}
            ),
            "Failed",
            "ResourceConflict",
        )
    for i, instance_id in enumerate(account.instances):
        add(
            structured(
                f"{p}-del-i{i}",
                "DeleteResource",
                "Ec2Instance",
                account_id=CERBERUS,
                parameters={"instance_id": instance_id},
            ),
            "Failed",
            "ResourceNotManaged",
        )
        add(
            structured(
                f"{p}-stop-i{i}",
                "UpdateResource",
                "Ec2Instance",
                account_id=CERBERUS,
                parameters={"instance_id": instance_id, "action": "stop"},
            ),
            "Failed",
            "ResourceNotManaged",
        )
        dry = structured(
            f"{p}-dry-i{i}",
            "DeleteResource",
            "Ec2Instance",
            account_id=CERBERUS,
            parameters={"instance_id": instance_id},
        )
        add({**dry, "dry_run": True}, "Failed", "ResourceNotManaged")
    for i, (region, name) in enumerate(account.functions):
        add(
            structured(
                f"{p}-del-f{i}",
                "DeleteResource",
                "LambdaFunction",
                account_id=CERBERUS,
                region=region,
                parameters={"function_name": name},
            ),
            "Failed",
            "ResourceNotManaged",
        )
        add(
            structured(
                f"{p}-upd-f{i}",
                "UpdateResource",
                "LambdaFunction",
                account_id=CERBERUS,
                region=region,
                parameters={"function_name": name, "memory_size": 1024},
            ),
            "Failed",
            "ResourceNotManaged",
        )
        add(
            structured(
                f"{p}-new-f{i}",
                "CreateResource",
                "LambdaFunction",
                account_id=CERBERUS,
                region=region,
                parameters={"function_name": name},
            ),
            "Failed",
            "ResourceConflict",
        )

    submit_all(agent, tasks)
    plan = FaultPlan(rate=sz.fault_rate / 2, seed=83)
    with aws_faults(plan):
        records = drive(agent, list(expect), timeout=600)

    wrong = {
        t: (r["status"], r.get("error_code"), r.get("error_message", "")[:200])
        for t, r in records.items()
        if (r["status"], r.get("error_code") if expect[t][1] else None) != expect[t]
    }
    assert not wrong, wrong
    heal = _heal_storm(agent, account.instances, managed_instances)
    assert heal["unmanaged rebooted"] == 0, heal
    after = account.snapshot()
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert not changed, {k: (before[k], after.get(k)) for k in changed[:3]}

    # -- nothing unmanaged in the registry; the optimizer acted only on managed instances --------------------------
    from aws_agent.pipeline.runtime import runtime

    registered = {r["resource_key"] for r in runtime().resources.by_account(CERBERUS)}
    unmanaged_keys = (
        {f"{CERBERUS}#{REGION}#S3Bucket#{b}" for b in account.buckets}
        | {f"{CERBERUS}#{REGION}#Ec2Instance#{i}" for i in account.instances}
        | {f"{CERBERUS}#{region}#LambdaFunction#{n}" for region, n in account.functions}
    )
    assert not registered & unmanaged_keys, sorted(registered & unmanaged_keys)
    report = records[f"{p}-optimize"]["result"]["report"]
    ec2 = agent.session(CERBERUS).client("ec2", region_name=REGION)
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=managed_instances[1:] + account.instances)["Reservations"]
        for i in r["Instances"]
    }
    stopped_managed = sum(1 for i in managed_instances[1:] if states[i] in ("stopping", "stopped"))
    assert all(states[i] == "running" for i in account.instances)
    discovered = {t: records[t]["result"] for t in records if "-discover-" in t}
    unmanaged_seen = sum(int(r.get("unmanaged", 0)) for r in discovered.values())
    assert unmanaged_seen >= len(account.buckets) + len(account.instances) + len(account.functions)
    events = observer.by_task(list(expect))
    assert Counter(len(v) for v in events.values()) == Counter({1: len(expect)})

    refused = Counter(r.get("error_code") for t, r in records.items() if expect[t][0] == "Failed")
    record(
        "blast",
        {
            "unmanaged resources (S3 / EC2 / Lambda)": f"{unmanaged_count} ({len(account.buckets)} / "
            f"{len(account.instances)} / {len(account.functions)})",
            "… with the same name as a managed one": len(account.instances)
            + sum(1 for region, _ in account.functions if region == OTHER_REGION),
            "… with look-alike tags (MiyabiManaged=false/TRUE/'true ', miyabimanaged, MiyabiTask, MiyabiAgent)": sum(
                1 for state in before.values() if _lookalike(state)
            ),
            "chaos tasks (discover, optimize --apply, delete, update, create, dry run)": len(expect),
            "throttling injected during the chaos run": plan.total,
            "operations on unmanaged refused": dict(sorted(refused.items())),
            "unmanaged seen by discovery / registered": f"{unmanaged_seen} / 0",
            "optimizer: managed idle instances stopped / unmanaged stopped": f"{stopped_managed} / 0 "
            f"(optimizations {report.get('optimizations')})",
            "unmanaged resources untouched (full state compared)": f"{unmanaged_count - len(changed)} of "
            f"{unmanaged_count}",
            "heal: alarm events for unmanaged / managed instances": f"{heal['unmanaged events']} / "
            f"{heal['managed events']}",
            "heal: unmanaged rebooted / managed rebooted / managed escalated (stopped by the optimizer)": (
                f"{heal['unmanaged rebooted']} / {heal['managed healed']} / {heal['managed escalated']}"
            ),
        },
    )
