"""The offline price catalog and daily-cost estimates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aws_agent.model import AwsResourceType
from aws_agent.pricing import ec2_hourly_price, estimate, estimate_daily_cost, price_catalog

EC2 = AwsResourceType.EC2_INSTANCE
S3 = AwsResourceType.S3_BUCKET
LAMBDA = AwsResourceType.LAMBDA_FUNCTION


def test_catalog_documents_its_source_and_is_loaded_once() -> None:
    catalog = price_catalog()
    assert "us-east-1" in catalog["_source"] and catalog["currency"] == "USD"
    assert price_catalog() is catalog
    for family in ("t3", "t4g", "m5", "m6g", "c5", "r5"):
        assert any(name.startswith(f"{family}.") for name in catalog["ec2_hourly"])
    assert isinstance(catalog["s3_standard_gb_month"], Decimal)


def test_ec2_running_costs_hourly_times_24() -> None:
    assert estimate_daily_cost(EC2, {"instance_type": "t3.micro", "instance_state": "running"}) == Decimal("0.2496")
    assert estimate_daily_cost(EC2, {"instance_type": "m5.large", "instance_state": "pending"}) == Decimal("2.3040")


def test_ec2_without_a_state_is_priced_as_about_to_run() -> None:
    assert estimate_daily_cost(EC2, {"instance_type": "t3.micro"}) == Decimal("0.2496")


@pytest.mark.parametrize("state", ["stopping", "stopped", "shutting-down", "terminated"])
def test_ec2_not_running_costs_nothing(state: str) -> None:
    result = estimate(EC2, {"instance_type": "r5.4xlarge", "instance_state": state})
    assert result.daily == Decimal("0.0000") and result.priced


def test_ec2_unknown_size_of_a_known_family_scales_by_normalization_factor() -> None:
    hourly, basis = ec2_hourly_price("m5.12xlarge")
    assert hourly == Decimal("2.304") and "scaled" in basis  # the published m5.12xlarge price
    assert estimate_daily_cost(EC2, {"instance_type": "c5.9xlarge"}) == Decimal("36.7200")  # 1.53/h published


@pytest.mark.parametrize("instance_type", ["x2iedn.xlarge", "t3.metal", "", "nonsense"])
def test_ec2_unknown_types_cost_zero_and_are_flagged(instance_type: str) -> None:
    result = estimate(EC2, {"instance_type": instance_type, "instance_state": "running"})
    assert result.daily == Decimal("0.0000") and not result.priced


def test_s3_costs_storage_per_day() -> None:
    assert estimate_daily_cost(S3, {"size_bytes": 100 * 1024**3}) == Decimal("0.0767")  # 100 GB x 0.023 / 30
    assert estimate_daily_cost(S3, {}) == Decimal("0.0000")


def test_lambda_defaults_to_ten_thousand_short_invocations() -> None:
    # 10,000 x (0.125 GB x 0.1 s x 0.0000166667 + 0.0000002) = 0.00408...
    assert estimate_daily_cost(LAMBDA, {}) == Decimal("0.0041")


def test_lambda_uses_memory_architecture_and_traffic_from_metadata() -> None:
    metadata = {
        "memory_size": 1024,
        "architecture": "arm64",
        "expected_invocations_per_day": 1_000_000,
        "avg_duration_seconds": 0.5,
    }
    # 1e6 x (1 GB x 0.5 s x 0.0000133334 + 0.0000002) = 6.6667 + 0.2
    assert estimate_daily_cost(LAMBDA, metadata) == Decimal("6.8667")


def test_unusable_metadata_falls_back_to_defaults() -> None:
    assert estimate_daily_cost(LAMBDA, {"memory_size": "lots", "expected_invocations_per_day": -5}) == Decimal("0.0041")
    assert estimate_daily_cost(S3, {"size_bytes": "1073741824"}) == Decimal("0.0008")


@pytest.mark.parametrize("resource_type", [AwsResourceType.RDS_INSTANCE, AwsResourceType.SNS, "NotAType"])
def test_other_types_cost_zero(resource_type: AwsResourceType | str) -> None:
    result = estimate(resource_type, {"instance_type": "t3.micro"})
    assert result.daily == Decimal("0.0000") and not result.priced


def test_results_have_four_decimal_places() -> None:
    for value in (
        estimate_daily_cost(EC2, {"instance_type": "t4g.nano"}),
        estimate_daily_cost(S3, {"size_bytes": 12345}),
        estimate_daily_cost(LAMBDA, {}),
        estimate_daily_cost(AwsResourceType.VPC_NETWORK, None),
    ):
        assert value.as_tuple().exponent == -4
