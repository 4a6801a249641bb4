"""LambdaEdgeProvider: the function side against moto (always us-east-1), the association with botocore's Stubber.

moto's CloudFront drops LambdaFunctionAssociations from every distribution config it stores, so the association calls
(GetDistribution, GetDistributionConfig, UpdateDistribution) are checked against the real service model instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_agent.errors import ResourceConflict, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.lambda_edge import EDGE_TAG, LambdaEdgeProvider

MakeCtx = Callable[..., Any]
EDGE = AwsResourceType.LAMBDA_EDGE
T = AwsTaskType
NAME = "edge-headers"
DIST = "E2EXAMPLE0DIST"
DIST_ARN = f"arn:aws:cloudfront::123456789012:distribution/{DIST}"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"
SOURCE = "def handler(event, context):\n    return event['Records'][0]['cf']['request']\n"
provider = LambdaEdgeProvider()


def lam() -> Any:
    return boto3.client("lambda", region_name="us-east-1")


def config(associations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    behavior: dict[str, Any] = {"TargetOriginId": "origin-1", "ViewerProtocolPolicy": "redirect-to-https"}
    if associations is not None:
        behavior["LambdaFunctionAssociations"] = {"Quantity": len(associations), "Items": associations}
    return {
        "CallerReference": "task-cdn",
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "origin-1", "DomainName": "example.com"}]},
        "DefaultCacheBehavior": behavior,
    }


def distribution(status: str, associations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "Distribution": {
            "Id": DIST,
            "ARN": DIST_ARN,
            "Status": status,
            "LastModifiedTime": datetime(2026, 1, 1, tzinfo=UTC),
            "InProgressInvalidationBatches": 0,
            "DomainName": "d111.cloudfront.net",
            "DistributionConfig": config(associations),
        },
        "ETag": "ETAG1",
    }


MANAGED_TAGS = {"Tags": {"Items": [{"Key": "MiyabiManaged", "Value": "true"}]}}


class StubbedCloudFront:
    """A CloudFront client whose answers the test scripts, for contexts whose other clients stay on moto."""

    def __init__(self) -> None:
        self.client = boto3.client("cloudfront", region_name="us-east-1")
        self.stub = Stubber(self.client)

    def attach(self, ctx: Any) -> Any:
        original = ctx.client
        ctx.client = lambda service: self.client if service == "cloudfront" else original(service)
        return ctx

    def managed_distribution(self, status: str, associations: list[dict[str, Any]] | None = None) -> None:
        self.stub.add_response("get_distribution", distribution(status, associations), {"Id": DIST})
        self.stub.add_response("list_tags_for_resource", MANAGED_TAGS, {"Resource": DIST_ARN})


@pytest.fixture
def cloudfront(mocked_aws: None) -> Iterator[StubbedCloudFront]:
    stubbed = StubbedCloudFront()
    with stubbed.stub:
        yield stubbed
        stubbed.stub.assert_no_pending_responses()


def create(make_ctx: MakeCtx, task_id: str = "task-0001", region: str = "us-east-1", **params: Any) -> Any:
    return provider.create(
        make_ctx(EDGE, {"function_name": NAME, "code": SOURCE, **params}, task_id=task_id, region=region)
    )


def op(make_ctx: MakeCtx, task_type: AwsTaskType, **params: Any) -> Any:
    return make_ctx(EDGE, {"function_name": NAME, **params}, task_id="task-op", task_type=task_type)


def test_registry_and_long_running_settings(mocked_aws: None) -> None:
    assert isinstance(provider_for(EDGE), LambdaEdgeProvider)
    assert LambdaEdgeProvider.poll_seconds == 60 and LambdaEdgeProvider.deadline_seconds == 3600


def test_create_publishes_a_version_in_us_east_1_whatever_the_task_region(
    make_ctx: MakeCtx, lambda_execution_role: str
) -> None:
    outcome = create(make_ctx, region="eu-west-1", tags={"Team": "cdn"})

    assert outcome.arn == FUNCTION_ARN and outcome.managed
    assert outcome.metadata["region"] == "us-east-1"
    assert outcome.metadata["version_arn"] == f"{FUNCTION_ARN}:1"
    function = lam().get_function(FunctionName=NAME)
    assert function["Configuration"]["Architectures"] == ["x86_64"] and function["Configuration"]["Timeout"] == 5
    assert function["Tags"][EDGE_TAG] == "true" and function["Tags"]["Team"] == "cdn"
    assert function["Tags"]["MiyabiAgent"] and function["Tags"]["MiyabiTask"] == "task-0001"
    assert boto3.client("lambda", region_name="eu-west-1").list_functions()["Functions"] == []


def test_create_replay_publishes_no_second_version(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    again = create(make_ctx)
    assert again.metadata["version_arn"] == f"{FUNCTION_ARN}:1"
    versions = [v["Version"] for v in lam().list_versions_by_function(FunctionName=NAME)["Versions"]]
    assert versions == ["$LATEST", "1"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"environment": {"A": "b"}}, "environment variables"),
        ({"architecture": "arm64"}, "x86_64 only"),
        ({"distribution_id": DIST}, "needs 'event_type'"),
        ({"event_type": "viewer-request"}, "needs 'distribution_id'"),
        ({"distribution_id": DIST, "event_type": "on-click"}, "must be one of"),
        ({"distribution_id": DIST, "event_type": "viewer-request", "memory_size": 256}, "at most 128 MB"),
        ({"distribution_id": DIST, "event_type": "origin-request", "timeout": 31}, "between 1 and 30"),
        ({"distribution_id": DIST, "event_type": "viewer-response", "include_body": True}, "include_body"),
    ],
)
def test_create_rejects_what_lambda_at_edge_does_not_allow(
    make_ctx: MakeCtx, lambda_execution_role: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        create(make_ctx, **params)
    assert lam().list_functions()["Functions"] == []


def test_create_associates_the_version_with_the_distribution(
    make_ctx: MakeCtx, lambda_execution_role: str, cloudfront: StubbedCloudFront
) -> None:
    association = {"LambdaFunctionARN": f"{FUNCTION_ARN}:1", "EventType": "origin-request", "IncludeBody": True}
    cloudfront.managed_distribution("Deployed")  # the managed check before anything is created
    cloudfront.stub.add_response(
        "get_distribution_config", {"DistributionConfig": config(), "ETag": "ETAG1"}, {"Id": DIST}
    )
    cloudfront.stub.add_response(
        "update_distribution",
        distribution("InProgress", [association]),
        {"Id": DIST, "IfMatch": "ETAG1", "DistributionConfig": config([association])},
    )
    cloudfront.managed_distribution("InProgress", [association])  # status: deploying the association
    ctx = cloudfront.attach(
        make_ctx(
            EDGE,
            {
                "function_name": NAME,
                "code": SOURCE,
                "distribution_id": DIST,
                "event_type": "origin-request",
                "include_body": True,
            },
        )
    )
    outcome = provider.create(ctx)

    assert outcome.state is ResourceState.CREATING and not outcome.ready  # until the distribution is deployed
    assert outcome.metadata["associated_versions"] == [f"{FUNCTION_ARN}:1"]
    assert outcome.metadata["distribution_status"] == "InProgress"


def test_create_refuses_an_unmanaged_distribution(
    make_ctx: MakeCtx, lambda_execution_role: str, cloudfront: StubbedCloudFront
) -> None:
    cloudfront.stub.add_response("get_distribution", distribution("Deployed"), {"Id": DIST})
    cloudfront.stub.add_response("list_tags_for_resource", {"Tags": {"Items": []}}, {"Resource": DIST_ARN})
    ctx = cloudfront.attach(
        make_ctx(EDGE, {"function_name": NAME, "distribution_id": DIST, "event_type": "viewer-request"})
    )
    with pytest.raises(ResourceConflict, match="not tagged MiyabiManaged=true"):
        provider.create(ctx)
    assert lam().list_functions()["Functions"] == []


def test_update_publishes_new_code_and_moves_the_association(
    make_ctx: MakeCtx, lambda_execution_role: str, cloudfront: StubbedCloudFront
) -> None:
    create(make_ctx)
    old = {"LambdaFunctionARN": f"{FUNCTION_ARN}:1", "EventType": "viewer-request", "IncludeBody": False}
    other = {
        "LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:other:3",
        "EventType": "viewer-response",
        "IncludeBody": False,
    }
    new = {"LambdaFunctionARN": f"{FUNCTION_ARN}:2", "EventType": "viewer-request", "IncludeBody": False}
    cloudfront.managed_distribution("Deployed", [old, other])
    cloudfront.stub.add_response(
        "get_distribution_config", {"DistributionConfig": config([old, other]), "ETag": "ETAG2"}, {"Id": DIST}
    )
    cloudfront.stub.add_response(
        "update_distribution",
        distribution("InProgress", [other, new]),
        {"Id": DIST, "IfMatch": "ETAG2", "DistributionConfig": config([other, new])},
    )
    cloudfront.managed_distribution("Deployed", [other, new])
    ctx = cloudfront.attach(
        op(
            make_ctx,
            T.UPDATE_RESOURCE,
            code=SOURCE.replace("request", "request "),
            distribution_id=DIST,
            event_type="viewer-request",
        )
    )
    outcome = provider.update(ctx, provider.resource_id(ctx))

    assert outcome.metadata["version_arn"] == f"{FUNCTION_ARN}:2"
    assert outcome.metadata["associated_versions"] == [f"{FUNCTION_ARN}:2"]
    assert outcome.state is ResourceState.ACTIVE and outcome.ready


def test_update_refuses_to_replace_another_function_on_the_event(
    make_ctx: MakeCtx, lambda_execution_role: str, cloudfront: StubbedCloudFront
) -> None:
    create(make_ctx)
    foreign = {
        "LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:other:3",
        "EventType": "viewer-request",
        "IncludeBody": False,
    }
    cloudfront.managed_distribution("Deployed", [foreign])
    cloudfront.stub.add_response(
        "get_distribution_config", {"DistributionConfig": config([foreign]), "ETag": "E"}, {"Id": DIST}
    )
    ctx = cloudfront.attach(op(make_ctx, T.UPDATE_RESOURCE, distribution_id=DIST, event_type="viewer-request"))
    with pytest.raises(ResourceConflict, match="already runs"):
        provider.update(ctx, NAME)


def test_update_configuration_publishes_a_version(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    outcome = provider.update(op(make_ctx, T.UPDATE_RESOURCE, memory_size=256, tags={"Env": "prod"}), NAME)
    assert lam().get_function(FunctionName=NAME)["Configuration"]["MemorySize"] == 256
    assert outcome.metadata["version_arn"].startswith(f"{FUNCTION_ARN}:")
    assert outcome.tags["Env"] == "prod"
    with pytest.raises(TaskAnalysisError, match="needs function parameters"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE), NAME)


def test_delete_disassociates_then_the_wait_loop_deletes(
    make_ctx: MakeCtx, lambda_execution_role: str, cloudfront: StubbedCloudFront
) -> None:
    create(make_ctx)
    mine = {"LambdaFunctionARN": f"{FUNCTION_ARN}:1", "EventType": "origin-response", "IncludeBody": False}
    cloudfront.stub.add_response(
        "get_distribution_config", {"DistributionConfig": config([mine]), "ETag": "ETAG3"}, {"Id": DIST}
    )
    cloudfront.stub.add_response(
        "update_distribution",
        distribution("InProgress", []),
        {"Id": DIST, "IfMatch": "ETAG3", "DistributionConfig": config([])},
    )
    cloudfront.managed_distribution("InProgress", [])  # poll 1: still deploying
    cloudfront.managed_distribution("Deployed", [])  # poll 2: deployed without the function -> delete
    ctx = cloudfront.attach(op(make_ctx, T.DELETE_RESOURCE, distribution_id=DIST, event_type="origin-response"))

    outcome = provider.delete(ctx, NAME)
    assert outcome.state is ResourceState.DELETING and not outcome.ready
    assert lam().list_functions()["Functions"]  # not yet

    first = provider.status(ctx, NAME)
    assert first.state is ResourceState.DELETING and not first.ready
    second = provider.status(ctx, NAME)
    assert second.state is ResourceState.TERMINATED and second.ready
    assert lam().list_functions()["Functions"] == []


def test_delete_keeps_polling_while_replicas_remain(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "delete_function",
            service_error_code="InvalidParameterValueException",
            service_message=f"Lambda was unable to delete {FUNCTION_ARN}:1 because it is a replicated function.",
            http_status_code=400,
            expected_params={"FunctionName": NAME},
        )
        edge = provider._edge(op(make_ctx, T.DELETE_RESOURCE))
        edge.client = lambda service: client  # type: ignore[method-assign]
        outcome = provider._delete_function(
            edge, provider.functions.status(provider._edge(op(make_ctx, T.DELETE_RESOURCE)), NAME)
        )
    assert outcome.state is ResourceState.DELETING and not outcome.ready
    assert outcome.metadata["waiting_for"] == "replica removal"


def test_delete_without_a_distribution_deletes_at_once(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE), NAME)
    assert outcome.state is ResourceState.TERMINATED and lam().list_functions()["Functions"] == []


def test_unmanaged_functions_are_left_alone(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    from aws_agent.resources.lambda_function import zip_source

    lam().create_function(
        FunctionName=NAME,
        Runtime="python3.12",
        Role=lambda_execution_role,
        Handler="index.handler",
        Code={"ZipFile": zip_source(SOURCE)},
    )
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE), NAME)
    with pytest.raises(ResourceNotManaged):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, memory_size=256), NAME)


def test_discover_finds_edge_functions_only(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    from aws_agent.resources.lambda_function import zip_source

    lam().create_function(
        FunctionName="regional",
        Runtime="python3.12",
        Role=lambda_execution_role,
        Handler="index.handler",
        Code={"ZipFile": zip_source(SOURCE)},
    )
    found = provider.discover(make_ctx(EDGE, {}, task_type=T.DISCOVER_RESOURCES, region="eu-west-1"))
    assert [o.id for o in found] == [NAME]


def test_tag_adds_tags_in_us_east_1(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    provider.tag(make_ctx(EDGE, {}, region="ap-northeast-1"), NAME, {"Cost": "cc"})
    assert lam().list_tags(Resource=FUNCTION_ARN)["Tags"]["Cost"] == "cc"


def test_plan_changes_nothing(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    plan = provider.plan(make_ctx(EDGE, {"function_name": NAME, "code": SOURCE}))
    assert plan["calls"] == ["lambda:CreateFunction", "lambda:ListVersionsByFunction"]
    assert plan["parameters"]["region"] == "us-east-1"
    assert lam().list_functions()["Functions"] == []
