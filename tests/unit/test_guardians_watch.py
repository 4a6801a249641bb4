"""Cerberus' CloudTrail watch: documented "AWS API Call via CloudTrail" samples → findings and ResourceFlagged."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aws_agent.guardians.policy import load_policies
from aws_agent.guardians.watch import event_pattern, inspect, record

POLICY = load_policies().cerberus


def _event(name: str, source: str, request: dict[str, Any], response: dict[str, Any] | None = None,
           actor: str = "arn:aws:sts::222222222222:assumed-role/Admin/jane") -> dict[str, Any]:  # fmt: skip
    return {
        "version": "0", "id": "evt-1", "detail-type": "AWS API Call via CloudTrail", "source": f"aws.{source}",
        "account": "222222222222", "region": "us-east-1",
        "detail": {"eventVersion": "1.08", "eventID": f"id-{name}", "eventName": name,
                   "eventSource": f"{source}.amazonaws.com", "awsRegion": "us-east-1",
                   "eventTime": "2026-11-26T00:00:00Z", "recipientAccountId": "222222222222",
                   "userIdentity": {"type": "AssumedRole", "arn": actor},
                   "requestParameters": request, "responseElements": response or {}},
    }  # fmt: skip


RUN_INSTANCES = {"instancesSet": {"items": [{"instanceId": "i-0abc"}]}}
AGENT = "arn:aws:sts::222222222222:assumed-role/MiyabiAgentRole/miyabi-task-1"


def test_unmanaged_creation_is_flagged() -> None:
    flag = inspect(_event("RunInstances", "ec2", {"instanceType": "t3.micro"}, RUN_INSTANCES), POLICY)
    assert flag is not None and flag.managed is False and flag.resource_ids == ["i-0abc"]
    assert flag.issues[0].startswith("unmanaged") and flag.account_id == "222222222222"


def test_managed_compliant_creation_is_not_flagged() -> None:
    tagged = {"tagSpecificationSet": {"items": [{"resourceType": "instance",
                                                 "tags": [{"key": "MiyabiManaged", "value": "true"}]}]}}  # fmt: skip
    assert inspect(_event("RunInstances", "ec2", tagged, RUN_INSTANCES), POLICY) is None
    assert inspect(_event("CreateBucket", "s3", {"bucketName": "b"}, actor=AGENT), POLICY) is None


@pytest.mark.parametrize(
    ("name", "source", "request_params", "issue"),
    [
        ("AuthorizeSecurityGroupIngress", "ec2", {"groupId": "sg-1", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
             "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}, "administrative port(s) 22"),
        ("CreateVolume", "ec2", {"size": 8, "encrypted": False}, "unencrypted"),
        ("CreateDBInstance", "rds", {"dBInstanceIdentifier": "db1", "storageEncrypted": False}, "unencrypted"),
        ("PutBucketAcl", "s3", {"bucketName": "b", "x-amz-acl": "public-read"}, "public"),
    ],
)  # fmt: skip
def test_managed_but_non_compliant_is_flagged(name: str, source: str, request_params: dict, issue: str) -> None:
    flag = inspect(_event(name, source, request_params, actor=AGENT), POLICY)
    assert flag is not None and flag.managed is True and issue in "; ".join(flag.issues)


def test_the_rule_pattern_matches_the_samples() -> None:
    pattern = event_pattern()
    sample = _event("RunInstances", "ec2", {}, RUN_INSTANCES)
    assert sample["source"] in pattern["source"] and sample["detail-type"] in pattern["detail-type"]
    assert sample["detail"]["eventName"] in pattern["detail"]["eventName"]


@pytest.mark.usefixtures("mocked_aws")
def test_a_finding_is_recorded_once_and_announced() -> None:
    ddb, events, sqs = (boto3.client(s, region_name="us-east-1") for s in ("dynamodb", "events", "sqs"))
    ddb.create_table(TableName="findings", KeySchema=[{"AttributeName": "finding_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "finding_id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")  # fmt: skip
    events.create_event_bus(Name="bus")
    url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    events.put_rule(Name="all", EventBusName="bus", EventPattern=json.dumps({"source": ["miyabi.aws-agent"]}))
    events.put_targets(Rule="all", EventBusName="bus",
                       Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:seen"}])  # fmt: skip
    flag = inspect(_event("CreateBucket", "s3", {"bucketName": "shadow-it"}), POLICY)
    assert flag is not None
    assert record(ddb, "findings", events, "bus", flag) is True
    assert record(ddb, "findings", events, "bus", flag) is False  # the same CloudTrail event delivered twice
    stored = ddb.scan(TableName="findings")["Items"]
    assert len(stored) == 1 and stored[0]["resource_ids"]["L"][0]["S"] == "shadow-it"
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["detail-type"] for m in messages] == ["ResourceFlagged"]


@pytest.mark.usefixtures("mocked_aws")
def test_a_failed_announcement_is_made_on_redelivery() -> None:
    from botocore.exceptions import ClientError

    ddb, events = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    ddb.create_table(TableName="findings", KeySchema=[{"AttributeName": "finding_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "finding_id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")  # fmt: skip
    events.create_event_bus(Name="bus")

    class Flaky:
        calls = 0

        def put_events(self, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise ClientError({"Error": {"Code": "InternalException", "Message": "x"}}, "PutEvents")
            return events.put_events(**kwargs)

    flaky = Flaky()
    flag = inspect(_event("CreateBucket", "s3", {"bucketName": "shadow-it"}), POLICY)
    assert flag is not None
    with pytest.raises(Exception, match="announce finding"):
        record(ddb, "findings", flaky, "bus", flag)
    assert record(ddb, "findings", flaky, "bus", flag) is True  # the rule's retry announces it
    assert record(ddb, "findings", flaky, "bus", flag) is False and flaky.calls == 2
