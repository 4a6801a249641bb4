"""API Gateway: HTTP APIs (apigatewayv2) and REST APIs (apigateway), chosen by `api_type`, tagged at creation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, ResourceState
from ._common import aws_error, operation_of, opt_str, opt_str_list, requested_tag_update, short_hash, simple_plan
from .base import TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

API_TYPES = ("http", "rest")
_API_ID = re.compile(r"^[a-z0-9]{1,32}$")
_NOT_FOUND = ("NotFoundException",)
_CORS_KEYS = {
    "allow_origins": "AllowOrigins",
    "allow_methods": "AllowMethods",
    "allow_headers": "AllowHeaders",
    "expose_headers": "ExposeHeaders",
}


def _cors(value: Any) -> dict[str, Any] | None:
    """HTTP API CORS: {allow_origins, allow_methods, allow_headers, expose_headers, max_age, allow_credentials}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TaskAnalysisError("parameter 'cors' must be an object such as {'allow_origins': ['https://a.example']}")
    unknown = sorted(set(value) - {*_CORS_KEYS, "max_age", "allow_credentials"})
    if unknown:
        raise TaskAnalysisError(f"parameter 'cors' has unknown keys: {', '.join(unknown)}")
    cors: dict[str, Any] = {}
    for key, field in _CORS_KEYS.items():
        items = opt_str_list(value, key)
        if items is not None:
            cors[field] = items
    if value.get("max_age") is not None:
        max_age = value["max_age"]
        if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= 86400:
            raise TaskAnalysisError("parameter 'cors.max_age' must be 0 to 86400 seconds")
        cors["MaxAge"] = max_age
    if value.get("allow_credentials") is not None:
        if not isinstance(value["allow_credentials"], bool):
            raise TaskAnalysisError("parameter 'cors.allow_credentials' must be true or false")
        cors["AllowCredentials"] = value["allow_credentials"]
    return cors


@dataclass(frozen=True)
class _Settings:
    name: str | None
    description: str | None
    cors: dict[str, Any] | None
    tags: dict[str, str]


class ApiGatewayProvider(ResourceProvider):
    resource_type = AwsResourceType.API_GATEWAY

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        api_id = opt_str(ctx.params, "api_id", max_len=64)
        if api_id is None:
            raise TaskAnalysisError("missing parameter 'api_id'")
        if not _API_ID.match(api_id):
            raise TaskAnalysisError(f"parameter 'api_id' {api_id!r} is not an API Gateway API id")
        return api_id

    @staticmethod
    def _api_type(ctx: ProviderContext) -> str | None:
        """`api_type` when given (http | rest); None lets status and delete find out which kind the id is."""
        value = opt_str(ctx.params, "api_type", max_len=8)
        if value is None:
            return None
        value = value.lower()
        if value not in API_TYPES:
            raise TaskAnalysisError(f"parameter 'api_type' must be http or rest, got {value!r}")
        return value

    @staticmethod
    def _arn(ctx: ProviderContext, api_type: str, api_id: str) -> str:
        path = "apis" if api_type == "http" else "restapis"
        return f"arn:aws:apigateway:{ctx.task.region}::/{path}/{api_id}"

    def _settings(self, ctx: ProviderContext, api_type: str, *, creating: bool) -> _Settings:
        name = opt_str(ctx.params, "api_name", max_len=128) or opt_str(ctx.params, "name", max_len=128)
        cors = _cors(ctx.params.get("cors"))
        if cors is not None and api_type == "rest":
            # REST APIs have no API-level CORS: it is an OPTIONS method with a mock integration on every resource.
            raise TaskAnalysisError(
                "parameter 'cors' applies to HTTP APIs only; a REST API configures CORS per resource (OPTIONS method)"
            )
        settings = _Settings(
            name=name or (f"miyabi-{short_hash(ctx.task.id)}" if creating else None),
            description=opt_str(ctx.params, "description", max_len=1024),
            cors=cors,
            tags={} if creating else requested_tag_update(ctx.params),
        )
        if not creating and not (settings.name or settings.description or cors is not None or settings.tags):
            raise TaskAnalysisError(
                "an API Gateway update needs at least one of the parameters: api_name, description, cors, tags"
            )
        return settings

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["apigateway:GET /apis", "apigateway:GET /restapis"], region=ctx.task.region)
        if operation == "create":
            api_type = self._api_type(ctx) or "http"
            settings = self._settings(ctx, api_type, creating=True)
            existing = self._task_api(ctx, api_type)
            call = "apigateway:CreateApi (HTTP)" if api_type == "http" else "apigateway:CreateRestApi"
            return {
                "operation": operation,
                "resource_id": existing.id if existing else None,
                "calls": [] if existing else [call],
                "parameters": {
                    "api_type": api_type,
                    "api_name": settings.name,
                    "description": settings.description,
                    "cors": settings.cors,
                    "tags": ctx.managed_tags(),
                    **({"replay": True} if existing else {}),
                },
            }
        api_id = self.resource_id(ctx)
        outcome = self.managed_status(ctx, api_id)
        api_type = outcome.metadata["api_type"]
        if operation == "update":
            settings = self._settings(ctx, api_type, creating=False)
            calls = ["apigateway:UpdateApi" if api_type == "http" else "apigateway:UpdateRestApi"]
            calls = calls * bool(settings.name or settings.description or settings.cors is not None)
            calls += ["apigateway:TagResource"] * bool(settings.tags)
            parameters = {"name": settings.name, "description": settings.description, "cors": settings.cors}
            return {"operation": operation, "resource_id": api_id, "calls": calls, "parameters": parameters}
        call = "apigateway:DeleteApi" if api_type == "http" else "apigateway:DeleteRestApi"
        return {"operation": operation, "resource_id": api_id, "calls": [call], "parameters": {"api_type": api_type}}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        api_type = self._api_type(ctx) or "http"
        settings = self._settings(ctx, api_type, creating=True)
        # API ids are assigned by AWS and names are not unique: the MiyabiTask tag is what makes a replay find its API.
        existing = self._task_api(ctx, api_type)
        if existing is not None:
            return existing
        tags = ctx.managed_tags()
        try:
            if api_type == "http":
                request: dict[str, Any] = {"Name": settings.name, "ProtocolType": "HTTP", "Tags": tags}
                if settings.description:
                    request["Description"] = settings.description
                if settings.cors is not None:
                    request["CorsConfiguration"] = settings.cors
                api = ctx.client("apigatewayv2").create_api(**request)
                return self._http_outcome(ctx, api)
            rest: dict[str, Any] = {
                "name": settings.name,
                "endpointConfiguration": {"types": ["REGIONAL"]},
                "tags": tags,
            }
            if settings.description:
                rest["description"] = settings.description
            return self._rest_outcome(ctx, ctx.client("apigateway").create_rest_api(**rest))
        except ClientError as exc:
            raise aws_error(exc, f"create {api_type} API {settings.name}") from exc

    def _task_api(self, ctx: ProviderContext, api_type: str) -> ResourceOutcome | None:
        for api in self._list(ctx, api_type):
            if api.tags.get(TASK_TAG) == ctx.task.id:
                return api
        return None

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        api_type = self._api_type(ctx)
        kinds = [api_type] if api_type else list(API_TYPES)
        for kind in kinds:
            try:
                if kind == "http":
                    return self._http_outcome(ctx, ctx.client("apigatewayv2").get_api(ApiId=resource_id))
                return self._rest_outcome(ctx, ctx.client("apigateway").get_rest_api(restApiId=resource_id))
            except ClientError as exc:
                if error_code(exc) not in _NOT_FOUND:
                    raise aws_error(exc, f"get {kind} API {resource_id}") from exc
        raise ResourceNotFound(
            f"API Gateway API {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
        )

    def _http_outcome(self, ctx: ProviderContext, api: dict[str, Any]) -> ResourceOutcome:
        api_id = str(api["ApiId"])
        cors = api.get("CorsConfiguration")
        metadata = {
            "api_type": "http",
            "api_name": api.get("Name"),
            "description": api.get("Description"),
            "endpoint": api.get("ApiEndpoint"),
            "protocol": api.get("ProtocolType"),
            "cors_origins": cors.get("AllowOrigins") if cors else None,
        }
        return ResourceOutcome(
            id=api_id,
            arn=self._arn(ctx, "http", api_id),
            state=ResourceState.ACTIVE,
            tags=dict(api.get("Tags") or {}),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    def _rest_outcome(self, ctx: ProviderContext, api: dict[str, Any]) -> ResourceOutcome:
        api_id = str(api["id"])
        metadata = {
            "api_type": "rest",
            "api_name": api.get("name"),
            "description": api.get("description"),
            "endpoint": f"https://{api_id}.execute-api.{ctx.task.region}.amazonaws.com",
            "endpoint_types": api.get("endpointConfiguration", {}).get("types"),
        }
        return ResourceOutcome(
            id=api_id,
            arn=self._arn(ctx, "rest", api_id),
            state=ResourceState.ACTIVE,
            tags=dict(api.get("tags") or {}),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update -------------------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        api_type = str(outcome.metadata["api_type"])
        settings = self._settings(ctx, api_type, creating=False)
        try:
            if api_type == "http" and (settings.name or settings.description or settings.cors is not None):
                request: dict[str, Any] = {"ApiId": resource_id}
                if settings.name:
                    request["Name"] = settings.name
                if settings.description:
                    request["Description"] = settings.description
                if settings.cors is not None:
                    request["CorsConfiguration"] = settings.cors
                ctx.client("apigatewayv2").update_api(**request)
            elif api_type == "rest" and (settings.name or settings.description):
                patches = [{"op": "replace", "path": "/name", "value": settings.name}] if settings.name else []
                if settings.description:
                    patches.append({"op": "replace", "path": "/description", "value": settings.description})
                ctx.client("apigateway").update_rest_api(restApiId=resource_id, patchOperations=patches)
        except ClientError as exc:
            raise aws_error(exc, f"update {api_type} API {resource_id}") from exc
        if settings.tags:
            self.tag(ctx, resource_id, settings.tags)
        return self.status(ctx, resource_id)

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        api_type = outcome.metadata["api_type"]
        try:
            if api_type == "http":
                ctx.client("apigatewayv2").delete_api(ApiId=resource_id)
            else:
                ctx.client("apigateway").delete_rest_api(restApiId=resource_id)
        except ClientError as exc:
            if error_code(exc) == "ConflictException":
                raise ResourceConflict(f"API {resource_id} is still in use: {exc}") from exc
            if error_code(exc) not in _NOT_FOUND:
                raise aws_error(exc, f"delete {api_type} API {resource_id}") from exc
        return outcome.model_copy(
            update={"state": ResourceState.TERMINATED, "ready": True, "metadata": {**outcome.metadata, "deleted": True}}
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def _list(self, ctx: ProviderContext, api_type: str) -> list[ResourceOutcome]:
        try:
            if api_type == "http":
                # GetApis has no paginator in botocore: follow NextToken by hand.
                v2 = ctx.client("apigatewayv2")
                found: list[ResourceOutcome] = []
                token: str | None = None
                while True:
                    page = v2.get_apis(**({"NextToken": token} if token else {}))
                    found += [self._http_outcome(ctx, api) for api in page.get("Items", [])]
                    token = page.get("NextToken")
                    if not token:
                        return found
            pages = ctx.client("apigateway").get_paginator("get_rest_apis").paginate()
            return [self._rest_outcome(ctx, api) for page in pages for api in page.get("items", [])]
        except ClientError as exc:
            raise aws_error(exc, f"list {api_type} APIs in {ctx.task.region}") from exc

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        api_type = self._api_type(ctx)  # both kinds unless the task narrows it
        return [api for kind in ([api_type] if api_type else API_TYPES) for api in self._list(ctx, kind)]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        api_type = self._api_type(ctx) or str(self.status(ctx, resource_id).metadata["api_type"])
        arn = self._arn(ctx, api_type, resource_id)
        try:
            if api_type == "http":
                ctx.client("apigatewayv2").tag_resource(ResourceArn=arn, Tags=tags)
            else:
                ctx.client("apigateway").tag_resource(resourceArn=arn, tags=tags)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ResourceNotFound(f"API Gateway API {resource_id} does not exist") from exc
            raise aws_error(exc, f"tag {api_type} API {resource_id}") from exc
