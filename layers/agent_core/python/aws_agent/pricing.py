"""Offline daily-cost estimates for service agents, from a small price catalog shipped with the package.

The catalog (data/prices.json) holds us-east-1 on-demand list prices in USD; its `_source` field says where they
come from. Estimates feed ServiceAgent.cost_per_day and cost reports: good enough to rank and compare, not a bill
(no free tier, no Savings Plans, no data transfer, no regional differences).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from .model import AwsResourceType

FOUR_PLACES = Decimal("0.0001")
HOURS_PER_DAY = Decimal(24)
DAYS_PER_MONTH = Decimal(30)
BYTES_PER_GB = Decimal(1024**3)
MB_PER_GB = Decimal(1024)
MILLION = Decimal(1_000_000)

# Defaults for a Lambda function whose traffic is unknown (metadata may override each).
DEFAULT_INVOCATIONS_PER_DAY = Decimal(10_000)
DEFAULT_DURATION_SECONDS = Decimal("0.1")
DEFAULT_MEMORY_MB = Decimal(128)

# EC2 states that are billed for compute; stopped/terminated instances cost nothing (their EBS volumes aside).
BILLED_EC2_STATES = frozenset({"pending", "running"})
_XLARGE = re.compile(r"^(\d+)xlarge$")


@dataclass(frozen=True)
class CostEstimate:
    """A daily cost, whether a catalog price backed it, and how it was computed (for reports and logs)."""

    daily: Decimal
    priced: bool
    basis: str


@cache
def price_catalog() -> dict[str, Any]:
    """The price catalog, read once per process (numbers as Decimal)."""
    text = resources.files("aws_agent").joinpath("data/prices.json").read_text(encoding="utf-8")
    catalog: dict[str, Any] = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    return catalog


def estimate_daily_cost(resource_type: AwsResourceType | str, metadata: dict[str, Any] | None = None) -> Decimal:
    """Estimated USD per day of one resource, to 4 decimal places (0 for types the catalog does not price)."""
    return estimate(resource_type, metadata).daily


def estimate(resource_type: AwsResourceType | str, metadata: dict[str, Any] | None = None) -> CostEstimate:
    """Like estimate_daily_cost, with whether the figure is backed by a price and how it was derived."""
    metadata = metadata or {}
    try:
        kind = AwsResourceType(resource_type)
    except ValueError:
        return CostEstimate(Decimal("0.0000"), False, f"unknown resource type {resource_type!r}")
    if kind is AwsResourceType.EC2_INSTANCE:
        return _ec2(metadata)
    if kind is AwsResourceType.S3_BUCKET:
        return _s3(metadata)
    if kind is AwsResourceType.LAMBDA_FUNCTION:
        return _lambda(metadata)
    if kind is AwsResourceType.ECS_SERVICE:
        return _fargate(metadata)
    if kind is AwsResourceType.ROUTE53_HOSTED_ZONE:
        monthly: Decimal = price_catalog()["route53_hosted_zone_month"]
        return CostEstimate(_round(monthly / DAYS_PER_MONTH), True, "hosted zone monthly fee / 30 days (queries extra)")
    long_running = _LONG_RUNNING_MODELS.get(kind)
    if long_running is not None:
        return long_running(metadata)
    if kind in _NET_ESTIMATES:  # network, storage, scaling and monitoring types (issue 3)
        return _NET_ESTIMATES[kind](metadata)
    return CostEstimate(Decimal("0.0000"), False, f"no price model for {kind.value}")


def ec2_hourly_price(instance_type: str) -> tuple[Decimal | None, str]:
    """Hourly price of an instance type and how it was found.

    Fallback for a type missing from the catalog: when its family is priced (e.g. m5.12xlarge), scale a
    known size of that family by AWS's normalization factors (nano 0.25, micro 0.5, small 1, medium 2, large 4,
    xlarge 8, Nxlarge 8N) — exact for the linear families the catalog holds. An unknown family gives None (priced
    as 0, flagged unpriced) rather than a guess from an unrelated family.
    """
    catalog = price_catalog()
    prices: dict[str, Decimal] = catalog["ec2_hourly"]
    if instance_type in prices:
        return prices[instance_type], f"catalog price of {instance_type}"
    family, _, size = instance_type.partition(".")
    wanted = _size_units(size)
    if wanted is None:
        return None, f"no price for {instance_type} (size {size!r} has no normalization factor)"
    for known, price in sorted(prices.items()):
        known_family, _, known_size = known.partition(".")
        units = _size_units(known_size)
        if known_family == family and units:
            return price / units * wanted, f"scaled from {known} by normalization factors"
    return None, f"no price for instance family {family!r}"


def _size_units(size: str) -> Decimal | None:
    units: dict[str, Decimal] = price_catalog()["ec2_size_units"]
    if size in units:
        return units[size]
    match = _XLARGE.match(size)
    return units["xlarge"] * int(match.group(1)) if match else None


def _ec2(metadata: dict[str, Any]) -> CostEstimate:
    state = str(metadata.get("instance_state") or "running")  # no state: an instance about to be launched
    instance_type = str(metadata.get("instance_type") or "")
    if state not in BILLED_EC2_STATES:
        return CostEstimate(Decimal("0.0000"), True, f"instance is {state}: no compute charge")
    hourly, basis = ec2_hourly_price(instance_type)
    if hourly is None:
        return CostEstimate(Decimal("0.0000"), False, basis)
    return CostEstimate(_round(hourly * HOURS_PER_DAY), True, f"{basis} x 24 h")


def _s3(metadata: dict[str, Any]) -> CostEstimate:
    size_gb = _number(metadata, "size_bytes", Decimal(0)) / BYTES_PER_GB
    rate: Decimal = price_catalog()["s3_standard_gb_month"]
    return CostEstimate(_round(size_gb * rate / DAYS_PER_MONTH), True, f"{size_gb:.3f} GB x S3 Standard / 30 days")


def _lambda(metadata: dict[str, Any]) -> CostEstimate:
    catalog = price_catalog()["lambda"]
    invocations = _number(metadata, "expected_invocations_per_day", DEFAULT_INVOCATIONS_PER_DAY)
    duration = _number(metadata, "avg_duration_seconds", DEFAULT_DURATION_SECONDS)
    memory_gb = _number(metadata, "memory_size", DEFAULT_MEMORY_MB) / MB_PER_GB
    architecture = str(metadata.get("architecture") or "x86_64")
    gb_second: Decimal = catalog["gb_second"].get(architecture, catalog["gb_second"]["x86_64"])
    per_request: Decimal = catalog["requests_per_million"] / MILLION
    daily = invocations * (memory_gb * duration * gb_second + per_request)
    return CostEstimate(
        _round(daily), True, f"{invocations} invocations/day x ({memory_gb} GB x {duration} s, {architecture})"
    )


def _fargate(metadata: dict[str, Any]) -> CostEstimate:
    """Fargate (Linux, x86) vCPU and memory hours of the desired tasks; defaults: one 0.25 vCPU / 0.5 GB task."""
    rates = price_catalog()["fargate_hourly"]
    vcpu = _number(metadata, "cpu", Decimal(256)) / Decimal(1024)
    memory_gb = _number(metadata, "memory", Decimal(512)) / MB_PER_GB
    tasks = _number(metadata, "desired_count", Decimal(1))
    hourly = tasks * (vcpu * rates["vcpu"] + memory_gb * rates["gb"])
    return CostEstimate(
        _round(hourly * HOURS_PER_DAY), True, f"{tasks} Fargate tasks x ({vcpu} vCPU + {memory_gb} GB) x 24 h"
    )


def _rds(metadata: dict[str, Any]) -> CostEstimate:
    """A DB instance: its class's hours (Multi-AZ doubles them) plus allocated storage."""
    if metadata.get("db_instance_status") in ("stopped", "deleting"):
        return CostEstimate(Decimal("0.0000"), True, "instance is stopped or deleting: storage aside, no charge")
    hourly, basis = rds_hourly_price(str(metadata.get("db_instance_class") or ""), bool(metadata.get("multi_az")))
    if hourly is None:
        return CostEstimate(Decimal("0.0000"), False, basis)
    storage_gb = _number(metadata, "allocated_storage", Decimal(20))
    rate: Decimal = price_catalog()["rds_storage_gb_month"]
    daily = hourly * HOURS_PER_DAY + storage_gb * rate / DAYS_PER_MONTH
    return CostEstimate(_round(daily), True, f"{basis} x 24 h + {storage_gb} GB storage / 30 days")


def _aurora(metadata: dict[str, Any]) -> CostEstimate:
    """An Aurora cluster: its writer's hours (Aurora Standard); storage and I/O depend on use and are left out."""
    db_class = str(metadata.get("db_instance_class") or "")
    hourly: Decimal | None = price_catalog()["aurora_hourly"].get(db_class)
    if hourly is None:
        return CostEstimate(Decimal("0.0000"), False, f"no Aurora price for instance class {db_class!r}")
    return CostEstimate(_round(hourly * HOURS_PER_DAY), True, f"Aurora {db_class} writer x 24 h (storage, I/O extra)")


def _dynamodb(metadata: dict[str, Any]) -> CostEstimate:
    """A table: stored bytes, plus provisioned capacity; on-demand requests depend on traffic and are left out."""
    prices = price_catalog()["dynamodb"]
    size_gb = _number(metadata, "size_bytes", Decimal(0)) / BYTES_PER_GB
    daily = size_gb * prices["storage_gb_month"] / DAYS_PER_MONTH
    basis = f"{size_gb:.3f} GB stored / 30 days"
    if metadata.get("billing_mode") == "PROVISIONED":
        read = _number(metadata, "read_capacity", Decimal(0))
        write = _number(metadata, "write_capacity", Decimal(0))
        daily += (read * prices["rcu_hourly"] + write * prices["wcu_hourly"]) * HOURS_PER_DAY
        basis += f" + {read} RCU / {write} WCU x 24 h"
    else:
        basis += " (on-demand requests not estimated)"
    return CostEstimate(_round(daily), True, basis)


def _cloudformation(metadata: dict[str, Any]) -> CostEstimate:
    # The stack itself is free for AWS:: resource types; what it creates is priced as those resources.
    return CostEstimate(Decimal("0.0000"), True, "CloudFormation charges nothing for stacks of AWS resources")


_LONG_RUNNING_MODELS = {
    AwsResourceType.RDS_INSTANCE: _rds,
    AwsResourceType.AURORA_CLUSTER: _aurora,
    AwsResourceType.DYNAMODB_TABLE: _dynamodb,
    AwsResourceType.CLOUDFORMATION_STACK: _cloudformation,
}


def _number(metadata: dict[str, Any], key: str, default: Decimal) -> Decimal:
    """A non-negative number from metadata, or the default when absent or unusable."""
    value = metadata.get(key)
    if value is None or isinstance(value, bool):
        return default
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    return number if number.is_finite() and number >= 0 else default


def _round(value: Decimal) -> Decimal:
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


# --- monthly prices for cost sweeps (aws_agent.costs): 30 days x 24 h, like the daily estimates above ---
HOURS_PER_MONTH = HOURS_PER_DAY * DAYS_PER_MONTH


def ec2_monthly_price(instance_type: str) -> tuple[Decimal | None, str]:
    """Monthly on-demand price of a running instance type (None when the catalog cannot price it)."""
    hourly, basis = ec2_hourly_price(instance_type)
    return (None, basis) if hourly is None else (_round(hourly * HOURS_PER_MONTH), f"{basis} x 720 h")


def rds_hourly_price(db_class: str, multi_az: bool = False) -> tuple[Decimal | None, str]:
    """Hourly on-demand price of a DB instance class (Single-AZ MySQL list price; Multi-AZ doubles it)."""
    catalog = price_catalog()
    hourly: Decimal | None = catalog["rds_hourly"].get(db_class)
    if hourly is None:
        return None, f"no price for DB instance class {db_class!r}"
    if multi_az:
        return hourly * catalog["rds_multi_az_factor"], f"catalog price of {db_class} x Multi-AZ"
    return hourly, f"catalog price of {db_class}"


def rds_monthly_price(db_class: str, multi_az: bool = False) -> Decimal | None:
    """Monthly instance-hours price of a DB instance class (storage not included)."""
    hourly, _ = rds_hourly_price(db_class, multi_az)
    return None if hourly is None else _round(hourly * HOURS_PER_MONTH)


def rds_class_one_down(db_class: str) -> str | None:
    """The next smaller priced class of the same family (db.m5.xlarge -> db.m5.large); None at the family's smallest."""
    family, _, size = db_class.rpartition(".")
    wanted = _size_units(size)
    if not family or wanted is None:
        return None
    smaller: list[tuple[Decimal, str]] = []
    for known in price_catalog()["rds_hourly"]:
        known_family, _, known_size = known.rpartition(".")
        units = _size_units(known_size)
        if known_family == family and units is not None and units < wanted:
            smaller.append((units, known))
    return max(smaller)[1] if smaller else None


def ebs_monthly_price(volume_type: str, size_gib: int | Decimal) -> Decimal | None:
    """Monthly storage price of an EBS volume (provisioned IOPS/throughput extras not included)."""
    rate: Decimal | None = price_catalog()["ebs_gb_month"].get(volume_type)
    return None if rate is None else _round(rate * Decimal(size_gib))


def ebs_snapshot_monthly_price(size_gib: int | Decimal) -> Decimal:
    """Upper bound of a full snapshot of a volume (snapshots store used blocks only, so usually less)."""
    rate: Decimal = price_catalog()["ebs_snapshot_gb_month"]
    return _round(rate * Decimal(size_gib))


def eip_idle_monthly_price() -> Decimal:
    """Monthly charge of an Elastic IP address that is allocated but not associated."""
    hourly: Decimal = price_catalog()["eip_idle_hourly"]
    return _round(hourly * HOURS_PER_MONTH)


def s3_standard_monthly_price(size_bytes: int | float | Decimal) -> Decimal:
    """Monthly S3 Standard storage price of a bucket of this size."""
    rate: Decimal = price_catalog()["s3_standard_gb_month"]
    return _round(Decimal(str(size_bytes)) / BYTES_PER_GB * rate)


def s3_intelligent_tiering_saving(
    size_bytes: int | float | Decimal, objects: int | float | Decimal, cold_fraction: Decimal = Decimal("0.5")
) -> Decimal:
    """Estimated monthly saving of moving a Standard bucket to Intelligent-Tiering (may be negative).

    Assumes `cold_fraction` of the bytes go 30 days unread and move to the Infrequent Access tier; every object
    of 128 KiB or more pays the monitoring fee (the caller only asks for buckets whose average object is that big).
    """
    tiers = price_catalog()["s3_intelligent_tiering"]
    size_gb = Decimal(str(size_bytes)) / BYTES_PER_GB
    storage = size_gb * cold_fraction * (tiers["frequent_gb_month"] - tiers["infrequent_gb_month"])
    monitoring = Decimal(str(objects)) / 1000 * tiers["monitoring_per_1000_objects"]
    return _round(storage - monitoring)


# --- network, storage, scaling and monitoring types (issue 3): prices under "net" in the catalog -----------------


def _net_price(key: str) -> Decimal:
    price: Decimal = price_catalog()["net"][key]
    return price


def _free(what: str) -> Callable[[dict[str, Any]], CostEstimate]:
    return lambda _metadata: CostEstimate(Decimal("0.0000"), True, f"{what} cost nothing themselves")


def _ebs(metadata: dict[str, Any]) -> CostEstimate:
    volume_type = str(metadata.get("volume_type") or "gp3")
    size = _number(metadata, "size", Decimal(0))
    monthly = ebs_monthly_price(volume_type, size)
    if monthly is None:
        return CostEstimate(Decimal("0.0000"), False, f"no price for EBS volume type {volume_type!r}")
    iops = _number(metadata, "iops", Decimal(0))
    if volume_type == "gp3":
        extra_iops = max(Decimal(0), iops - _net_price("ebs_gp3_free_iops"))
        throughput = _number(metadata, "throughput", Decimal(0))
        extra_mbps = max(Decimal(0), throughput - _net_price("ebs_gp3_free_throughput"))
        monthly += extra_iops * _net_price("ebs_gp3_iops_month") + extra_mbps * _net_price(
            "ebs_gp3_throughput_mbps_month"
        )
    elif volume_type in ("io1", "io2"):
        monthly += iops * _net_price("ebs_io_iops_month")
    return CostEstimate(
        _round(monthly / DAYS_PER_MONTH), True, f"{size} GiB {volume_type} (+ provisioned IOPS) / 30 days"
    )


def _efs(metadata: dict[str, Any]) -> CostEstimate:
    size_gb = _number(metadata, "size_bytes", Decimal(0)) / BYTES_PER_GB
    daily = size_gb * _net_price("efs_standard_gb_month") / DAYS_PER_MONTH
    return CostEstimate(
        _round(daily), True, f"{size_gb:.3f} GB x EFS Standard / 30 days (throughput usage not included)"
    )


def _alb(metadata: dict[str, Any]) -> CostEstimate:
    hourly = _net_price("alb_hourly") + _net_price("alb_lcu_hourly") * _net_price("alb_assumed_lcus")
    return CostEstimate(_round(hourly * HOURS_PER_DAY), True, "ALB hour + 1 LCU-hour x 24 h")


def _asg(metadata: dict[str, Any]) -> CostEstimate:
    capacity = metadata.get("capacity") if isinstance(metadata.get("capacity"), dict) else {}
    desired = _number(capacity or {}, "DesiredCapacity", Decimal(0))
    instance_type = str(metadata.get("instance_type") or "")
    hourly, basis = ec2_hourly_price(instance_type) if instance_type else (None, "instance type unknown")
    if hourly is None:
        return CostEstimate(Decimal("0.0000"), False, f"{desired} instances: {basis}")
    return CostEstimate(_round(desired * hourly * HOURS_PER_DAY), True, f"{desired} x {basis} x 24 h")


def _cloudwatch(metadata: dict[str, Any]) -> CostEstimate:
    kind = str(metadata.get("kind") or "alarm")
    key = "cloudwatch_dashboard_month" if kind == "dashboard" else "cloudwatch_alarm_month"
    return CostEstimate(_round(_net_price(key) / DAYS_PER_MONTH), True, f"one {kind} per month / 30 days")


_NET_ESTIMATES: dict[AwsResourceType, Callable[[dict[str, Any]], CostEstimate]] = {
    AwsResourceType.EBS_VOLUME: _ebs,
    AwsResourceType.EFS_FILE_SYSTEM: _efs,
    AwsResourceType.LOAD_BALANCER: _alb,
    AwsResourceType.AUTO_SCALING_GROUP: _asg,
    AwsResourceType.CLOUDWATCH: _cloudwatch,
    AwsResourceType.VPC_NETWORK: _free("VPCs, subnets, internet gateways and route tables"),
    AwsResourceType.XRAY: _free("X-Ray groups and sampling rules (traces are billed by use)"),
}
