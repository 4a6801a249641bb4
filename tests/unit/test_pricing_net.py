"""Daily-cost estimates of the network, storage, scaling and monitoring types (catalog section "net")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aws_agent.model import AwsResourceType as R
from aws_agent.pricing import estimate


@pytest.mark.parametrize(
    ("kind", "metadata", "daily"),
    [
        (R.EBS_VOLUME, {"volume_type": "gp3", "size": 100, "iops": 3000, "throughput": 125}, "0.2667"),  # 100 x .08/30
        (R.EBS_VOLUME, {"volume_type": "gp3", "size": 100, "iops": 4000, "throughput": 125}, "0.4333"),  # +1000 x .005
        (R.EBS_VOLUME, {"volume_type": "io2", "size": 100, "iops": 1000}, "2.5833"),  # 12.5 + 65 per month
        (R.EFS_FILE_SYSTEM, {"size_bytes": 10 * 1024**3}, "0.1000"),  # 10 GB x 0.30 / 30
        (R.LOAD_BALANCER, {}, "0.7320"),  # (0.0225 + 0.008) x 24
        (R.AUTO_SCALING_GROUP, {"capacity": {"DesiredCapacity": 2}, "instance_type": "t3.micro"}, "0.4992"),
        (R.CLOUDWATCH, {"kind": "alarm"}, "0.0033"),
        (R.CLOUDWATCH, {"kind": "dashboard"}, "0.1000"),
        (R.VPC_NETWORK, {}, "0.0000"),
        (R.XRAY, {}, "0.0000"),
    ],
)
def test_daily_estimates(kind: R, metadata: dict, daily: str) -> None:
    result = estimate(kind, metadata)
    assert result.daily == Decimal(daily) and result.priced, result.basis


def test_unknown_ebs_type_and_asg_without_type_are_flagged_unpriced() -> None:
    assert not estimate(R.EBS_VOLUME, {"volume_type": "gp9", "size": 1}).priced
    assert not estimate(R.AUTO_SCALING_GROUP, {"capacity": {"DesiredCapacity": 2}}).priced
