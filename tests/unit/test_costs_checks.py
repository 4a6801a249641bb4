"""Each cost check against moto: the case it must find and the case it must leave alone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_costs_fleet import (
    BUSY,
    IDLE,
    SPIKY,
    client,
    ids,
    make_bucket,
    options,
    put_bucket_size,
    put_cpu,
    run_instances,
    state,
    sweep,
)

from aws_agent.model import AwsResourceType

pytestmark = pytest.mark.usefixtures("mocked_aws")
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def test_idle_instance_is_stopped_and_busy_one_keeps_running() -> None:
    idle = run_instances(1, "m5.large")
    busy = run_instances(1, "m5.large")
    put_cpu(idle, IDLE)
    put_cpu(busy, BUSY)

    report = sweep()

    assert ids(report.optimizations, "stop") == set(idle)
    assert state(idle[0]) in ("stopping", "stopped") and state(busy[0]) == "running"
    finding = report.optimizations[0]
    assert finding.resource_type is AwsResourceType.EC2_INSTANCE and finding.decision == "stopped"
    assert finding.monthly_savings == Decimal("69.1200")  # m5.large 0.096/h x 720 h
    assert finding.evidence["cpu_max"] == pytest.approx(3.9) and "maximum" in finding.reason
    assert report.total_savings == Decimal("69.12") and report.fleet_monthly_cost == Decimal("138.24")
    assert report.savings_percent == Decimal("50.00")


def test_a_single_busy_hour_means_not_idle() -> None:
    spiky = run_instances(2)  # two, so the 50 % cap would allow one stop if it were idle
    put_cpu(spiky, SPIKY)

    report = sweep()

    assert report.optimizations == [] and report.recommendations == []
    assert {state(i) for i in spiky} == {"running"}


def test_an_instance_without_metrics_is_not_idle() -> None:
    silent = run_instances(2)

    report = sweep()

    assert report.optimizations == [] and report.recommendations == []
    assert {state(i) for i in silent} == {"running"}


def test_unused_bucket_is_reported_never_deleted_and_a_non_empty_one_is_not() -> None:
    make_bucket("empty-bucket")
    make_bucket("busy-bucket", [100, 200])

    report = sweep()

    assert ids(report.recommendations, "review-unused-bucket") == {"empty-bucket"}
    assert "busy-bucket" not in ids(report.recommendations) | ids(report.optimizations)
    assert {b["Name"] for b in client("s3").list_buckets()["Buckets"]} == {"empty-bucket", "busy-bucket"}
    finding = report.recommendations[0]
    assert finding.resource_type is AwsResourceType.S3_BUCKET and "autonomy" in (finding.decision or "")


def test_only_buckets_homed_in_the_target_region_are_checked() -> None:
    make_bucket("east-empty")
    make_bucket("west-empty", region="us-west-2")

    report = sweep()

    assert ids(report.recommendations) == {"east-empty"}


def test_over_provisioned_rds_is_rightsized_one_class_down_as_a_recommendation() -> None:
    rds = client("rds")
    for name, db_class in (("big-db", "db.m5.xlarge"), ("tiny-db", "db.t3.micro"), ("busy-db", "db.m5.xlarge")):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass=db_class,
            Engine="mysql",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="password123",
        )
    put_cpu(["big-db", "tiny-db"], IDLE, namespace="AWS/RDS", dimension="DBInstanceIdentifier")
    put_cpu(["busy-db"], BUSY, namespace="AWS/RDS", dimension="DBInstanceIdentifier")

    report = sweep()

    rightsize = [f for f in report.recommendations if f.action == "rightsize"]
    assert [(f.resource_id, f.target) for f in rightsize] == [("big-db", "db.m5.large")]  # smallest class: nothing
    assert rightsize[0].monthly_savings == Decimal("123.1200")  # (0.342 - 0.171) x 720
    assert "snapshot first" in (rightsize[0].note or "") and report.optimizations == []
    assert "autonomy" in (rightsize[0].decision or "")  # RDS autonomy 4 < 7


def test_intelligent_tiering_only_where_the_average_object_is_at_least_128_kib() -> None:
    make_bucket("big-objects", [10, 10])  # objects: 2 (moto counts them); sizes: put below
    make_bucket("small-objects", [10] * 4)
    put_bucket_size("big-objects", 2 * 300 * GIB)  # average 300 GiB
    put_bucket_size("small-objects", 4 * 100 * KIB)  # average 100 KiB < 128 KiB

    report = sweep(options(it_min_bucket_bytes=0))

    tiering = [f for f in report.recommendations if f.action == "enable-intelligent-tiering"]
    assert [f.resource_id for f in tiering] == ["big-objects"]
    # 600 GB x half cold x (0.023 - 0.0125) - 2 objects x 0.0025 / 1000
    assert tiering[0].monthly_savings == Decimal("3.1500") and tiering[0].evidence["objects_max"] == 2
    assert "autonomy" in (tiering[0].decision or "")  # S3 autonomy 5 < 6: recommended, not applied


def test_intelligent_tiering_skips_buckets_below_the_size_that_matters() -> None:
    make_bucket("big-objects", [10, 10])
    put_bucket_size("big-objects", 2 * 300 * MIB)

    report = sweep()  # default minimum: 1 GiB

    assert report.recommendations == []


def test_unattached_volume_is_recommended_for_snapshot_and_delete() -> None:
    ec2 = client("ec2")
    loose = ec2.create_volume(AvailabilityZone="us-east-1a", Size=100, VolumeType="gp3")["VolumeId"]
    attached = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, VolumeType="gp2")["VolumeId"]
    instance = run_instances(1)[0]
    ec2.attach_volume(VolumeId=attached, InstanceId=instance, Device="/dev/sdf")

    report = sweep()

    volumes = [f for f in report.recommendations if f.resource_type is AwsResourceType.EBS_VOLUME]
    assert [(f.resource_id, f.action) for f in volumes] == [(loose, "snapshot-and-delete-volume")]
    assert volumes[0].monthly_cost == Decimal("8.0000") and volumes[0].monthly_savings == Decimal("3.0000")
    assert client("ec2").describe_volumes(VolumeIds=[loose])["Volumes"]  # never deleted


def test_unassociated_elastic_ip_is_recommended_for_release() -> None:
    ec2 = client("ec2")
    idle = ec2.allocate_address(Domain="vpc")["AllocationId"]
    used = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=used, InstanceId=run_instances(1)[0])

    report = sweep()

    addresses = [f for f in report.recommendations if f.action == "release-address"]
    assert [f.resource_id for f in addresses] == [idle]
    assert addresses[0].aws_type == "AWS::EC2::EIP" and addresses[0].monthly_savings == Decimal("3.6000")
