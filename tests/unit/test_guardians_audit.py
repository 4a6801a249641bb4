"""SecurityAudit over a seeded moto account: exactly the seeded violations, nothing on compliant resources."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aws_agent.guardians.audit import audit
from aws_agent.guardians.policy import load_policies

ACCOUNT, REGION = "123456789012", "us-east-1"


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _compliant_account_services() -> None:
    """CloudTrail logging and GuardDuty on: the account-level checks pass."""
    s3 = _client("s3")
    s3.create_bucket(Bucket="trail-logs-bucket")
    trail = _client("cloudtrail").create_trail(Name="org", S3BucketName="trail-logs-bucket", IsMultiRegionTrail=True)
    _client("cloudtrail").start_logging(Name=trail["TrailARN"])
    _client("guardduty").create_detector(Enable=True)


def _seed() -> dict[str, str]:
    s3, ec2, rds = _client("s3"), _client("ec2"), _client("rds")
    s3.create_bucket(Bucket="private-bucket")
    s3.create_bucket(Bucket="public-acl-bucket", ACL="public-read")
    s3.create_bucket(Bucket="public-policy-bucket")
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                             "Resource": "arn:aws:s3:::public-policy-bucket/*"}]}  # fmt: skip
    s3.put_bucket_policy(Bucket="public-policy-bucket", Policy=json.dumps(policy))
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    open_ssh = ec2.create_security_group(GroupName="open-ssh", Description="x", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=open_ssh, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
    web = ec2.create_security_group(GroupName="web", Description="x", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])  # fmt: skip
    plain = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, Encrypted=True)
    for name, encrypted in (("plain-db", False), ("safe-db", True)):
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="x" * 12,
                               StorageEncrypted=encrypted)  # fmt: skip
    return {"open_ssh": open_ssh, "volume": plain}


def _found(result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["check"], f["resource_id"]) for f in result["findings"]}


@pytest.mark.usefixtures("mocked_aws")
def test_audit_finds_exactly_the_seeded_violations() -> None:
    _compliant_account_services()
    seeded = _seed()
    result = audit(_client, ACCOUNT, REGION, load_policies().cerberus)
    assert _found(result) == {
        ("public-bucket", "public-acl-bucket"),
        ("public-bucket", "public-policy-bucket"),
        ("open-security-group", seeded["open_ssh"]),
        ("unencrypted-volume", seeded["volume"]),
        ("unencrypted-database", "plain-db"),
    }
    assert result["compliant"] is False
    assert result["counts"] == {"public-bucket": 2, "open-security-group": 1, "unencrypted-volume": 1,
                                "unencrypted-database": 1, "cloudtrail": 0, "guardduty": 0}  # fmt: skip


@pytest.mark.usefixtures("mocked_aws")
def test_audit_of_a_compliant_account_is_clean_and_account_checks_fire_when_off() -> None:
    result = audit(_client, ACCOUNT, REGION, load_policies().cerberus)
    assert _found(result) == {("cloudtrail", f"{ACCOUNT}/{REGION}"), ("guardduty", f"{ACCOUNT}/{REGION}")}
    _compliant_account_services()
    clean = audit(_client, ACCOUNT, REGION, load_policies().cerberus)
    assert clean["findings"] == [] and clean["compliant"] is True


@pytest.mark.usefixtures("mocked_aws")
def test_a_stopped_trail_does_not_count() -> None:
    _compliant_account_services()
    trail = _client("cloudtrail").describe_trails()["trailList"][0]["TrailARN"]
    _client("cloudtrail").stop_logging(Name=trail)
    assert _found(audit(_client, ACCOUNT, REGION, load_policies().cerberus)) == {("cloudtrail", f"{ACCOUNT}/{REGION}")}
