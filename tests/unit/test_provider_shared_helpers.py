"""The helpers providers share (resources/_common.py, _net.py) keep each provider's own wording, against moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType
from aws_agent.resources.cloudfront import CloudFrontDistributionProvider
from aws_agent.resources.dynamodb import DynamoDbTableProvider
from aws_agent.resources.ebs import EbsVolumeProvider
from aws_agent.resources.sns import SnsTopicProvider

MakeCtx = Callable[..., Any]
REGION = "us-east-1"


def _foreign_topic(name: str, tags: dict[str, str]) -> None:
    boto3.client("sns", region_name=REGION).create_topic(
        Name=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )


def test_sns_conflicts_keep_their_wording(make_ctx: MakeCtx) -> None:
    _foreign_topic("someone-elses", {})
    _foreign_topic("other-tasks", {"MiyabiTask": "task-other"})
    provider = SnsTopicProvider()

    with pytest.raises(ResourceConflict) as untagged:
        provider.create(make_ctx(AwsResourceType.SNS, {"topic_name": "someone-elses"}))
    with pytest.raises(ResourceConflict) as owned:
        provider.plan(make_ctx(AwsResourceType.SNS, {"topic_name": "other-tasks"}))

    assert str(untagged.value) == (
        "SNS topic someone-elses already exists and is unmanaged (no MiyabiTask tag); choose another topic_name"
    )
    assert str(owned.value) == "SNS topic other-tasks already exists and belongs to task task-other"


def test_dynamodb_conflict_and_replay_plan(make_ctx: MakeCtx) -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="legacy",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    provider = DynamoDbTableProvider()

    with pytest.raises(ResourceConflict) as untagged:
        provider.create(make_ctx(AwsResourceType.DYNAMODB_TABLE, {"table_name": "legacy", "partition_key": "pk"}))
    assert str(untagged.value) == (
        "DynamoDB table legacy already exists and is not managed (no MiyabiTask tag); choose another table_name"
    )

    params = {"table_name": "orders", "partition_key": "pk"}
    assert provider.plan(make_ctx(AwsResourceType.DYNAMODB_TABLE, params))["calls"] == ["dynamodb:CreateTable"]
    provider.create(make_ctx(AwsResourceType.DYNAMODB_TABLE, params))
    replay = provider.plan(make_ctx(AwsResourceType.DYNAMODB_TABLE, params))
    assert (replay["resource_id"], replay["calls"]) == ("orders", [])


def test_sns_create_plan_marks_a_replay(make_ctx: MakeCtx) -> None:
    provider = SnsTopicProvider()
    first = provider.plan(make_ctx(AwsResourceType.SNS, {"topic_name": "events"}))
    provider.create(make_ctx(AwsResourceType.SNS, {"topic_name": "events"}))
    again = provider.plan(make_ctx(AwsResourceType.SNS, {"topic_name": "events"}))

    assert (first["calls"], "replay" in first["parameters"]) == (["sns:CreateTopic"], False)
    assert (again["calls"], again["parameters"]["replay"]) == ([], True)
    assert provider.plan(make_ctx(AwsResourceType.SNS, task_type=AwsTaskType.DISCOVER_RESOURCES)) == {
        "operation": "discover",
        "resource_id": None,
        "calls": ["sns:ListTopics", "sns:ListTagsForResource"],
        "parameters": {"region": REGION},
    }


@pytest.mark.parametrize(
    ("provider", "resource_type", "params", "task_type", "message"),
    [
        (
            EbsVolumeProvider(),
            AwsResourceType.EBS_VOLUME,
            {"volume_id": "vol-nope"},
            AwsTaskType.DELETE_RESOURCE,
            "parameter 'volume_id' (vol-...) is missing or invalid",
        ),
        (
            CloudFrontDistributionProvider(),
            AwsResourceType.CLOUDFRONT_DISTRIBUTION,
            {},
            AwsTaskType.DELETE_RESOURCE,
            "missing parameter 'distribution_id'",
        ),
        (
            DynamoDbTableProvider(),
            AwsResourceType.DYNAMODB_TABLE,
            {"table_name": "a"},
            AwsTaskType.DELETE_RESOURCE,
            "parameter 'table_name' 'a' is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)",
        ),
        (
            DynamoDbTableProvider(),
            AwsResourceType.DYNAMODB_TABLE,
            {},
            AwsTaskType.UPDATE_RESOURCE,
            "missing parameter 'table_name'",
        ),
    ],
)
def test_id_errors_keep_their_wording(
    make_ctx: MakeCtx,
    provider: Any,
    resource_type: AwsResourceType,
    params: dict[str, Any],
    task_type: AwsTaskType,
    message: str,
) -> None:
    with pytest.raises(TaskAnalysisError) as error:
        provider.resource_id(make_ctx(resource_type, params, task_type=task_type))
    assert str(error.value) == message


def test_a_create_without_a_name_gets_the_derived_one(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(AwsResourceType.DYNAMODB_TABLE, {}, task_id="task-0042")
    name = DynamoDbTableProvider().resource_id(ctx)
    assert name.startswith("miyabi-") and name == DynamoDbTableProvider().resource_id(ctx)
