"""CloudFront distributions: created with tags (caller reference = task id), deleted by disable -> deployed -> delete.

Deletion takes two deployments' time (15+ minutes): `delete` disables the distribution and returns not ready; the
state machine's wait loop then polls `status`, which - for a delete task only, and only for a managed distribution -
deletes it once it is disabled and deployed, and reports it Terminated (a poll that finds it gone ends the same way).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError, TransientAwsError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import (
    aws_error,
    named_id,
    operation_of,
    opt_bool,
    opt_str,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from .base import TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

_DISTRIBUTION_ID = re.compile(r"^[A-Z0-9]{6,20}$")
_HOST = re.compile(r"^(?=.{1,253}$)(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+[A-Za-z]{2,63}$")
_EXISTING_ID = re.compile(r"Already exists: ([A-Z0-9]+)")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
# AWS's managed "CachingOptimized" cache policy: the recommended default for static and S3 origins.
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ORIGIN_ID = "origin-1"
_NOT_FOUND = ("NoSuchDistribution",)
_STALE = ("PreconditionFailed", "InvalidIfMatchVersion")


def get_config(cf: Any, distribution_id: str) -> tuple[dict[str, Any], str]:
    """A distribution's config and its ETag, which UpdateDistribution and DeleteDistribution must quote."""
    try:
        response = cf.get_distribution_config(Id=distribution_id)
    except ClientError as exc:
        if error_code(exc) in _NOT_FOUND:
            raise ResourceNotFound(f"CloudFront distribution {distribution_id} does not exist") from exc
        raise aws_error(exc, f"get config of distribution {distribution_id}") from exc
    return dict(response["DistributionConfig"]), str(response["ETag"])


def put_config(cf: Any, distribution_id: str, config: dict[str, Any], etag: str) -> dict[str, Any]:
    """UpdateDistribution with the ETag read; a concurrent change (stale ETag) is retried by the state machine."""
    try:
        return dict(cf.update_distribution(Id=distribution_id, IfMatch=etag, DistributionConfig=config)["Distribution"])
    except ClientError as exc:
        if error_code(exc) in _STALE:
            raise TransientAwsError(f"distribution {distribution_id} changed meanwhile; retrying: {exc}") from exc
        if error_code(exc) in _NOT_FOUND:
            raise ResourceNotFound(f"CloudFront distribution {distribution_id} does not exist") from exc
        raise aws_error(exc, f"update distribution {distribution_id}") from exc


def _origin(domain: str, path: str | None) -> dict[str, Any]:
    origin: dict[str, Any] = {"Id": ORIGIN_ID, "DomainName": domain}
    if path:
        origin["OriginPath"] = path
    if ".s3." in domain or domain.endswith(".s3.amazonaws.com"):
        origin["S3OriginConfig"] = {"OriginAccessIdentity": ""}
    else:
        origin["CustomOriginConfig"] = {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}
    return origin


class CloudFrontDistributionProvider(ResourceProvider):
    resource_type = AwsResourceType.CLOUDFRONT_DISTRIBUTION

    # A deployment to every edge location takes 5 to 15 minutes; a delete needs two (disable, then delete).
    poll_seconds: ClassVar[int] = 30
    deadline_seconds: ClassVar[int] = 45 * 60

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        return named_id(
            ctx,
            "distribution_id",
            max_len=32,
            pattern=_DISTRIBUTION_ID,
            invalid="is not a CloudFront distribution id (e.g. E1A2B3C4D5E6F7)",
            default=None,
        )

    @staticmethod
    def _arn(ctx: ProviderContext, distribution_id: str) -> str:
        return f"arn:aws:cloudfront::{ctx.task.account_id}:distribution/{distribution_id}"

    @staticmethod
    def _price_class(ctx: ProviderContext) -> str | None:
        value = opt_str(ctx.params, "price_class", max_len=32)
        if value is not None and value not in PRICE_CLASSES:
            raise TaskAnalysisError(f"parameter 'price_class' must be one of {', '.join(PRICE_CLASSES)}")
        return value

    def _create_config(self, ctx: ProviderContext) -> dict[str, Any]:
        domain = opt_str(ctx.params, "origin_domain", max_len=253)
        if domain is None:
            raise TaskAnalysisError("missing parameter 'origin_domain' (e.g. my-bucket.s3.us-east-1.amazonaws.com)")
        if not _HOST.match(domain):
            raise TaskAnalysisError(f"parameter 'origin_domain' {domain!r} is not a host name")
        path = opt_str(ctx.params, "origin_path", max_len=255)
        if path is not None and (not path.startswith("/") or path.endswith("/")):
            raise TaskAnalysisError("parameter 'origin_path' must start with '/' and not end with '/'")
        enabled = opt_bool(ctx.params, "enabled")
        config: dict[str, Any] = {
            # The task id: CloudFront refuses a second distribution for the same reference, so a replay cannot
            # create a duplicate.
            "CallerReference": ctx.task.id,
            "Comment": opt_str(ctx.params, "comment", max_len=128) or f"Managed by Miyabi (task {ctx.task.id})",
            "Enabled": True if enabled is None else enabled,
            "Origins": {"Quantity": 1, "Items": [_origin(domain, path)]},
            "DefaultCacheBehavior": {
                "TargetOriginId": ORIGIN_ID,
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_OPTIMIZED,
                "Compress": True,
            },
            "PriceClass": self._price_class(ctx) or "PriceClass_100",
            "HttpVersion": "http2and3",
            "IsIPV6Enabled": True,
        }
        root = opt_str(ctx.params, "default_root_object", max_len=255)
        if root:
            config["DefaultRootObject"] = root
        return config

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["cloudfront:ListDistributions", "cloudfront:ListTagsForResource"])
        if operation == "create":
            config = self._create_config(ctx)
            return {
                "operation": operation,
                "resource_id": None,
                "calls": ["cloudfront:CreateDistributionWithTags"],
                "parameters": {
                    "caller_reference": config["CallerReference"],
                    "origin": config["Origins"]["Items"][0],
                    "price_class": config["PriceClass"],
                    "enabled": config["Enabled"],
                    "tags": ctx.managed_tags(),
                },
            }
        distribution_id = self.resource_id(ctx)
        outcome = self._observe(ctx, distribution_id)
        self.require_managed(outcome)
        if operation == "update":
            changes, tags = self._update_settings(ctx)
            calls = ["cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution"] if changes else []
            calls += ["cloudfront:TagResource"] if tags else []
            return {
                "operation": operation,
                "resource_id": distribution_id,
                "calls": calls,
                "parameters": {"changes": changes, "tags": tags},
            }
        calls = ["cloudfront:UpdateDistribution (Enabled=false)"] if outcome.metadata["enabled"] else []
        return {
            "operation": operation,
            "resource_id": distribution_id,
            "calls": [*calls, "cloudfront:DeleteDistribution (once disabled and deployed)"],
            "parameters": {"distribution_status": outcome.metadata["distribution_status"]},
        }

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        config = self._create_config(ctx)
        cf = ctx.client("cloudfront")
        try:
            distribution = cf.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {"Items": tag_list(ctx.managed_tags())},
                }
            )["Distribution"]
        except ClientError as exc:
            if error_code(exc) != "DistributionAlreadyExists":
                raise aws_error(exc, "create distribution") from exc
            # A replay: CloudFront names the distribution that holds this task's caller reference.
            match = _EXISTING_ID.search(str(exc.response.get("Error", {}).get("Message", "")))
            if match is None:
                raise ResourceConflict(f"caller reference {ctx.task.id} is already used by a distribution") from exc
            existing = self._observe(ctx, match.group(1))
            if existing.tags.get(TASK_TAG) != ctx.task.id:
                raise ResourceConflict(
                    f"caller reference {ctx.task.id} belongs to distribution {existing.id}, not made by this task"
                ) from exc
            return existing
        return self._outcome(ctx, distribution, ctx.managed_tags())

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """The distribution's state; during a delete task, also the delete once the disable has deployed."""
        outcome = self._observe(ctx, resource_id)
        if ctx.task.task_type is not AwsTaskType.DELETE_RESOURCE or not outcome.ready:
            return outcome
        self.require_managed(outcome)
        if outcome.metadata["enabled"]:
            raise ResourceConflict(
                f"distribution {resource_id} was enabled again while being deleted; send a new delete task"
            )
        return self._delete_disabled(ctx, outcome)

    def _observe(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        cf = ctx.client("cloudfront")
        try:
            distribution = cf.get_distribution(Id=resource_id)["Distribution"]
            tags = tag_dict(cf.list_tags_for_resource(Resource=distribution["ARN"])["Tags"].get("Items"))
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ResourceNotFound(f"CloudFront distribution {resource_id} does not exist") from exc
            raise aws_error(exc, f"get distribution {resource_id}") from exc
        return self._outcome(ctx, distribution, tags)

    def _outcome(self, ctx: ProviderContext, distribution: dict[str, Any], tags: dict[str, str]) -> ResourceOutcome:
        status = str(distribution.get("Status", "InProgress"))
        config = distribution.get("DistributionConfig", distribution)  # list items carry the config inline
        if status == "Deployed":
            state, ready = ResourceState.ACTIVE, True
        else:
            state = {
                AwsTaskType.CREATE_RESOURCE: ResourceState.CREATING,
                AwsTaskType.DELETE_RESOURCE: ResourceState.DELETING,
            }.get(ctx.task.task_type, ResourceState.UPDATING)
            ready = False
        origins = config.get("Origins", {}).get("Items", [])
        metadata = {
            "distribution_status": status,
            "enabled": bool(config.get("Enabled")),
            "domain_name": distribution.get("DomainName"),
            "origin_domain": origins[0]["DomainName"] if origins else None,
            "price_class": config.get("PriceClass"),
            "comment": config.get("Comment"),
            "edge_associations": len(
                config.get("DefaultCacheBehavior", {}).get("LambdaFunctionAssociations", {}).get("Items") or []
            ),
        }
        distribution_id = str(distribution["Id"])
        return ResourceOutcome(
            id=distribution_id,
            arn=str(distribution.get("ARN") or self._arn(ctx, distribution_id)),
            state=state,
            ready=ready,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(self, ctx: ProviderContext) -> tuple[dict[str, Any], dict[str, str]]:
        changes: dict[str, Any] = {}
        comment = opt_str(ctx.params, "comment", max_len=128)
        if comment is not None:
            changes["Comment"] = comment
        enabled = opt_bool(ctx.params, "enabled")
        if enabled is not None:
            changes["Enabled"] = enabled
        price_class = self._price_class(ctx)
        if price_class is not None:
            changes["PriceClass"] = price_class
        root = opt_str(ctx.params, "default_root_object", max_len=255)
        if root is not None:
            changes["DefaultRootObject"] = root
        tags = requested_tag_update(ctx.params)
        if not changes and not tags:
            raise TaskAnalysisError(
                "a CloudFront update needs at least one of the parameters: comment, enabled, price_class, "
                "default_root_object, tags"
            )
        return changes, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        changes, tags = self._update_settings(ctx)
        outcome = self._observe(ctx, resource_id)
        self.require_managed(outcome)
        if tags:
            self.tag(ctx, resource_id, tags)
        if not changes:
            return self._observe(ctx, resource_id)
        cf = ctx.client("cloudfront")
        config, etag = get_config(cf, resource_id)
        if all(config.get(k) == v for k, v in changes.items()):  # nothing to deploy (e.g. a replay)
            return self._observe(ctx, resource_id)
        distribution = put_config(cf, resource_id, {**config, **changes}, etag)
        return self._outcome(ctx, distribution, {**outcome.tags, **tags})

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self._observe(ctx, resource_id)
        self.require_managed(outcome)
        if not outcome.metadata["enabled"] and outcome.metadata["distribution_status"] == "Deployed":
            return self._delete_disabled(ctx, outcome)
        if outcome.metadata["enabled"]:
            cf = ctx.client("cloudfront")
            config, etag = get_config(cf, resource_id)
            distribution = put_config(cf, resource_id, {**config, "Enabled": False}, etag)
            outcome = self._outcome(ctx, distribution, outcome.tags)
        # Disabled, deploying: the wait loop polls `status`, which deletes once deployed.
        return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})

    def _delete_disabled(self, ctx: ProviderContext, outcome: ResourceOutcome) -> ResourceOutcome:
        cf = ctx.client("cloudfront")
        try:
            _, etag = get_config(cf, outcome.id)
            cf.delete_distribution(Id=outcome.id, IfMatch=etag)
        except ResourceNotFound:
            pass  # deleted by an earlier poll: the goal is reached
        except ClientError as exc:
            if error_code(exc) in (*_STALE, "DistributionNotDisabled"):
                raise TransientAwsError(f"distribution {outcome.id} is not ready to delete yet: {exc}") from exc
            raise aws_error(exc, f"delete distribution {outcome.id}") from exc
        return outcome.model_copy(
            update={
                "state": ResourceState.TERMINATED,
                "ready": True,
                "metadata": {**outcome.metadata, "deleted": True},
            }
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        """Every distribution of the account (CloudFront is global: the task's region does not narrow it)."""
        cf = ctx.client("cloudfront")
        found: list[ResourceOutcome] = []
        try:
            for page in cf.get_paginator("list_distributions").paginate():
                for item in page.get("DistributionList", {}).get("Items", []) or []:
                    tags = tag_dict(cf.list_tags_for_resource(Resource=item["ARN"])["Tags"].get("Items"))
                    found.append(self._outcome(ctx, item, tags))
        except ClientError as exc:
            raise aws_error(exc, "list distributions") from exc
        return found

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        try:
            ctx.client("cloudfront").tag_resource(Resource=self._arn(ctx, resource_id), Tags={"Items": tag_list(tags)})
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ResourceNotFound(f"CloudFront distribution {resource_id} does not exist") from exc
            raise aws_error(exc, f"tag distribution {resource_id}") from exc
