"""The price catalog's additions for cost sweeps: monthly EC2, RDS classes, EBS, Elastic IPs, Intelligent-Tiering."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aws_agent.pricing import (
    ebs_monthly_price,
    ebs_snapshot_monthly_price,
    ec2_monthly_price,
    eip_idle_monthly_price,
    price_catalog,
    rds_class_one_down,
    rds_hourly_price,
    rds_monthly_price,
    s3_intelligent_tiering_saving,
    s3_standard_monthly_price,
)


def test_catalog_prices_the_new_kinds() -> None:
    catalog = price_catalog()
    for family in ("db.t3", "db.t4g", "db.m5", "db.r5"):
        assert any(name.startswith(f"{family}.") for name in catalog["rds_hourly"])
    assert catalog["ebs_gb_month"]["gp2"] == Decimal("0.10") and catalog["ebs_gb_month"]["gp3"] == Decimal("0.08")
    assert catalog["s3_intelligent_tiering"]["min_object_bytes"] == 128 * 1024
    assert "rds" in catalog["_source"] and "ebs" in catalog["_source"]


def test_monthly_prices_are_720_hours() -> None:
    assert ec2_monthly_price("t3.micro")[0] == Decimal("7.4880")
    assert ec2_monthly_price("nonsense")[0] is None
    assert rds_monthly_price("db.m5.large") == Decimal("123.1200")
    assert rds_monthly_price("db.m5.large", multi_az=True) == Decimal("246.2400")
    assert rds_hourly_price("db.x9.huge")[0] is None
    assert eip_idle_monthly_price() == Decimal("3.6000")


@pytest.mark.parametrize(
    ("db_class", "smaller"),
    [
        ("db.m5.xlarge", "db.m5.large"),
        ("db.m5.4xlarge", "db.m5.2xlarge"),
        ("db.r5.24xlarge", "db.r5.16xlarge"),
        ("db.t3.small", "db.t3.micro"),
        ("db.t3.micro", None),
        ("db.m5.large", None),
        ("db.x9.large", None),
        ("bogus", None),
    ],
)
def test_rds_one_class_down_stays_in_the_family(db_class: str, smaller: str | None) -> None:
    assert rds_class_one_down(db_class) == smaller


def test_ebs_and_s3_storage() -> None:
    assert ebs_monthly_price("gp2", 100) == Decimal("10.0000") and ebs_monthly_price("io9", 1) is None
    assert ebs_snapshot_monthly_price(100) == Decimal("5.0000")
    assert s3_standard_monthly_price(100 * 1024**3) == Decimal("2.3000")


def test_intelligent_tiering_pays_only_for_large_objects() -> None:
    gib = 1024**3
    assert s3_intelligent_tiering_saving(1000 * gib, 1000) == Decimal("5.2475")  # 1000 x 0.5 x 0.0105 - 0.0025
    assert s3_intelligent_tiering_saving(gib, 1_000_000) < 0  # 1 KiB objects: the monitoring fee dominates
