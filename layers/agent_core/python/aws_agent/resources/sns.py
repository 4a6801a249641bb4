"""SNS topics: created idempotently by name, tagged at creation; display name, KMS key and policy updatable."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import (
    aws_error,
    check_owner,
    create_plan,
    find_existing,
    live_statuses,
    operation_of,
    opt_str,
    partition_for,
    requested_tag_update,
    short_hash,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import paged
from .base import ProviderContext, ResourceOutcome, ResourceProvider

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_FIFO_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):(.+)$")
_NOT_FOUND = ("NotFound", "NotFoundException", "ResourceNotFoundException")
# Parameter -> SNS topic attribute; "" clears an attribute where SNS allows it (KmsMasterKeyId, DisplayName).
_ATTRIBUTES = {"display_name": "DisplayName", "kms_key_id": "KmsMasterKeyId", "policy": "Policy"}


def _policy_text(value: Any) -> str | None:
    """A topic access policy given as a JSON object or JSON text, as the compact text SNS stores."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise TaskAnalysisError("parameter 'policy' must be a JSON policy document") from exc
    if not isinstance(value, dict) or "Statement" not in value:
        raise TaskAnalysisError("parameter 'policy' must be an IAM policy document with a 'Statement'")
    return json.dumps(value, separators=(",", ":"))


class SnsTopicProvider(ResourceProvider):
    resource_type = AwsResourceType.SNS

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        """The topic name (an ARN in `topic_arn` or `topic_name` is reduced to it; it must be in the task's target)."""
        value = opt_str(ctx.params, "topic_name", max_len=300) or opt_str(ctx.params, "topic_arn", max_len=400)
        if value is None:
            if ctx.task.task_type is AwsTaskType.CREATE_RESOURCE:
                return f"miyabi-{short_hash(ctx.task.id)}"
            raise TaskAnalysisError("missing parameter 'topic_name' (or 'topic_arn')")
        match = _TOPIC_ARN.match(value)
        if match:
            region, account, value = match.groups()
            if (region, account) != (ctx.task.region, ctx.task.account_id):
                raise TaskAnalysisError(
                    f"topic {value} is in {account}/{region}, not in the task's {ctx.task.account_id}/{ctx.task.region}"
                )
        if not (_TOPIC_NAME.match(value) or _FIFO_NAME.match(value)):
            raise TaskAnalysisError(
                f"topic name {value!r} must be 1 to 256 letters, digits, hyphens or underscores (FIFO: ending .fifo)"
            )
        return value

    @staticmethod
    def _arn(ctx: ProviderContext, name: str) -> str:
        return f"arn:{partition_for(ctx.task.region)}:sns:{ctx.task.region}:{ctx.task.account_id}:{name}"

    @staticmethod
    def _attributes(ctx: ProviderContext) -> dict[str, str]:
        params = ctx.params
        attributes: dict[str, str] = {}
        display_name = params.get("display_name")
        if display_name is not None:
            if not isinstance(display_name, str) or len(display_name) > 100:
                raise TaskAnalysisError("parameter 'display_name' must be a string of at most 100 characters")
            attributes["DisplayName"] = display_name
        kms = params.get("kms_key_id")
        if kms is not None:
            if not isinstance(kms, str) or len(kms) > 2048:
                raise TaskAnalysisError("parameter 'kms_key_id' must be a KMS key id, alias or ARN ('' to disable)")
            attributes["KmsMasterKeyId"] = kms
        policy = _policy_text(params.get("policy"))
        if policy is not None:
            attributes["Policy"] = policy
        return attributes

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["sns:ListTopics", "sns:ListTagsForResource"], region=ctx.task.region)
        name = self.resource_id(ctx)
        if operation == "create":
            attributes = self._attributes(ctx)
            parameters = {"topic_name": name, "attributes": sorted(attributes), "tags": ctx.managed_tags()}
            existing = find_existing(self.status, ctx, name)
            if existing is not None:
                self._check_owner(ctx, existing)
            return create_plan(ctx, name, existing, ["sns:CreateTopic"], parameters)
        if operation == "update":
            attributes, tags = self._update_settings(ctx)
            self.managed_status(ctx, name)
            calls = ["sns:SetTopicAttributes"] * bool(attributes) + ["sns:TagResource"] * bool(tags)
            return {
                "operation": operation,
                "resource_id": name,
                "calls": calls,
                "parameters": {"attributes": sorted(attributes), "tags": tags},
            }
        self.managed_status(ctx, name)
        return {"operation": operation, "resource_id": name, "calls": ["sns:DeleteTopic"], "parameters": {}}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        name = self.resource_id(ctx)
        attributes = self._attributes(ctx)
        # CreateTopic returns the existing topic for a repeated name, and would quietly adopt a topic someone else
        # made: look first, so only this task's own topic is resumed.
        existing = find_existing(self.status, ctx, name)
        if existing is not None:
            self._check_owner(ctx, existing)
            return existing
        if name.endswith(".fifo"):
            attributes["FifoTopic"] = "true"
        try:
            ctx.client("sns").create_topic(Name=name, Attributes=attributes, Tags=tag_list(ctx.managed_tags()))
        except ClientError as exc:
            raise aws_error(exc, f"create topic {name}") from exc
        return self.status(ctx, name)

    @staticmethod
    def _check_owner(ctx: ProviderContext, existing: ResourceOutcome) -> None:
        check_owner(ctx, existing, "SNS topic", "topic_name", untagged="is unmanaged", hint_owned=False)

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        sns = ctx.client("sns")
        arn = self._arn(ctx, resource_id)
        try:
            attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
            tags = tag_dict(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ResourceNotFound(
                    f"SNS topic {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
                ) from exc
            raise aws_error(exc, f"get attributes of topic {resource_id}") from exc
        return self._outcome(ctx, resource_id, attributes, tags)

    def _outcome(
        self, ctx: ProviderContext, name: str, attributes: dict[str, str], tags: dict[str, str]
    ) -> ResourceOutcome:
        metadata = {
            "topic_name": name,
            "topic_arn": attributes.get("TopicArn", self._arn(ctx, name)),
            "display_name": attributes.get("DisplayName", ""),
            "kms_key_id": attributes.get("KmsMasterKeyId", ""),
            "fifo": attributes.get("FifoTopic", "false") == "true",
            "subscriptions_confirmed": int(attributes.get("SubscriptionsConfirmed", "0") or 0),
            "has_policy": bool(attributes.get("Policy")),
        }
        return ResourceOutcome(
            id=name, arn=self._arn(ctx, name), state=ResourceState.ACTIVE, ready=True, tags=tags, metadata=metadata
        )

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(self, ctx: ProviderContext) -> tuple[dict[str, str], dict[str, str]]:
        attributes = self._attributes(ctx)
        tags = requested_tag_update(ctx.params)
        if not attributes and not tags:
            raise TaskAnalysisError(
                f"an SNS topic update needs at least one of the parameters: {', '.join(_ATTRIBUTES)}, tags"
            )
        return attributes, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        attributes, tags = self._update_settings(ctx)
        self.managed_status(ctx, resource_id)
        sns = ctx.client("sns")
        arn = self._arn(ctx, resource_id)
        for name, value in attributes.items():  # SetTopicAttributes sets one attribute per call
            try:
                sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
            except ClientError as exc:
                raise aws_error(exc, f"set {name} of topic {resource_id}") from exc
        if tags:
            self.tag(ctx, resource_id, tags)
        return self.status(ctx, resource_id)

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        try:
            # DeleteTopic of a topic that is already gone succeeds: a replayed delete is harmless.
            ctx.client("sns").delete_topic(TopicArn=self._arn(ctx, resource_id))
        except ClientError as exc:
            if error_code(exc) not in _NOT_FOUND:
                raise aws_error(exc, f"delete topic {resource_id}") from exc
        return outcome.model_copy(
            update={"state": ResourceState.TERMINATED, "ready": True, "metadata": {**outcome.metadata, "deleted": True}}
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        topics = paged(ctx.client("sns"), "list_topics", "Topics", f"list topics in {ctx.task.region}")
        return live_statuses(self.status, ctx, [str(t["TopicArn"]).rsplit(":", 1)[1] for t in topics])

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        try:
            ctx.client("sns").tag_resource(ResourceArn=self._arn(ctx, resource_id), Tags=tag_list(tags))
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ResourceNotFound(f"SNS topic {resource_id} does not exist") from exc
            raise aws_error(exc, f"tag topic {resource_id}") from exc
