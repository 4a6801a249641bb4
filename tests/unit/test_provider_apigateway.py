"""ApiGatewayProvider against moto: HTTP APIs (apigatewayv2) and REST APIs (apigateway)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_agent.errors import ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.apigateway import ApiGatewayProvider

MakeCtx = Callable[..., Any]
API = AwsResourceType.API_GATEWAY
T = AwsTaskType
provider = ApiGatewayProvider()
CORS = {"allow_origins": ["https://shop.example"], "allow_methods": ["GET", "POST"], "max_age": 600}


def v2() -> Any:
    return boto3.client("apigatewayv2", region_name="us-east-1")


def v1() -> Any:
    return boto3.client("apigateway", region_name="us-east-1")


def create(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> Any:
    return provider.create(make_ctx(API, {"api_name": "orders", **params}, task_id=task_id))


def op(make_ctx: MakeCtx, task_type: AwsTaskType, api_id: str, **params: Any) -> Any:
    return make_ctx(API, {"api_id": api_id, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_api_gateway_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(API), ApiGatewayProvider)


def test_create_http_api_by_default_with_cors_and_tags(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, description="Orders", cors=CORS, tags={"Team": "shop"})

    assert outcome.state is ResourceState.ACTIVE and outcome.ready and outcome.managed
    assert outcome.metadata["api_type"] == "http"
    assert outcome.arn == f"arn:aws:apigateway:us-east-1::/apis/{outcome.id}"
    api = v2().get_api(ApiId=outcome.id)
    assert api["ProtocolType"] == "HTTP" and api["Description"] == "Orders"
    assert api["CorsConfiguration"]["AllowOrigins"] == ["https://shop.example"]
    assert api["CorsConfiguration"]["MaxAge"] == 600
    assert api["Tags"]["MiyabiManaged"] == "true" and api["Tags"]["MiyabiTask"] == "task-0001"
    assert api["Tags"]["Team"] == "shop"


def test_create_rest_api(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, api_type="REST", description="Legacy")
    assert outcome.metadata["api_type"] == "rest"
    assert outcome.arn == f"arn:aws:apigateway:us-east-1::/restapis/{outcome.id}"
    api = v1().get_rest_api(restApiId=outcome.id)
    assert api["name"] == "orders" and api["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert api["tags"]["MiyabiManaged"] == "true"


@pytest.mark.parametrize("api_type", ["http", "rest"])
def test_create_replay_returns_the_same_api(make_ctx: MakeCtx, api_type: str) -> None:
    first = create(make_ctx, api_type=api_type)
    second = create(make_ctx, api_type=api_type)
    assert first.id == second.id
    assert len(v2().get_apis()["Items"]) + len(v1().get_rest_apis()["items"]) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"api_type": "graphql"}, "http or rest"),
        ({"api_type": "rest", "cors": CORS}, "HTTP APIs only"),
        ({"cors": {"allow_everything": True}}, "unknown keys"),
        ({"cors": {"max_age": -1}}, "max_age"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        create(make_ctx, **params)
    assert v2().get_apis()["Items"] == [] and v1().get_rest_apis()["items"] == []


def test_status_finds_either_kind_and_reports_missing(make_ctx: MakeCtx) -> None:
    rest = create(make_ctx, api_type="rest", task_id="r")
    assert provider.status(make_ctx(API, {}), rest.id).metadata["api_type"] == "rest"
    with pytest.raises(ResourceNotFound, match="abc123"):
        provider.status(make_ctx(API, {}), "abc123")


def test_update_http_api_name_description_cors_and_tags(make_ctx: MakeCtx) -> None:
    api_id = create(make_ctx).id
    ctx = op(
        make_ctx, T.UPDATE_RESOURCE, api_id, api_name="orders-v2", description="v2", cors=CORS, tags={"Env": "prod"}
    )
    outcome = provider.update(ctx, provider.resource_id(ctx))
    api = v2().get_api(ApiId=api_id)
    assert (api["Name"], api["Description"]) == ("orders-v2", "v2")
    assert api["CorsConfiguration"]["AllowMethods"] == ["GET", "POST"]
    assert outcome.tags["Env"] == "prod" and outcome.tags["MiyabiTask"] == "task-0001"


def test_update_rest_api_name_and_description(make_ctx: MakeCtx) -> None:
    api_id = create(make_ctx, api_type="rest").id
    provider.update(op(make_ctx, T.UPDATE_RESOURCE, api_id, api_name="legacy-v2", description="moved"), api_id)
    api = v1().get_rest_api(restApiId=api_id)
    assert (api["name"], api["description"]) == ("legacy-v2", "moved")
    with pytest.raises(TaskAnalysisError, match="HTTP APIs only"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, api_id, cors=CORS), api_id)


def test_update_needs_something(make_ctx: MakeCtx) -> None:
    api_id = create(make_ctx).id
    with pytest.raises(TaskAnalysisError, match="at least one"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, api_id), api_id)


def test_unmanaged_apis_are_left_alone(make_ctx: MakeCtx) -> None:
    api_id = v2().create_api(Name="hand-made", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ResourceNotManaged):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, api_id, description="x"), api_id)
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE, api_id), api_id)
    assert len(v2().get_apis()["Items"]) == 1


@pytest.mark.parametrize("api_type", ["http", "rest"])
def test_delete_removes_a_managed_api(make_ctx: MakeCtx, api_type: str) -> None:
    api_id = create(make_ctx, api_type=api_type).id
    plan = provider.plan(op(make_ctx, T.DELETE_RESOURCE, api_id))
    assert plan["calls"] == ["apigateway:DeleteApi" if api_type == "http" else "apigateway:DeleteRestApi"]
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE, api_id), api_id)
    assert outcome.state is ResourceState.TERMINATED
    assert v2().get_apis()["Items"] == [] and v1().get_rest_apis()["items"] == []


def test_discover_lists_both_kinds(make_ctx: MakeCtx) -> None:
    http = create(make_ctx, task_id="h").id
    rest = create(make_ctx, api_type="rest", task_id="r").id
    v2().create_api(Name="hand-made", ProtocolType="HTTP")
    found = provider.discover(make_ctx(API, {}, task_type=T.DISCOVER_RESOURCES))
    kinds = {o.id: (o.metadata["api_type"], o.managed) for o in found}
    assert kinds[http] == ("http", True) and kinds[rest] == ("rest", True)
    assert sorted(k for k, managed in kinds.values() if not managed) == ["http"]


def test_tag_adds_tags_to_an_http_api(make_ctx: MakeCtx) -> None:
    api_id = create(make_ctx).id
    provider.tag(make_ctx(API, {}), api_id, {"Cost": "cc"})
    assert provider.status(make_ctx(API, {}), api_id).tags["Cost"] == "cc"


def test_tag_rest_api_calls_tag_resource_with_the_restapis_arn(make_ctx: MakeCtx) -> None:
    # moto's apigateway TagResource only tags stages: the REST API call is checked against the real service model.
    client = boto3.client("apigateway", region_name="us-east-1")
    arn = "arn:aws:apigateway:us-east-1::/restapis/abc123"
    with Stubber(client) as stub:
        stub.add_response("tag_resource", {}, {"resourceArn": arn, "tags": {"Cost": "cc"}})
        ctx = make_ctx(API, {"api_type": "rest"})
        ctx.client = lambda service: client
        provider.tag(ctx, "abc123", {"Cost": "cc"})
        stub.assert_no_pending_responses()


def test_plan_create_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(API, {"cors": CORS}))
    assert plan["calls"] == ["apigateway:CreateApi (HTTP)"] and plan["parameters"]["api_name"].startswith("miyabi-")
    assert v2().get_apis()["Items"] == []
