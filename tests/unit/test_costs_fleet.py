"""Helpers of the cost-sweep tests (no tests here): a small moto fleet with CloudWatch history, and a sweep runner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from aws_agent.aws import SessionFactory, Target
from aws_agent.costs.options import SweepOptions
from aws_agent.costs.sweep import run_sweep
from aws_agent.model import CostFinding, CostReport

AGENT_ACCOUNT = "123456789012"  # moto's default account: the test's own credentials
MEMBER_ROLE = "OrganizationAccountAccessRole"
REGION = "us-east-1"
HOURS = 48  # two days of hourly points: inside the 14-day window, and quick to seed

IDLE = [1.0, 2.5, 0.4, 3.9] * (HOURS // 4)  # every hour below 5 %
BUSY = [40.0, 75.0, 12.0, 55.0] * (HOURS // 4)
SPIKY = [1.0] * 100 + [45.0] + [1.0] * (HOURS - 101)  # one busy hour in two weeks: low average, high maximum


def session(account: str | None = None) -> boto3.Session:
    """The test's own session, or one assumed into `account` (moto maps the temporary key to that account)."""
    if account is None or account == AGENT_ACCOUNT:
        return boto3.Session(region_name=REGION)
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def client(service: str, account: str | None = None, region: str = REGION) -> Any:
    return session(account).client(service, region_name=region)


def run_instances(
    count: int,
    instance_type: str = "t3.micro",
    tags: dict[str, str] | None = None,
    account: str | None = None,
    region: str = REGION,
) -> list[str]:
    request: dict[str, Any] = {"ImageId": "ami-12c6146b", "MinCount": count, "MaxCount": count}
    request["InstanceType"] = instance_type
    if tags:
        request["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    response = client("ec2", account, region).run_instances(**request)
    return [i["InstanceId"] for i in response["Instances"]]


def put_cpu(
    resource_ids: Sequence[str],
    hourly: Sequence[float],
    *,
    namespace: str = "AWS/EC2",
    dimension: str = "InstanceId",
    account: str | None = None,
    region: str = REGION,
) -> None:
    """Hourly CPUUtilization, newest first, ending five minutes ago (as the bench seeds it)."""
    cloudwatch = client("cloudwatch", account, region)
    last = datetime.now(UTC) - timedelta(minutes=5)
    for resource_id in resource_ids:
        datums = [
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": dimension, "Value": resource_id}],
                "Timestamp": last - timedelta(hours=hour),
                "Value": value,
                "Unit": "Percent",
            }
            for hour, value in enumerate(hourly)
        ]
        for start in range(0, len(datums), 500):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[start : start + 500])


def make_bucket(
    name: str,
    object_sizes: Sequence[int] = (),
    tags: dict[str, str] | None = None,
    account: str | None = None,
    region: str = REGION,
) -> None:
    s3 = client("s3", account, region)
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **extra)
    for index, size in enumerate(object_sizes):
        s3.put_object(Bucket=name, Key=f"data/{index}", Body=b"x" * size)
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})


def put_bucket_size(bucket: str, size_bytes: float, account: str | None = None, region: str = REGION) -> None:
    """A daily BucketSizeBytes datapoint. moto 5.2.5 synthesises this metric as the sum of sys.getsizeof of its key
    objects (~tens of bytes per object, whatever the object's size), so a test that needs real sizes puts them."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    client("cloudwatch", account, region).put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": "BucketSizeBytes",
                "Dimensions": [
                    {"Name": "StorageType", "Value": "StandardStorage"},
                    {"Name": "BucketName", "Value": bucket},
                ],
                "Timestamp": today,
                "Value": size_bytes,
                "Unit": "Bytes",
            }
        ],
    )


def state(instance_id: str, account: str | None = None, region: str = REGION) -> str:
    reservations = client("ec2", account, region).describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def sessions(role_arns: dict[str, str] | None = None) -> SessionFactory:
    return SessionFactory(agent_account_id=AGENT_ACCOUNT, role_name=MEMBER_ROLE, role_arns=role_arns)


def options(**overrides: Any) -> SweepOptions:
    """The bench's setting (act, unmanaged included) unless a test says otherwise."""
    values: dict[str, Any] = {"apply": True, "include_unmanaged": True}
    values.update(overrides)
    return SweepOptions(**values)


def sweep(
    opts: SweepOptions | None = None, targets: Sequence[Target] | None = None, factory: SessionFactory | None = None
) -> CostReport:
    return run_sweep(targets or [Target(AGENT_ACCOUNT, REGION)], opts or options(), factory or sessions())


def ids(findings: Sequence[CostFinding], action: str | None = None) -> set[str]:
    return {f.resource_id for f in findings if action is None or f.action == action}
