"""Lambda@Edge: a versioned function in us-east-1 (the Lambda provider's code), associated with a distribution.

The function always lives in us-east-1, whatever the task's region: CloudFront replicates only from there. Deleting
disassociates it first; CloudFront then removes the replicas at its edge locations, which can take hours, and Lambda
refuses to delete a function while replicas remain. `delete` therefore returns not ready and the state machine's wait
loop polls `status`, which - for a delete task only - retries the deletion until Lambda accepts it (or the deadline).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from botocore.exceptions import ClientError, WaiterError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError, TransientAwsError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import aws_error, operation_of, opt_bool, opt_int, opt_str
from .base import MANAGED_TAG, ProviderContext, ResourceOutcome, ResourceProvider
from .cloudfront import get_config, put_config
from .lambda_function import LambdaFunctionProvider

EDGE_REGION = "us-east-1"
EDGE_TAG = "MiyabiLambdaEdge"  # marks the agent's edge functions among the region's Lambda functions
EVENT_TYPES = ("viewer-request", "viewer-response", "origin-request", "origin-response")
# Lambda@Edge quotas: viewer triggers get 128 MB and 5 s, origin triggers up to 10,240 MB and 30 s.
_LIMITS = {"viewer": (128, 5), "origin": (10240, 30)}
_FUNCTION_PARAMS = ("code", "s3_bucket", "s3_key", "memory_size", "timeout", "runtime", "handler", "description")


def _associations(behavior: dict[str, Any]) -> list[dict[str, Any]]:
    return list(behavior.get("LambdaFunctionAssociations", {}).get("Items") or [])


def _behaviors(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [config["DefaultCacheBehavior"], *(config.get("CacheBehaviors", {}).get("Items") or [])]


def _is_version_of(association_arn: str, function_arn: str) -> bool:
    return association_arn.startswith(f"{function_arn}:")


class LambdaEdgeProvider(ResourceProvider):
    resource_type = AwsResourceType.LAMBDA_EDGE

    # An association deploys the distribution (minutes); replica clean-up after a disassociation can take hours,
    # but a delete task gives up after the deadline (a later delete task finishes it).
    poll_seconds: ClassVar[int] = 60
    deadline_seconds: ClassVar[int] = 60 * 60

    functions = LambdaFunctionProvider()

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        return self.functions.resource_id(self._edge(ctx))

    @staticmethod
    def _event_type(ctx: ProviderContext) -> str | None:
        value = opt_str(ctx.params, "event_type", max_len=32)
        if value is not None and value not in EVENT_TYPES:
            raise TaskAnalysisError(f"parameter 'event_type' must be one of {', '.join(EVENT_TYPES)}")
        return value

    def _association(self, ctx: ProviderContext) -> tuple[str, str, str | None, bool] | None:
        """(distribution id, event type, path pattern, include body) when the task asks for an association."""
        distribution_id = opt_str(ctx.params, "distribution_id", max_len=32)
        event_type = self._event_type(ctx)
        if distribution_id is None:
            if event_type is not None:
                raise TaskAnalysisError(
                    "parameter 'event_type' needs 'distribution_id' (the distribution to attach to)"
                )
            return None
        if event_type is None:
            raise TaskAnalysisError(f"parameter 'distribution_id' needs 'event_type' ({', '.join(EVENT_TYPES)})")
        include_body = bool(opt_bool(ctx.params, "include_body"))
        if include_body and not event_type.endswith("-request"):
            raise TaskAnalysisError("parameter 'include_body' applies to viewer-request and origin-request only")
        return distribution_id, event_type, opt_str(ctx.params, "path_pattern", max_len=255), include_body

    def _edge(self, ctx: ProviderContext, *, creating: bool = False) -> ProviderContext:
        """The task as the Lambda provider sees it: in us-east-1, with Lambda@Edge's constraints applied."""
        params = dict(ctx.params)
        if params.get("environment"):
            raise TaskAnalysisError("Lambda@Edge functions cannot have environment variables (parameter 'environment')")
        architecture = params.pop("architectures", params.get("architecture"))
        if architecture not in (None, "x86_64", ["x86_64"]):
            raise TaskAnalysisError("Lambda@Edge runs on x86_64 only (parameter 'architecture')")
        params["architecture"] = "x86_64"
        event_type = self._event_type(ctx)
        if event_type is not None:
            max_memory, max_timeout = _LIMITS[event_type.split("-")[0]]
            memory = opt_int(params, "memory_size", low=128, high=10240)
            timeout = opt_int(params, "timeout", low=1, high=30)
            if memory is not None and memory > max_memory:
                raise TaskAnalysisError(f"a {event_type} function may have at most {max_memory} MB")
            if timeout is not None and timeout > max_timeout:
                raise TaskAnalysisError(f"a {event_type} function may run at most {max_timeout} s")
        if creating:
            params.setdefault("timeout", 5)
            params["tags"] = {**dict(params.get("tags") or {}), EDGE_TAG: "true"}
        task = ctx.task.model_copy(update={"region": EDGE_REGION, "parameters": params})
        return dataclasses.replace(ctx, task=task)

    def _function_changes(self, ctx: ProviderContext) -> bool:
        return any(ctx.params.get(k) is not None for k in (*_FUNCTION_PARAMS, "tags"))

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        association = self._association(ctx)
        edge = self._edge(ctx, creating=operation == "create")
        if operation == "discover":
            plan = self.functions.plan(edge)
            return {**plan, "calls": [*plan["calls"], "cloudfront:ListDistributions"]}
        if operation == "create":
            plan = self.functions.plan(edge)
            calls = [*plan["calls"], "lambda:ListVersionsByFunction"]
        elif operation == "update":
            if not self._function_changes(ctx) and association is None:
                raise TaskAnalysisError(self._empty_update)
            plan = self.functions.plan(edge) if self._function_changes(ctx) else self._managed_plan(ctx, edge)
            calls = [*plan["calls"], "lambda:PublishVersion"]
        else:
            plan = self._managed_plan(ctx, edge)
            calls = ["lambda:DeleteFunction (once CloudFront removed the replicas)"]
        if association is not None:
            self._check_distribution(ctx, association[0])
            if operation == "delete":  # disassociate first, delete after the deployment
                calls = [f"cloudfront:UpdateDistribution (disassociate {association[1]})", *calls]
            else:
                calls = [*calls, f"cloudfront:UpdateDistribution (associate {association[1]})"]
        parameters = {**plan["parameters"], "region": EDGE_REGION}
        if association is not None:
            parameters.update(distribution_id=association[0], event_type=association[1], path_pattern=association[2])
        return {"operation": operation, "resource_id": plan["resource_id"], "calls": calls, "parameters": parameters}

    def _managed_plan(self, ctx: ProviderContext, edge: ProviderContext) -> dict[str, Any]:
        name = self.resource_id(ctx)
        self.require_managed(self.functions.status(edge, name))
        return {"resource_id": name, "calls": [], "parameters": {}}

    _empty_update = (
        "a Lambda@Edge update needs function parameters (code, s3_bucket + s3_key, memory_size, timeout, runtime, "
        "handler, description, tags) or an association (distribution_id + event_type)"
    )

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        association = self._association(ctx)
        edge = self._edge(ctx, creating=True)
        if association is not None:
            self._check_distribution(ctx, association[0])
        created = self.functions.create(edge)  # idempotent: a replay finds this task's function
        name = created.id
        version_arn = self._latest_version(edge, name) or self._publish(edge, name)
        if association is not None:
            if not created.ready:  # CloudFront accepts only an active version
                raise TransientAwsError(
                    f"Lambda@Edge function {name} is still {created.state.value}; associating later"
                )
            self._associate(ctx, version_arn, association)
        return self.status(ctx, name)

    def _latest_version(self, edge: ProviderContext, name: str) -> str | None:
        """The ARN of the newest published version (not $LATEST), or None if none is published."""
        lam = edge.client("lambda")
        try:
            pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=name)
            versions = [v for page in pages for v in page.get("Versions", []) if v.get("Version", "").isdigit()]
        except ClientError as exc:
            raise aws_error(
                exc, f"list versions of {name}", not_found=f"Lambda@Edge function {name} does not exist"
            ) from exc
        if not versions:
            return None
        return str(max(versions, key=lambda v: int(v["Version"]))["FunctionArn"])

    def _publish(self, edge: ProviderContext, name: str) -> str:
        """Publish $LATEST as a version (Lambda returns the existing version when nothing changed since)."""
        lam = edge.client("lambda")
        try:
            lam.get_waiter("function_updated").wait(FunctionName=name, WaiterConfig=self.functions.update_waiter_config)
            return str(lam.publish_version(FunctionName=name)["FunctionArn"])
        except WaiterError as exc:
            raise TransientAwsError(f"Lambda@Edge function {name} is still updating: {exc}") from exc
        except ClientError as exc:
            if error_code(exc) == "ResourceConflictException":
                raise TransientAwsError(f"publish a version of {name}: {exc}") from exc
            raise aws_error(exc, f"publish a version of {name}") from exc

    # --- the distribution side ----------------------------------------------------------------------------------

    @staticmethod
    def _check_distribution(ctx: ProviderContext, distribution_id: str) -> dict[str, Any]:
        """The distribution, which must be managed: associating a function changes the distribution."""
        cf = ctx.client("cloudfront")
        try:
            distribution = cf.get_distribution(Id=distribution_id)["Distribution"]
            tags = cf.list_tags_for_resource(Resource=distribution["ARN"])["Tags"].get("Items") or []
        except ClientError as exc:
            if error_code(exc) == "NoSuchDistribution":
                raise ResourceNotFound(f"CloudFront distribution {distribution_id} does not exist") from exc
            raise aws_error(exc, f"get distribution {distribution_id}") from exc
        if {t["Key"]: t.get("Value") for t in tags}.get(MANAGED_TAG) != "true":
            raise ResourceConflict(
                f"CloudFront distribution {distribution_id} is not tagged {MANAGED_TAG}=true; the agent associates "
                "functions only with distributions it manages"
            )
        return dict(distribution)

    def _associate(
        self, ctx: ProviderContext, version_arn: str, association: tuple[str, str, str | None, bool]
    ) -> None:
        distribution_id, event_type, path_pattern, include_body = association
        function_arn = version_arn.rsplit(":", 1)[0]
        cf = ctx.client("cloudfront")
        config, etag = get_config(cf, distribution_id)
        behavior = self._behavior(config, path_pattern)
        current = _associations(behavior)
        wanted = {"LambdaFunctionARN": version_arn, "EventType": event_type, "IncludeBody": include_body}
        if wanted in current:  # a replay: already in place
            return
        others = [
            a
            for a in current
            if not (_is_version_of(a["LambdaFunctionARN"], function_arn) and a["EventType"] == event_type)
        ]
        clash = [a for a in others if a["EventType"] == event_type]
        if clash:
            raise ResourceConflict(
                f"distribution {distribution_id} already runs {clash[0]['LambdaFunctionARN']} on {event_type}; "
                "one function per event type and cache behavior"
            )
        items = [*others, wanted]
        behavior["LambdaFunctionAssociations"] = {"Quantity": len(items), "Items": items}
        put_config(cf, distribution_id, config, etag)

    @staticmethod
    def _behavior(config: dict[str, Any], path_pattern: str | None) -> dict[str, Any]:
        if path_pattern is None:
            default: dict[str, Any] = config["DefaultCacheBehavior"]
            return default
        for behavior in config.get("CacheBehaviors", {}).get("Items") or []:
            if behavior.get("PathPattern") == path_pattern:
                found: dict[str, Any] = behavior
                return found
        raise TaskAnalysisError(f"the distribution has no cache behavior for path pattern {path_pattern!r}")

    def _disassociate(self, ctx: ProviderContext, distribution_id: str, function_arn: str) -> bool:
        """Remove every version of the function from every cache behavior; whether anything changed."""
        cf = ctx.client("cloudfront")
        config, etag = get_config(cf, distribution_id)
        changed = False
        for behavior in _behaviors(config):
            current = _associations(behavior)
            kept = [a for a in current if not _is_version_of(a["LambdaFunctionARN"], function_arn)]
            if len(kept) != len(current):
                behavior["LambdaFunctionAssociations"] = {"Quantity": len(kept), "Items": kept}
                changed = True
        if changed:
            put_config(cf, distribution_id, config, etag)
        return changed

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """The function (in us-east-1), its newest version and, with `distribution_id`, the association's deployment.

        During a delete task this also advances the deletion: once the distribution has deployed without the function,
        it tries DeleteFunction again (Lambda refuses while CloudFront still holds replicas).
        """
        edge = self._edge(ctx)
        outcome = self.functions.status(edge, resource_id)
        version_arn = self._latest_version(edge, resource_id)
        metadata: dict[str, Any] = {**outcome.metadata, "region": EDGE_REGION, "version_arn": version_arn}
        ready = outcome.ready
        association = self._association(ctx)
        if association is not None:
            distribution = self._check_distribution(ctx, association[0])
            deployed = distribution.get("Status") == "Deployed"
            attached = [
                a["LambdaFunctionARN"]
                for behavior in _behaviors(distribution["DistributionConfig"])
                for a in _associations(behavior)
                if _is_version_of(a["LambdaFunctionARN"], outcome.arn)
            ]
            metadata.update(distribution_id=association[0], distribution_status=distribution.get("Status"))
            metadata.update(event_type=association[1], associated_versions=attached)
            ready = ready and deployed
            if ctx.task.task_type is AwsTaskType.DELETE_RESOURCE and (not deployed or attached):
                return outcome.model_copy(
                    update={"state": ResourceState.DELETING, "ready": False, "metadata": metadata}
                )
        result = outcome.model_copy(update={"ready": ready, "metadata": metadata})
        if ctx.task.task_type is AwsTaskType.DELETE_RESOURCE:
            self.require_managed(result)
            return self._delete_function(edge, result)
        if not ready and result.state is ResourceState.ACTIVE:
            result.state = (
                ResourceState.CREATING if ctx.task.task_type is AwsTaskType.CREATE_RESOURCE else ResourceState.UPDATING
            )
        return result

    # --- update -------------------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        association = self._association(ctx)
        if not self._function_changes(ctx) and association is None:
            raise TaskAnalysisError(self._empty_update)
        edge = self._edge(ctx)
        current = self.functions.status(edge, resource_id)
        self.require_managed(current)
        if association is not None:
            self._check_distribution(ctx, association[0])
        if self._function_changes(ctx):
            self.functions.update(edge, resource_id)
        # A distribution runs a numbered version, never $LATEST: publish what the update produced.
        version_arn = self._publish(edge, resource_id)
        if association is not None:
            self._associate(ctx, version_arn, association)
        return self.status(ctx, resource_id)

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        edge = self._edge(ctx)
        outcome = self.functions.status(edge, resource_id)
        self.require_managed(outcome)
        association = self._association(ctx)
        if association is not None and self._disassociate(ctx, association[0], outcome.arn):
            # The distribution deploys without the function; the wait loop's polls then delete it.
            return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})
        return self._delete_function(edge, outcome)

    @staticmethod
    def _delete_function(edge: ProviderContext, outcome: ResourceOutcome) -> ResourceOutcome:
        try:
            edge.client("lambda").delete_function(FunctionName=outcome.id)
        except ClientError as exc:
            code = error_code(exc)
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "InvalidParameterValueException" and "replicated function" in message:
                # CloudFront still holds replicas (hours after a disassociation): keep polling.
                metadata = {**outcome.metadata, "waiting_for": "replica removal"}
                return outcome.model_copy(
                    update={"state": ResourceState.DELETING, "ready": False, "metadata": metadata}
                )
            if code != "ResourceNotFoundException":
                raise aws_error(exc, f"delete Lambda@Edge function {outcome.id}") from exc
        return outcome.model_copy(
            update={"state": ResourceState.TERMINATED, "ready": True, "metadata": {**outcome.metadata, "deleted": True}}
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        """us-east-1 functions marked as the agent's edge functions or associated with a distribution of the account."""
        edge = self._edge(ctx)
        associated: set[str] = set()
        try:
            for page in ctx.client("cloudfront").get_paginator("list_distributions").paginate():
                for item in page.get("DistributionList", {}).get("Items", []) or []:
                    for behavior in _behaviors(item):
                        associated.update(a["LambdaFunctionARN"].rsplit(":", 1)[0] for a in _associations(behavior))
        except ClientError as exc:
            raise aws_error(exc, "list distributions") from exc
        return [f for f in self.functions.discover(edge) if f.tags.get(EDGE_TAG) == "true" or f.arn in associated]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        self.functions.tag(self._edge(ctx), resource_id, tags)
