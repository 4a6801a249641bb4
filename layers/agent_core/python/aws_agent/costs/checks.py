"""The checks of one target: what is listed (Describe*/List*), which metrics each needs, and the findings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ..aws import Target, error_code
from ..model import AwsResourceType, CostFinding
from ..pricing import (
    ebs_monthly_price,
    ebs_snapshot_monthly_price,
    ec2_monthly_price,
    eip_idle_monthly_price,
    price_catalog,
    rds_class_one_down,
    rds_monthly_price,
    s3_intelligent_tiering_saving,
    s3_standard_monthly_price,
)
from .clients import Clients
from .metrics import MetricQuery, ec2_cpu_max, maximum, rds_cpu_max, s3_objects_max, s3_size_max
from .options import SweepOptions
from .policy import OPT_OUT_TAG, is_managed, opted_out

ZERO = Decimal("0")
T = AwsResourceType


def tag_map(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's [{"Key": k, "Value": v}] as a dict."""
    return {str(t.get("Key")): str(t.get("Value", "")) for t in tags or ()}


@dataclass(frozen=True)
class Instance:
    id: str
    instance_type: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Database:
    id: str
    db_class: str
    multi_az: bool
    engine: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Bucket:
    name: str
    created: str | None = None


@dataclass(frozen=True)
class Volume:
    id: str
    volume_type: str
    size_gib: int
    tags: dict[str, str]


@dataclass(frozen=True)
class Address:
    id: str  # allocation id (EC2-Classic addresses have only a public IP)
    public_ip: str
    associated: bool
    tags: dict[str, str]


@dataclass
class Inventory:
    """What one target holds that the checks look at (opted-out resources already removed and counted)."""

    instances: list[Instance] = field(default_factory=list)
    databases: list[Database] = field(default_factory=list)
    buckets: list[Bucket] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    skipped: int = 0

    def keep(self, items: list[Any]) -> list[Any]:
        """Drop opted-out items (those with tags saying MiyabiOptimize=off), counting them as skipped."""
        kept = [item for item in items if not opted_out(getattr(item, "tags", {}))]
        self.skipped += len(items) - len(kept)
        return kept


# ----------------------------------------------------------------------------------------------- listing
def running_instances(ec2: Any, on_send: Callable[[], None] | None = None) -> list[Instance]:
    """Running EC2 instances (DescribeInstances paginator, 1,000 a page); `on_send` is called as the first request
    leaves (the caller starts its other listings then)."""
    handler_id = f"cost-sweep-sent-{id(on_send)}"
    if on_send is not None:
        ec2.meta.events.register("before-send.ec2.DescribeInstances", lambda **_: on_send(), unique_id=handler_id)
    try:
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}], PaginationConfig={"PageSize": 1000}
        )
        return [
            Instance(i["InstanceId"], i.get("InstanceType", ""), tag_map(i.get("Tags")))
            for page in pages
            for reservation in page.get("Reservations", [])
            for i in reservation.get("Instances", [])
        ]
    finally:
        if on_send is not None:
            ec2.meta.events.unregister("before-send.ec2.DescribeInstances", unique_id=handler_id)


def available_databases(rds: Any) -> list[Database]:
    """RDS DB instances that are billed for instance hours (status available)."""
    pages = rds.get_paginator("describe_db_instances").paginate(PaginationConfig={"PageSize": 100})
    return [
        Database(
            db["DBInstanceIdentifier"],
            db.get("DBInstanceClass", ""),
            bool(db.get("MultiAZ")),
            db.get("Engine", ""),
            tag_map(db.get("TagList")),
        )
        for page in pages
        for db in page.get("DBInstances", [])
        if db.get("DBInstanceStatus", "available") == "available"
    ]


def unattached_volumes(ec2: Any) -> list[Volume]:
    """EBS volumes attached to nothing (DescribeVolumes status=available)."""
    pages = ec2.get_paginator("describe_volumes").paginate(
        Filters=[{"Name": "status", "Values": ["available"]}], PaginationConfig={"PageSize": 500}
    )
    return [
        Volume(v["VolumeId"], v.get("VolumeType", "standard"), int(v.get("Size", 0)), tag_map(v.get("Tags")))
        for page in pages
        for v in page.get("Volumes", [])
    ]


def elastic_addresses(ec2: Any) -> list[Address]:
    """All Elastic IP addresses of the region (DescribeAddresses is not paginated)."""
    return [
        Address(
            a.get("AllocationId") or a.get("PublicIp", ""),
            a.get("PublicIp", ""),
            bool(a.get("AssociationId")),
            tag_map(a.get("Tags")),
        )
        for a in ec2.describe_addresses().get("Addresses", [])
    ]


class BucketDirectory:
    """Buckets by home region, from ListBuckets once per account (thread-safe; several regions share it).

    AWS's ListBuckets names each bucket's BucketRegion when the request has a parameter (MaxBuckets here). An
    endpoint that leaves it out (moto 5.2.5) gets one ListBuckets with the BucketRegion filter per region instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._account_locks: dict[str | None, threading.Lock] = {}
        self._by_account: dict[str | None, dict[str, list[Bucket]] | None] = {}

    def in_region(self, clients: Clients, target: Target) -> list[Bucket]:
        with self._lock:
            account_lock = self._account_locks.setdefault(target.account_id, threading.Lock())
        s3 = clients.client("s3", target)
        with account_lock:
            if target.account_id not in self._by_account:
                self._by_account[target.account_id] = self._group(_list_buckets(s3))
            by_region = self._by_account[target.account_id]
        if by_region is not None:
            return list(by_region.get(target.region, []))
        return [bucket for bucket, _ in _list_buckets(s3, target.region)]

    @staticmethod
    def _group(listing: list[tuple[Bucket, str | None]]) -> dict[str, list[Bucket]] | None:
        by_region: dict[str, list[Bucket]] = {}
        for bucket, region in listing:
            if region is None:
                return None
            by_region.setdefault(region, []).append(bucket)
        return by_region


def _list_buckets(s3: Any, region: str | None = None) -> list[tuple[Bucket, str | None]]:
    request: dict[str, Any] = {"MaxBuckets": 10000}
    if region:
        request["BucketRegion"] = region
    listing: list[tuple[Bucket, str | None]] = []
    while True:
        response = s3.list_buckets(**request)
        for b in response.get("Buckets", []):
            created = b.get("CreationDate")
            listing.append((Bucket(b["Name"], created.isoformat() if created else None), b.get("BucketRegion")))
        token = response.get("ContinuationToken")
        if not token:
            return listing
        request["ContinuationToken"] = token


def opted_out_buckets(clients: Clients, target: Target, names: Sequence[str]) -> set[str]:
    """Which of these buckets carry MiyabiOptimize=off: one tagging-API query (GetResources on the tag key) for
    all of them; per-bucket GetBucketTagging only if that API is refused. No buckets, no call."""
    wanted = set(names)
    if not wanted:
        return set()
    try:
        tagging = clients.client("resourcegroupstaggingapi", target)
        request: dict[str, Any] = {"ResourceTypeFilters": ["s3"], "TagFilters": [{"Key": OPT_OUT_TAG}]}
        found: set[str] = set()
        while True:
            response = tagging.get_resources(**request)
            for item in response.get("ResourceTagMappingList", []):
                name = str(item.get("ResourceARN", "")).rsplit(":", 1)[-1]
                if name in wanted and opted_out(tag_map(item.get("Tags"))):
                    found.add(name)
            token = response.get("PaginationToken")
            if not token:
                return found
            request["PaginationToken"] = token
    except ClientError:
        s3 = clients.client("s3", target)
        found = set()
        for name in sorted(wanted):
            try:
                tags = tag_map(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
            except ClientError as exc:
                if error_code(exc) != "NoSuchTagSet":
                    raise
                tags = {}
            if opted_out(tags):
                found.add(name)
        return found


# ----------------------------------------------------------------------------------------------- metrics
def metric_queries(inventory: Inventory, options: SweepOptions) -> list[MetricQuery]:
    """Every metric the checks need for this target, for one batched GetMetricData."""
    queries = [ec2_cpu_max(i.id, options.days) for i in inventory.instances]
    queries += [rds_cpu_max(db.id, options.days) for db in inventory.databases]
    for bucket in inventory.buckets:
        queries += [s3_objects_max(bucket.name), s3_size_max(bucket.name)]
    return queries


# ----------------------------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Where:
    """The target (account x region) the checks look at; every finding names it."""

    account_id: str
    region: str

    def finding(self, resource_id: str, resource_type: AwsResourceType, action: str, **detail: Any) -> CostFinding:
        """A finding about one of this target's resources; `detail`: the other CostFinding fields the check sets."""
        return CostFinding(
            resource_id=resource_id,
            resource_type=resource_type,
            account_id=self.account_id,
            region=self.region,
            action=action,
            **detail,
        )


def idle_instances(
    where: Where, instances: Sequence[Instance], values: Mapping[str, list[float]], options: SweepOptions
) -> list[CostFinding]:
    """Running instances whose CPUUtilization Maximum over the window is below the threshold -> stop.

    The Maximum, not the Average: one busy hour in two weeks means the instance is in use. No datapoints means
    unknown, not idle.
    """
    findings = []
    for instance in instances:
        cpu = maximum(values.get(f"ec2:{instance.id}", []))
        if cpu is None or cpu >= options.cpu_threshold:
            continue
        monthly, basis = ec2_monthly_price(instance.instance_type)
        findings.append(
            where.finding(
                instance.id,
                T.EC2_INSTANCE,
                "stop",
                monthly_savings=monthly or ZERO,
                monthly_cost=monthly,
                reason=(
                    f"idle: CPUUtilization maximum {cpu:.2f} % over {options.days} days < {options.cpu_threshold:g} %"
                ),
                note="EBS volumes stay billed while stopped; start it again to undo",
                managed=is_managed(instance.tags),
                evidence={"cpu_max": round(cpu, 3), "instance_type": instance.instance_type, "price": basis},
            )
        )
    return findings


def unused_buckets(
    where: Where, buckets: Sequence[Bucket], values: Mapping[str, list[float]], options: SweepOptions
) -> list[CostFinding]:
    """Buckets with NumberOfObjects maximum < 1 over the window (no datapoints counts as 0, as c7n's
    missing-value: 0) -> review-unused-bucket. Report only: deleting needs an emptiness check and approval."""
    findings = []
    for bucket in buckets:
        objects = maximum(values.get(f"s3objects:{bucket.name}", [])) or 0.0
        if objects >= 1:
            continue
        size = maximum(values.get(f"s3bytes:{bucket.name}", [])) or 0.0
        monthly = s3_standard_monthly_price(size)
        findings.append(
            where.finding(
                bucket.name,
                T.S3_BUCKET,
                "review-unused-bucket",
                monthly_savings=monthly,
                monthly_cost=monthly,
                reason=f"unused: no objects over {options.days} days (NumberOfObjects maximum {objects:g})",
                note="report only: confirm it is empty and unneeded, then delete with approval",
                evidence={"objects_max": objects, "size_bytes_max": size, "created": bucket.created},
            )
        )
    return findings


def intelligent_tiering(
    where: Where, buckets: Sequence[Bucket], values: Mapping[str, list[float]], options: SweepOptions
) -> list[CostFinding]:
    """Buckets big enough to matter whose average object is >= 128 KiB (smaller objects are never tiered and
    still cost the monitoring fee) -> enable-intelligent-tiering, when the estimate saves something."""
    min_object: Decimal = price_catalog()["s3_intelligent_tiering"]["min_object_bytes"]
    findings = []
    for bucket in buckets:
        objects = maximum(values.get(f"s3objects:{bucket.name}", [])) or 0.0
        size = maximum(values.get(f"s3bytes:{bucket.name}", [])) or 0.0
        if objects < 1 or size < options.it_min_bucket_bytes or size / objects < float(min_object):
            continue
        saving = s3_intelligent_tiering_saving(size, objects)
        if saving <= 0:
            continue
        findings.append(
            where.finding(
                bucket.name,
                T.S3_BUCKET,
                "enable-intelligent-tiering",
                monthly_savings=saving,
                monthly_cost=s3_standard_monthly_price(size),
                reason=(
                    f"{size / 1024**3:.2f} GiB in S3 Standard, average object {size / objects / 1024:.0f} KiB "
                    f">= {int(min_object) // 1024} KiB"
                ),
                note="estimate assumes half the bytes go 30 days unread; add a lifecycle rule to INTELLIGENT_TIERING",
                evidence={"objects_max": objects, "size_bytes_max": size},
            )
        )
    return findings


def oversized_databases(
    where: Where, databases: Sequence[Database], values: Mapping[str, list[float]], options: SweepOptions
) -> list[CostFinding]:
    """DB instances whose CPU maximum over the window is low -> rightsize one class down in the same family
    (db.m5.xlarge -> db.m5.large; the family's smallest class has nowhere to go). No datapoints: no finding."""
    findings = []
    for db in databases:
        cpu = maximum(values.get(f"rds:{db.id}", []))
        smaller = rds_class_one_down(db.db_class)
        if cpu is None or cpu >= options.rds_cpu_threshold or smaller is None:
            continue
        current = rds_monthly_price(db.db_class, db.multi_az)
        target = rds_monthly_price(smaller, db.multi_az)
        saving = max(ZERO, current - target) if current is not None and target is not None else ZERO
        findings.append(
            where.finding(
                db.id,
                T.RDS_INSTANCE,
                "rightsize",
                monthly_savings=saving,
                monthly_cost=current,
                target=smaller,
                reason=(
                    f"over-provisioned: CPUUtilization maximum {cpu:.2f} % over {options.days} days "
                    f"< {options.rds_cpu_threshold:g} %; {db.db_class} -> {smaller}"
                ),
                note="snapshot first, check FreeableMemory, then modify in the maintenance window",
                managed=is_managed(db.tags),
                evidence={"cpu_max": round(cpu, 3), "db_class": db.db_class, "multi_az": db.multi_az},
            )
        )
    return findings


def idle_volumes(where: Where, volumes: Sequence[Volume]) -> list[CostFinding]:
    """Unattached EBS volumes -> snapshot-and-delete-volume (saving: the volume minus a full snapshot)."""
    findings = []
    for volume in volumes:
        monthly = ebs_monthly_price(volume.volume_type, volume.size_gib)
        saving = max(ZERO, monthly - ebs_snapshot_monthly_price(volume.size_gib)) if monthly is not None else ZERO
        findings.append(
            where.finding(
                volume.id,
                T.EBS_VOLUME,
                "snapshot-and-delete-volume",
                monthly_savings=saving,
                monthly_cost=monthly,
                reason=f"unattached: {volume.size_gib} GiB {volume.volume_type} volume attached to nothing",
                note="snapshot first; deleting is destructive and needs approval",
                managed=is_managed(volume.tags),
                evidence={"size_gib": volume.size_gib, "volume_type": volume.volume_type},
            )
        )
    return findings


def idle_addresses(where: Where, addresses: Sequence[Address]) -> list[CostFinding]:
    """Elastic IPs associated with nothing -> release-address (an idle address is billed by the hour)."""
    monthly = eip_idle_monthly_price()
    return [
        where.finding(
            address.id,
            T.VPC_NETWORK,
            "release-address",
            aws_type="AWS::EC2::EIP",
            monthly_savings=monthly,
            monthly_cost=monthly,
            reason=f"unassociated Elastic IP {address.public_ip}",
            note="releasing gives the address up for good; check nothing (DNS, allow-lists) refers to it",
            managed=is_managed(address.tags),
            evidence={"public_ip": address.public_ip},
        )
        for address in addresses
        if not address.associated
    ]


def fleet_monthly_cost(inventory: Inventory, values: Mapping[str, list[float]]) -> Decimal:
    """Estimated monthly cost of what the sweep scanned: running instances, DB instance hours, S3 Standard bytes,
    unattached volumes and Elastic IPs (resources the catalog cannot price count as 0)."""
    total = ZERO
    for instance in inventory.instances:
        total += ec2_monthly_price(instance.instance_type)[0] or ZERO
    for db in inventory.databases:
        total += rds_monthly_price(db.db_class, db.multi_az) or ZERO
    for bucket in inventory.buckets:
        total += s3_standard_monthly_price(maximum(values.get(f"s3bytes:{bucket.name}", [])) or 0)
    for volume in inventory.volumes:
        total += ebs_monthly_price(volume.volume_type, volume.size_gib) or ZERO
    total += eip_idle_monthly_price() * len(inventory.addresses)
    return total
