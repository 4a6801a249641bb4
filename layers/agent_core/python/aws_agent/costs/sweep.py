"""One target (scan, decide, act) and the whole fleet (targets concurrently, one CostReport)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from ..aws import SessionFactory, Target, error_code
from ..errors import AgentError
from ..model import CostError, CostFinding, CostReport
from . import checks
from .checks import BucketDirectory, Inventory, Where
from .clients import Clients
from .metrics import get_metric_data, window
from .options import SweepOptions
from .policy import decide

STOP_BATCH = 50  # instance ids per StopInstances call
ZERO = Decimal("0")
Progress = Callable[[Target], None]


class TargetResult(BaseModel):
    """What one account x region gave: actions taken, recommendations, opt-outs, errors, API calls, fleet cost."""

    model_config = ConfigDict(extra="forbid")

    account_id: str | None
    region: str
    acted: list[CostFinding] = Field(default_factory=list)
    findings: list[CostFinding] = Field(default_factory=list)  # recommendations (not acted on)
    skipped: int = 0
    errors: list[CostError] = Field(default_factory=list)
    requests: dict[str, int] = Field(default_factory=dict)
    instances: int = 0  # running instances scanned (the base of the percent cap)
    fleet_monthly_cost: Decimal = ZERO
    seconds: float = 0.0
    failed: bool = False  # the target could not be swept at all (e.g. AssumeRole refused)


@dataclass
class TargetScan:
    """A scanned target before the policy: its findings and what they were measured against."""

    target: Target
    account_id: str | None = None
    findings: list[CostFinding] = field(default_factory=list)
    instances: int = 0
    skipped: int = 0
    fleet_monthly_cost: Decimal = ZERO
    errors: list[CostError] = field(default_factory=list)
    seconds: float = 0.0
    failed: bool = False


class _Step:
    """Runs one AWS step of a target, turning its failure into a CostError so the other steps still run."""

    def __init__(self, target: Target, errors: list[CostError]) -> None:
        self.target = target
        self.errors = errors

    def __call__(self, what: str, fn: Callable[[], Any], default: Any) -> Any:
        try:
            return fn()
        except (ClientError, BotoCoreError, AgentError) as exc:
            self.errors.append(cost_error(self.target, exc, what))
            return default


def cost_error(target: Target, exc: BaseException, what: str) -> CostError:
    """A failure of one step of a target as a report entry (AWS error code where there is one)."""
    if isinstance(exc, ClientError):
        code, message = error_code(exc), str(exc.response.get("Error", {}).get("Message", exc))
    elif isinstance(exc, AgentError):
        code, message = exc.code, exc.message
    else:
        code, message = type(exc).__name__, str(exc)
    return CostError(account_id=target.account_id, region=target.region, code=code, message=f"{what}: {message}")


def scan_target(clients: Clients, target: Target, options: SweepOptions, buckets: BucketDirectory) -> TargetScan:
    """List the target's resources, read all their metrics in batched GetMetricData calls, run the checks."""
    started = time.monotonic()
    scan = TargetScan(target)
    step = _Step(target, scan.errors)
    scan.account_id = step("account", lambda: clients.account_id(target), None)
    ec2 = step("ec2 client", lambda: clients.client("ec2", target), None) if scan.account_id else None
    if scan.account_id is None or ec2 is None:  # AssumeRole refused: nothing else can work
        scan.failed = True
        scan.seconds = time.monotonic() - started
        return scan
    inventory = _inventory(clients, target, options, buckets, step, ec2)
    queries = checks.metric_queries(inventory, options)
    values: dict[str, list[float]] | None = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cost-tags") as pool:
        # Bucket tags (opt-outs) come from one tagging-API query, read while the metrics are.
        names = [b.name for b in inventory.buckets]
        tagged = pool.submit(step, "GetResources", lambda: checks.opted_out_buckets(clients, target, names), None)
        if queries:
            cloudwatch = clients.client("cloudwatch", target)
            start, end = window(options.days)
            values = step("GetMetricData", lambda: get_metric_data(cloudwatch, queries, start, end), None)
        opted_out = tagged.result()
    if opted_out is None:  # cannot tell which buckets opted out: leave them all alone rather than ignore an opt-out
        inventory.buckets = []
    else:
        inventory.skipped += len(opted_out)
        inventory.buckets = [b for b in inventory.buckets if b.name not in opted_out]
    where = Where(scan.account_id, target.region)
    if values is not None:  # without metrics every bucket would look empty: no metric-based findings at all
        scan.findings += _metric_findings(options, inventory, values, where)
    if "ebs-unattached" in options.checks:
        scan.findings += checks.idle_volumes(where, inventory.volumes)
    if "eip-idle" in options.checks:
        scan.findings += checks.idle_addresses(where, inventory.addresses)
    scan.instances = len(inventory.instances)
    scan.skipped = inventory.skipped
    scan.fleet_monthly_cost = checks.fleet_monthly_cost(inventory, values or {})
    scan.seconds = time.monotonic() - started
    return scan


def _inventory(
    clients: Clients, target: Target, options: SweepOptions, buckets: BucketDirectory, step: _Step, ec2: Any
) -> Inventory:
    """The listings of the enabled checks, run at once (they are independent; boto3 clients are thread-safe).

    DescribeInstances goes out first: it is the longest of them (and GetMetricData waits for it), so the other
    listings, and the clients they need, start only once its request is on the wire.
    """
    enabled = options.checks
    listings: dict[str, Callable[[], Any]] = {}
    if "rds-rightsize" in enabled:
        listings["DescribeDBInstances"] = lambda: checks.available_databases(clients.client("rds", target))
    if enabled & {"s3-unused", "s3-intelligent-tiering"}:
        listings["ListBuckets"] = lambda: buckets.in_region(clients, target)
    if "ebs-unattached" in enabled:
        listings["DescribeVolumes"] = lambda: checks.unattached_volumes(ec2)
    if "eip-idle" in enabled:
        listings["DescribeAddresses"] = lambda: checks.elastic_addresses(ec2)
    futures = {}
    with ThreadPoolExecutor(max_workers=len(listings) + 1, thread_name_prefix="cost-list") as pool:
        if "ec2-idle" in enabled:
            sent = threading.Event()

            def describe() -> list[checks.Instance]:
                try:
                    return checks.running_instances(ec2, on_send=sent.set)
                finally:
                    sent.set()

            futures["DescribeInstances"] = pool.submit(step, "DescribeInstances", describe, [])
            sent.wait(timeout=10)
        for name, fn in listings.items():
            futures[name] = pool.submit(step, name, fn, [])
        listed = {name: future.result() for name, future in futures.items()}
    inventory = Inventory()
    inventory.instances = inventory.keep(listed.get("DescribeInstances", []))
    inventory.databases = inventory.keep(listed.get("DescribeDBInstances", []))
    inventory.buckets = listed.get("ListBuckets", [])  # their tags come from the tagging API (scan_target)
    inventory.volumes = inventory.keep(listed.get("DescribeVolumes", []))
    inventory.addresses = inventory.keep(listed.get("DescribeAddresses", []))
    return inventory


def _metric_findings(
    options: SweepOptions, inventory: Inventory, values: dict[str, list[float]], where: Where
) -> list[CostFinding]:
    """The findings that rest on metrics: idle EC2, oversized RDS, unused buckets, Intelligent-Tiering."""
    enabled = options.checks
    findings: list[CostFinding] = []
    if "ec2-idle" in enabled:
        findings += checks.idle_instances(where, inventory.instances, values, options)
    if "rds-rightsize" in enabled:
        findings += checks.oversized_databases(where, inventory.databases, values, options)
    if "s3-unused" in enabled:
        findings += checks.unused_buckets(where, inventory.buckets, values, options)
    if "s3-intelligent-tiering" in enabled:
        findings += checks.intelligent_tiering(where, inventory.buckets, values, options)
    return findings


def stop_instances(
    clients: Clients, target: Target, findings: Sequence[CostFinding]
) -> tuple[list[CostFinding], list[CostFinding], list[CostError]]:
    """StopInstances for all the target's findings, 50 ids a call (one by one only to isolate a failed batch).

    Returns (stopped, not stopped, errors); each finding's decision says what happened.
    """
    done: list[CostFinding] = []
    failed: list[CostFinding] = []
    errors: list[CostError] = []
    if not findings:
        return done, failed, errors
    ec2 = clients.client("ec2", target)
    by_id = {f.resource_id: f for f in findings}
    ids = list(by_id)
    for start in range(0, len(ids), STOP_BATCH):
        batch = ids[start : start + STOP_BATCH]
        try:
            stopping = _stop(ec2, batch)
        except ClientError as exc:
            stopping = set()
            if len(batch) == 1:
                errors.append(cost_error(target, exc, f"StopInstances {batch[0]}"))
                by_id[batch[0]].decision = f"stop failed: {error_code(exc)}"
            else:  # one bad id (e.g. terminated meanwhile) fails the whole call: isolate it
                for instance_id in batch:
                    try:
                        stopping |= _stop(ec2, [instance_id])
                    except ClientError as single:
                        errors.append(cost_error(target, single, f"StopInstances {instance_id}"))
                        by_id[instance_id].decision = f"stop failed: {error_code(single)}"
        for instance_id in batch:
            finding = by_id[instance_id]
            if instance_id in stopping:
                finding.decision = "stopped"
                done.append(finding)
            else:
                finding.decision = finding.decision or "stop not confirmed by StopInstances"
                failed.append(finding)
    return done, failed, errors


def _stop(ec2: Any, instance_ids: list[str]) -> set[str]:
    response = ec2.stop_instances(InstanceIds=instance_ids)
    return {item["InstanceId"] for item in response.get("StoppingInstances", [])}


def optimize_target(
    sessions: SessionFactory,
    target: Target,
    options: SweepOptions,
    *,
    clients: Clients | None = None,
    buckets: BucketDirectory | None = None,
) -> TargetResult:
    """Scan one account x region, apply the policy (caps counted within this target only) and act on it."""
    clients = clients or Clients(sessions)
    scan = scan_target(clients, target, options, buckets or BucketDirectory())
    plan = decide(scan.findings, {scan.account_id or "": scan.instances}, options)
    return _finish(clients, scan, plan.act, plan.recommend)


def _finish(
    clients: Clients, scan: TargetScan, to_act: list[CostFinding], recommend: list[CostFinding]
) -> TargetResult:
    started = time.monotonic()
    done, failed, errors = stop_instances(clients, scan.target, [f for f in to_act if f.action == "stop"])
    leftover = [f for f in to_act if f.action != "stop"]  # the policy only lets automated actions through
    for finding in leftover:
        finding.decision = f"not automated: {finding.action}"
    return TargetResult(
        account_id=scan.account_id or scan.target.account_id,
        region=scan.target.region,
        acted=done,
        findings=[*recommend, *failed, *leftover],
        skipped=scan.skipped,
        errors=[*scan.errors, *errors],
        requests=clients.requests(scan.target),
        instances=scan.instances,
        fleet_monthly_cost=scan.fleet_monthly_cost,
        seconds=round(scan.seconds + time.monotonic() - started, 3),
        failed=scan.failed,
    )


def run_sweep(
    targets: Sequence[Target], options: SweepOptions, sessions: SessionFactory, progress: Progress | None = None
) -> CostReport:
    """Every target concurrently (at most options.concurrency threads): scan all, decide per account (caps span an
    account's regions), act per target. A failing target is recorded in `errors`; the others go on."""
    results = sweep_targets(targets, options, sessions, progress)
    return build_report(results, options, len(targets))


def sweep_targets(
    targets: Sequence[Target], options: SweepOptions, sessions: SessionFactory, progress: Progress | None = None
) -> list[TargetResult]:
    """run_sweep's per-target results."""
    targets = list(dict.fromkeys(targets))
    clients = Clients(sessions)
    buckets = BucketDirectory()
    workers = max(1, min(options.concurrency, len(targets)))

    def scan_one(target: Target) -> TargetScan:
        try:
            return scan_target(clients, target, options, buckets)
        except Exception as exc:  # a bug or an unexpected answer in one target must not sink the sweep
            scan = TargetScan(target, failed=True)
            scan.errors.append(cost_error(target, exc, "scan"))
            return scan
        finally:
            if progress is not None:
                progress(target)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cost-sweep") as pool:
        scans = list(pool.map(scan_one, targets))
        instances: Counter[str] = Counter()
        for scan in scans:
            instances[scan.account_id or ""] += scan.instances
        plan = decide([f for scan in scans for f in scan.findings], instances, options)

        def key(account_id: str | None, region: str) -> tuple[str, str]:
            return account_id or "", region

        act: dict[tuple[str, str], list[CostFinding]] = {}
        recommend: dict[tuple[str, str], list[CostFinding]] = {}
        for finding in plan.act:
            act.setdefault(key(finding.account_id, finding.region), []).append(finding)
        for finding in plan.recommend:
            recommend.setdefault(key(finding.account_id, finding.region), []).append(finding)

        def finish_one(scan: TargetScan) -> TargetResult:
            k = key(scan.account_id, scan.target.region)
            return _finish(clients, scan, act.get(k, []), recommend.get(k, []))

        return list(pool.map(finish_one, scans))


def _requests(results: Sequence[TargetResult]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for result in results:
        total.update(result.requests)
    return dict(sorted(total.items()))


def build_report(results: Sequence[TargetResult], options: SweepOptions, targets: int) -> CostReport:
    """Fold target results into the CostReport (savings in USD per month, rounded to cents)."""

    def order(f: CostFinding) -> tuple[str, str, str, str]:
        return f.account_id, f.region, f.resource_type.value, f.resource_id

    optimizations = sorted((f for r in results for f in r.acted), key=order)
    recommendations = sorted((f for r in results for f in r.findings), key=order)
    total = sum((f.monthly_savings for f in optimizations), ZERO)
    potential = sum((f.monthly_savings for f in recommendations), ZERO)
    fleet = sum((r.fleet_monthly_cost for r in results), ZERO)
    percent = (total + potential) / fleet * 100 if fleet > 0 else ZERO
    return CostReport(
        total_savings=_cents(total),
        potential_savings=_cents(potential),
        fleet_monthly_cost=_cents(fleet),
        savings_percent=_cents(percent),
        optimizations=optimizations,
        recommendations=recommendations,
        dry_run=not options.apply,
        targets=targets,
        skipped=sum(r.skipped for r in results),
        errors=[e for r in results for e in r.errors],
        requests=_requests(results),
    )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
