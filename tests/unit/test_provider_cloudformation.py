"""CloudFormationStackProvider against moto; drift detection (which moto lacks) with botocore's Stubber."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.cloudformation.models import cloudformation_backends

from aws_agent.errors import (
    AwsCallFailed,
    ResourceConflict,
    ResourceNotFound,
    ResourceNotManaged,
    TaskAnalysisError,
)
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.base import ProviderContext, ResourceOutcome
from aws_agent.resources.cloudformation import CloudFormationStackProvider, change_set_name

MakeCtx = Callable[..., ProviderContext]
CFN = AwsResourceType.CLOUDFORMATION_STACK
T = AwsTaskType
provider = CloudFormationStackProvider()
TOPIC = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "stack-topic"}}}}
TOPIC_AND_QUEUE = {
    "Resources": {
        **TOPIC["Resources"],
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stack-queue"}},
    }
}
# What `cdk synth` writes: metadata, a CDK bootstrap-version parameter and rule, and the resources.
CDK_SYNTHESIZED = {
    "Resources": {
        "Bucket83908E77": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": "cdk-synth-bucket"},
            "UpdateReplacePolicy": "Retain",
            "DeletionPolicy": "Retain",
            "Metadata": {"aws:cdk:path": "Demo/Bucket/Resource"},
        }
    },
    "Outputs": {"BucketName": {"Value": {"Ref": "Bucket83908E77"}}},
}


def cfn() -> Any:
    return boto3.client("cloudformation", region_name="us-east-1")


def create(make_ctx: MakeCtx, name: str = "app-stack", task_id: str = "task-0001", **params: Any) -> ResourceOutcome:
    params.setdefault("template", TOPIC)
    return provider.create(make_ctx(CFN, {"stack_name": name, **params}, task_id=task_id))


def update_ctx(
    make_ctx: MakeCtx, name: str = "app-stack", task_id: str = "task-0002", **params: Any
) -> ProviderContext:
    return make_ctx(CFN, {"stack_name": name, **params}, task_id=task_id, task_type=T.UPDATE_RESOURCE)


def topics() -> list[str]:
    return [
        t["TopicArn"].rsplit(":", 1)[1] for t in boto3.client("sns", region_name="us-east-1").list_topics()["Topics"]
    ]


def test_registry_and_deadline(mocked_aws: None) -> None:
    assert isinstance(provider_for(CFN), CloudFormationStackProvider)
    assert CloudFormationStackProvider.deadline_seconds == 3600


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_deploys_the_template_with_tags_and_waits_for_the_first_check(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, tags={"Team": "web"})
    assert outcome.state is ResourceState.CREATING and outcome.ready is False
    assert "stack-topic" in topics()
    stack = cfn().describe_stacks(StackName="app-stack")["Stacks"][0]
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Team"] == "web"
    status = provider.status(make_ctx(CFN, {}), "app-stack")
    assert (
        status.state is ResourceState.ACTIVE and status.ready and status.metadata["stack_status"] == "CREATE_COMPLETE"
    )


def test_create_accepts_a_cdk_synthesized_template_as_object_or_text(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, name="cdk-stack", template=json.dumps(CDK_SYNTHESIZED))
    assert outcome.arn.startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/cdk-stack/")
    assert "cdk-synth-bucket" in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    status = provider.status(make_ctx(CFN, {}), "cdk-stack")
    assert status.metadata["outputs"] == {"BucketName": "cdk-synth-bucket"}


def test_create_from_an_s3_template_url(make_ctx: MakeCtx) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="topic.json", Body=json.dumps(TOPIC).encode())
    create(make_ctx, name="url-stack", template=None, template_url="https://templates.s3.amazonaws.com/topic.json")
    assert "stack-topic" in topics()


def test_create_passes_the_cloudformation_service_role(make_ctx: MakeCtx) -> None:
    role = "arn:aws:iam::123456789012:role/MiyabiCloudFormationExecutionRole"
    create(make_ctx, name="role-stack", role_arn=role)
    assert cfn().describe_stacks(StackName="role-stack")["Stacks"][0]["RoleARN"] == role
    with pytest.raises(TaskAnalysisError, match="role_arn"):
        create(make_ctx, name="role-stack-2", role_arn="MiyabiCloudFormationExecutionRole")


def test_replayed_create_returns_the_same_stack_and_foreign_stacks_conflict(make_ctx: MakeCtx) -> None:
    first = create(make_ctx)
    again = create(make_ctx)
    assert again.arn == first.arn and len(cfn().describe_stacks()["Stacks"]) == 1
    with pytest.raises(ResourceConflict, match="belongs to task task-0001"):
        create(make_ctx, task_id="task-0003")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"template": None}, "missing parameter 'template'"),
        ({"template": {"Outputs": {}}}, "not a CloudFormation template"),
        ({"template": TOPIC, "template_url": "https://x.s3.amazonaws.com/t.json"}, "not both"),
        ({"template": None, "template_url": "http://insecure/t.json"}, "https://"),
        ({"capabilities": ["CAPABILITY_EVERYTHING"]}, "capabilities"),
        ({"stack_name": "1-bad"}, "not a stack name"),
        ({"template": {"Resources": {"X": {"Type": "AWS::SNS::Topic", "Properties": {"D": "x" * 60000}}}}}, "upload"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    full = {"stack_name": "bad-stack", "template": TOPIC, **params}
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(CFN, full))
    assert cfn().describe_stacks()["Stacks"] == []


# --- status -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack_status", "task_type", "state", "ready"),
    [
        ("CREATE_IN_PROGRESS", T.CREATE_RESOURCE, ResourceState.CREATING, False),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", T.UPDATE_RESOURCE, ResourceState.UPDATING, False),
        ("CREATE_COMPLETE", T.CREATE_RESOURCE, ResourceState.ACTIVE, True),
        ("UPDATE_COMPLETE", T.UPDATE_RESOURCE, ResourceState.ACTIVE, True),
        ("ROLLBACK_COMPLETE", T.CREATE_RESOURCE, ResourceState.FAILED, True),
        ("CREATE_FAILED", T.CREATE_RESOURCE, ResourceState.FAILED, True),
        ("UPDATE_ROLLBACK_COMPLETE", T.UPDATE_RESOURCE, ResourceState.FAILED, True),
        ("UPDATE_ROLLBACK_COMPLETE", T.DISCOVER_RESOURCES, ResourceState.ACTIVE, True),
        ("DELETE_IN_PROGRESS", T.DELETE_RESOURCE, ResourceState.DELETING, False),
    ],
)
def test_status_maps_stack_statuses_with_the_reason(
    make_ctx: MakeCtx, stack_status: str, task_type: AwsTaskType, state: ResourceState, ready: bool
) -> None:
    created = create(make_ctx)
    stack = cloudformation_backends["123456789012"]["us-east-1"].stacks[created.arn]
    stack.status = stack_status
    stack.status_reason = "The following resource(s) failed to create: [Topic]."
    outcome = provider.status(make_ctx(CFN, {"stack_name": "app-stack"}, task_type=task_type), "app-stack")
    assert (outcome.state, outcome.ready) == (state, ready)
    if state is ResourceState.FAILED:
        assert stack_status in outcome.metadata["reason"] and "failed to create" in outcome.metadata["reason"]


def test_status_of_a_missing_stack_is_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match="no-stack"):
        provider.status(make_ctx(CFN, {}), "no-stack")


# --- update through a change set ----------------------------------------------------------------------------------


def test_update_creates_then_executes_a_change_set_and_the_wait_loop_sees_it_done(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    ctx = update_ctx(make_ctx, template=TOPIC_AND_QUEUE)
    outcome = provider.update(ctx, "app-stack")
    assert outcome.state is ResourceState.UPDATING and outcome.ready is False
    assert outcome.metadata["change_set"] == change_set_name("task-0002")
    ctx.previous = outcome
    settled = provider.status(ctx, "app-stack")
    assert settled.state is ResourceState.ACTIVE and settled.ready
    assert settled.metadata["stack_status"] == "UPDATE_COMPLETE"
    queues = boto3.client("sqs", region_name="us-east-1").list_queues().get("QueueUrls", [])
    assert any(q.endswith("/stack-queue") for q in queues)
    described = cfn().describe_change_set(StackName="app-stack", ChangeSetName=change_set_name("task-0002"))
    assert described["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_update_with_no_changes_is_a_no_op_success(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    outcome = provider.update(update_ctx(make_ctx, template=TOPIC), "app-stack")
    assert outcome.state is ResourceState.ACTIVE and outcome.ready is True
    assert outcome.metadata["no_changes"] is True
    assert cfn().describe_stacks(StackName="app-stack")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_update_tags_goes_through_update_stack_and_tag_is_a_no_op_when_unchanged(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    outcome = provider.update(update_ctx(make_ctx, tags={"Env": "prod"}), "app-stack")
    assert outcome.tags["Env"] == "prod" and outcome.tags["MiyabiTask"] == "task-0001"
    before = cfn().describe_stacks(StackName="app-stack")["Stacks"][0]["StackStatus"]
    provider.tag(make_ctx(CFN, {}), "app-stack", {"Env": "prod"})  # nothing new: no UpdateStack
    assert cfn().describe_stacks(StackName="app-stack")["Stacks"][0]["StackStatus"] == before


def test_update_refuses_unmanaged_stacks_and_mixed_requests(make_ctx: MakeCtx) -> None:
    cfn().create_stack(StackName="human-stack", TemplateBody=json.dumps(TOPIC))
    with pytest.raises(ResourceNotManaged):
        provider.update(update_ctx(make_ctx, "human-stack", template=TOPIC_AND_QUEUE), "human-stack")
    create(make_ctx, name="mine", template={"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    with pytest.raises(TaskAnalysisError, match="its own update task"):
        provider.update(update_ctx(make_ctx, "mine", template=TOPIC, detect_drift=True), "mine")
    with pytest.raises(TaskAnalysisError, match="needs"):
        provider.update(update_ctx(make_ctx, "mine"), "mine")


# --- drift detection (moto lacks DetectStackDrift: Stubber against the real service model) ------------------------


class StubSessions:
    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str, target: Any, *, session_name: str | None = None) -> Any:
        return self._client


STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/app-stack/0f1e2d3c"


def _stack(drift: str = "NOT_CHECKED") -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "app-stack",
                "StackId": STACK_ID,
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                "Tags": [{"Key": "MiyabiManaged", "Value": "true"}, {"Key": "MiyabiTask", "Value": "task-0001"}],
                "DriftInformation": {"StackDriftStatus": drift},
            }
        ]
    }


def test_drift_detection_starts_then_the_wait_loop_reads_the_result(make_ctx: MakeCtx) -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    ctx = update_ctx(make_ctx, detect_drift=True)
    ctx.sessions = StubSessions(client)  # type: ignore[assignment]
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", _stack(), {"StackName": "app-stack"})
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "drift-1"}, {"StackName": "app-stack"})
        started = provider.update(ctx, "app-stack")
        assert started.ready is False and started.metadata["drift_detection_id"] == "drift-1"
        ctx.previous = started

        not_found = "ChangeSetNotFound"
        names = {"StackName": "app-stack", "ChangeSetName": change_set_name("task-0002")}
        timestamp = datetime(2026, 1, 1, tzinfo=UTC)
        in_progress = {
            "StackId": STACK_ID,
            "StackDriftDetectionId": "drift-1",
            "DetectionStatus": "DETECTION_IN_PROGRESS",
            "Timestamp": timestamp,
        }
        stub.add_response("describe_stacks", _stack(), {"StackName": "app-stack"})
        stub.add_client_error("describe_change_set", not_found, expected_params=names)
        stub.add_response("describe_stack_drift_detection_status", in_progress, {"StackDriftDetectionId": "drift-1"})
        polled = provider.status(ctx, "app-stack")
        assert polled.ready is False and polled.metadata["drift_detection_status"] == "DETECTION_IN_PROGRESS"

        done = {
            **in_progress,
            "DetectionStatus": "DETECTION_COMPLETE",
            "StackDriftStatus": "DRIFTED",
            "DriftedStackResourceCount": 2,
        }
        stub.add_response("describe_stacks", _stack("DRIFTED"), {"StackName": "app-stack"})
        stub.add_client_error("describe_change_set", not_found, expected_params=names)
        stub.add_response("describe_stack_drift_detection_status", done, {"StackDriftDetectionId": "drift-1"})
        settled = provider.status(ctx, "app-stack")
        stub.assert_no_pending_responses()
    assert settled.ready is True and settled.state is ResourceState.ACTIVE
    assert settled.metadata["drift_status"] == "DRIFTED" and settled.metadata["drifted_resources"] == 2


def test_failed_drift_detection_fails_the_task(make_ctx: MakeCtx) -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    ctx = update_ctx(make_ctx, detect_drift=True)
    ctx.sessions = StubSessions(client)  # type: ignore[assignment]
    ctx.previous = ResourceOutcome(
        id="app-stack", arn=STACK_ID, state=ResourceState.UPDATING, metadata={"drift_detection_id": "drift-2"}
    )
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", _stack(), {"StackName": "app-stack"})
        stub.add_client_error(
            "describe_change_set",
            "ChangeSetNotFound",
            expected_params={"StackName": "app-stack", "ChangeSetName": change_set_name("task-0002")},
        )
        stub.add_response(
            "describe_stack_drift_detection_status",
            {
                "StackId": STACK_ID,
                "StackDriftDetectionId": "drift-2",
                "DetectionStatus": "DETECTION_FAILED",
                "DetectionStatusReason": "Access denied to resource Topic",
                "Timestamp": datetime(2026, 1, 1, tzinfo=UTC),
            },
            {"StackDriftDetectionId": "drift-2"},
        )
        with pytest.raises(AwsCallFailed, match="Access denied to resource Topic"):
            provider.status(ctx, "app-stack")


# --- delete, discover, plan ---------------------------------------------------------------------------------------


def test_delete_removes_the_stack_and_its_resources(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    ctx = make_ctx(CFN, {"stack_name": "app-stack"}, task_type=T.DELETE_RESOURCE)
    outcome = provider.delete(ctx, "app-stack")
    assert outcome.state is ResourceState.DELETING and outcome.ready is False
    with pytest.raises(ResourceNotFound):
        provider.status(ctx, "app-stack")
    assert "stack-topic" not in topics()
    replay = provider.delete(ctx, "app-stack")  # a retried step: the managed stack of that name is gone
    assert replay.state is ResourceState.TERMINATED and replay.arn == outcome.arn
    with pytest.raises(ResourceNotFound):
        provider.delete(make_ctx(CFN, {"stack_name": "never-was"}, task_type=T.DELETE_RESOURCE), "never-was")


def test_delete_refuses_unmanaged_stacks(make_ctx: MakeCtx) -> None:
    cfn().create_stack(StackName="human-stack", TemplateBody=json.dumps(TOPIC))
    with pytest.raises(ResourceNotManaged):
        provider.delete(make_ctx(CFN, {"stack_name": "human-stack"}, task_type=T.DELETE_RESOURCE), "human-stack")
    assert cfn().describe_stacks(StackName="human-stack")["Stacks"]


def test_discover_and_plan(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    cfn().create_stack(
        StackName="human-stack", TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    )
    found = {o.id: o for o in provider.discover(make_ctx(CFN, {}, task_type=T.DISCOVER_RESOURCES))}
    assert set(found) == {"app-stack", "human-stack"}
    assert found["app-stack"].managed and not found["human-stack"].managed
    plan = provider.plan(make_ctx(CFN, {"stack_name": "planned", "template": TOPIC_AND_QUEUE}))
    assert plan["calls"] == ["cloudformation:CreateStack"]
    plan = provider.plan(update_ctx(make_ctx, template=TOPIC_AND_QUEUE))
    assert plan["calls"] == ["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"]
    assert {s["StackName"] for s in cfn().describe_stacks()["Stacks"]} == {"app-stack", "human-stack"}
