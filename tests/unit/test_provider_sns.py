"""SnsTopicProvider against moto: create (idempotent by name), status, update, delete, discover, tag."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.assignment import decision_maker_for
from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.sns import SnsTopicProvider

MakeCtx = Callable[..., Any]
SNS = AwsResourceType.SNS
T = AwsTaskType
NAME = "orders-events"
ARN = f"arn:aws:sns:us-east-1:123456789012:{NAME}"
provider = SnsTopicProvider()


def sns() -> Any:
    return boto3.client("sns", region_name="us-east-1")


def topic_tags(arn: str = ARN) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sns().list_tags_for_resource(ResourceArn=arn)["Tags"]}


def topics() -> list[str]:
    return sorted(t["TopicArn"] for t in sns().list_topics()["Topics"])


def create(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> Any:
    return provider.create(make_ctx(SNS, {"topic_name": NAME, **params}, task_id=task_id))


def op(make_ctx: MakeCtx, task_type: AwsTaskType, **params: Any) -> Any:
    return make_ctx(SNS, {"topic_name": NAME, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_sns_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(SNS), SnsTopicProvider)


def test_create_makes_a_tagged_topic_with_attributes(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, display_name="Orders", kms_key_id="alias/aws/sns", tags={"Team": "shop"})

    assert (outcome.id, outcome.arn, outcome.state, outcome.ready) == (NAME, ARN, ResourceState.ACTIVE, True)
    assert outcome.managed and outcome.metadata["display_name"] == "Orders"
    attributes = sns().get_topic_attributes(TopicArn=ARN)["Attributes"]
    assert attributes["DisplayName"] == "Orders" and attributes["KmsMasterKeyId"] == "alias/aws/sns"
    tags = topic_tags()
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Team"] == "shop"
    assert tags["MiyabiAgent"] == decision_maker_for(SNS).value


def test_create_without_a_name_derives_one_from_the_task(make_ctx: MakeCtx) -> None:
    first = provider.create(make_ctx(SNS, {}, task_id="issue-7"))
    again = provider.create(make_ctx(SNS, {}, task_id="issue-7"))
    assert first.id == again.id and first.id.startswith("miyabi-")
    assert len(topics()) == 1


def test_create_replay_returns_the_same_topic(make_ctx: MakeCtx) -> None:
    first = create(make_ctx)
    second = create(make_ctx)
    assert first.arn == second.arn and topics() == [ARN]


def test_create_fifo_topic(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(SNS, {"topic_name": "jobs.fifo"}))
    assert outcome.metadata["fifo"] is True


def test_create_refuses_a_topic_of_another_task_or_unmanaged(make_ctx: MakeCtx) -> None:
    create(make_ctx, task_id="task-a")
    with pytest.raises(ResourceConflict, match="belongs to task task-a"):
        create(make_ctx, task_id="task-b")
    sns().create_topic(Name="hand-made")
    with pytest.raises(ResourceConflict, match="unmanaged"):
        provider.create(make_ctx(SNS, {"topic_name": "hand-made"}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"topic_name": "bad name!"}, "must be 1 to 256"),
        ({"topic_name": "arn:aws:sns:eu-west-1:123456789012:x"}, "not in the task's"),
        ({"topic_name": NAME, "policy": "not json"}, "JSON policy"),
        ({"topic_name": NAME, "display_name": "x" * 101}, "at most 100"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(SNS, params))
    assert topics() == []


def test_status_of_a_missing_topic_is_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match=NAME):
        provider.status(make_ctx(SNS, {}), NAME)


def test_update_sets_display_name_policy_and_tags(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sns:Publish", "Resource": ARN}
        ],
    }
    ctx = op(make_ctx, T.UPDATE_RESOURCE, display_name="New", policy=policy, tags={"Env": "prod"})
    outcome = provider.update(ctx, provider.resource_id(ctx))
    attributes = sns().get_topic_attributes(TopicArn=ARN)["Attributes"]
    assert attributes["DisplayName"] == "New"
    assert json.loads(attributes["Policy"])["Statement"][0]["Action"] == "sns:Publish"
    assert outcome.tags["Env"] == "prod" and outcome.tags["MiyabiTask"] == "task-0001"


def test_update_needs_something_and_refuses_own_tags(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    with pytest.raises(TaskAnalysisError, match="at least one"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE), NAME)
    with pytest.raises(TaskAnalysisError, match="agent's own tags"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, tags={"MiyabiManaged": "false"}), NAME)


def test_update_and_delete_refuse_unmanaged_topics(make_ctx: MakeCtx) -> None:
    sns().create_topic(Name=NAME)
    with pytest.raises(ResourceNotManaged):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, display_name="x"), NAME)
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE), NAME)
    assert topics() == [ARN]


def test_delete_removes_a_managed_topic(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE), NAME)
    assert outcome.state is ResourceState.TERMINATED and outcome.metadata["deleted"]
    assert topics() == []
    with pytest.raises(ResourceNotFound):  # a replay finds nothing: the pipeline treats that as done
        provider.delete(op(make_ctx, T.DELETE_RESOURCE), NAME)


def test_discover_lists_managed_and_unmanaged_topics(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    sns().create_topic(Name="other")
    found = {o.id: o.managed for o in provider.discover(make_ctx(SNS, {}, task_type=T.DISCOVER_RESOURCES))}
    assert found == {NAME: True, "other": False}


def test_tag_adds_without_removing(make_ctx: MakeCtx) -> None:
    create(make_ctx, tags={"Team": "shop"})
    provider.tag(make_ctx(SNS, {}), NAME, {"Cost": "cc-1"})
    assert topic_tags()["Team"] == "shop" and topic_tags()["Cost"] == "cc-1"


def test_plan_describes_without_changing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(SNS, {"topic_name": NAME, "display_name": "D"}))
    assert plan["calls"] == ["sns:CreateTopic"] and plan["parameters"]["attributes"] == ["DisplayName"]
    assert topics() == []
    create(make_ctx)
    replay = provider.plan(make_ctx(SNS, {"topic_name": NAME}))
    assert replay["calls"] == [] and replay["parameters"]["replay"]
    update = provider.plan(op(make_ctx, T.UPDATE_RESOURCE, display_name="x"))
    assert update["calls"] == ["sns:SetTopicAttributes"]
    assert provider.plan(op(make_ctx, T.DELETE_RESOURCE))["calls"] == ["sns:DeleteTopic"]
