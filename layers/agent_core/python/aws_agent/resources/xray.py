"""X-Ray groups and sampling rules as managed resources (id `group/<name>` or `sampling-rule/<name>`), tagged."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, ResourceState
from ._common import (
    aws_error,
    find_existing,
    operation_of,
    opt_int,
    opt_str,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import call, name_for
from .base import TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

KINDS = {"group": "group", "sampling_rule": "sampling-rule", "sampling-rule": "sampling-rule"}
MISSING = ("InvalidRequestException", "ResourceNotFoundException")
DEFAULTS = ("Default",)  # X-Ray's built-in group and rule: never managed, never touched


def split_id(resource_id: str) -> tuple[str, str]:
    kind, _, name = resource_id.partition("/")
    if kind not in ("group", "sampling-rule") or not name:
        raise TaskAnalysisError(f"X-Ray resource id {resource_id!r} must be group/<name> or sampling-rule/<name>")
    return kind, name


def _rate(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError) as exc:
        raise TaskAnalysisError(f"parameter '{name}' must be a number between 0 and 1") from exc
    if not 0 <= rate <= 1:
        raise TaskAnalysisError(f"parameter '{name}' must be between 0 and 1")
    return rate


class XRayProvider(ResourceProvider):
    resource_type = AwsResourceType.XRAY

    def resource_id(self, ctx: ProviderContext) -> str:
        explicit = opt_str(ctx.params, "resource_id", max_len=300)
        if explicit:
            split_id(explicit)
            return explicit
        if opt_str(ctx.params, "group_name", max_len=32):
            return f"group/{ctx.params['group_name'].strip()}"
        if opt_str(ctx.params, "rule_name", max_len=32):
            return f"sampling-rule/{ctx.params['rule_name'].strip()}"
        raise TaskAnalysisError("missing parameter 'group_name' or 'rule_name'")

    def _new_id(self, ctx: ProviderContext) -> str:
        kind = KINDS.get((opt_str(ctx.params, "kind", max_len=16) or "group").lower())
        if kind is None:
            raise TaskAnalysisError("parameter 'kind' must be group or sampling_rule")
        param = "group_name" if kind == "group" else "rule_name"
        return f"{kind}/{name_for(ctx, opt_str(ctx.params, param, max_len=32), max_len=32)}"

    def _rule(self, ctx: ProviderContext, name: str, current: dict[str, Any] | None) -> dict[str, Any]:
        p, base = ctx.params, current or {}
        rule = {
            "RuleName": name,
            "Priority": opt_int(p, "priority", low=1, high=9999) or base.get("Priority") or 1000,
            "FixedRate": _rate(p.get("fixed_rate"), "fixed_rate") if "fixed_rate" in p else base.get("FixedRate", 0.05),
            "ReservoirSize": opt_int(p, "reservoir_size", low=0, high=100000)
            if "reservoir_size" in p
            else base.get("ReservoirSize", 1),
            **{
                key: opt_str(p, param, max_len=128) or base.get(key, "*")
                for param, key in (
                    ("service_name", "ServiceName"),
                    ("service_type", "ServiceType"),
                    ("host", "Host"),
                    ("http_method", "HTTPMethod"),
                    ("url_path", "URLPath"),
                )
            },
            "ResourceARN": base.get("ResourceARN", "*"),
            "Version": 1,
        }
        return rule

    # --- plan / create ------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["xray:GetGroups", "xray:GetSamplingRules"])
        if operation == "create":
            resource_id = self._new_id(ctx)
            kind, name = split_id(resource_id)
            if kind == "group":
                return simple_plan(ctx, resource_id, ["xray:CreateGroup"], filter_expression=self._filter(ctx, True))
            return simple_plan(ctx, resource_id, ["xray:CreateSamplingRule"], **self._rule(ctx, name, None))
        resource_id = self.resource_id(ctx)
        self.managed_status(ctx, resource_id)
        kind, _ = split_id(resource_id)
        verb = {"delete": "Delete", "update": "Update"}[operation]
        return simple_plan(ctx, resource_id, [f"xray:{verb}{'Group' if kind == 'group' else 'SamplingRule'}"])

    @staticmethod
    def _filter(ctx: ProviderContext, required: bool) -> str | None:
        expression = opt_str(ctx.params, "filter_expression", max_len=2000)
        if expression is None and required:
            raise TaskAnalysisError("an X-Ray group needs parameter 'filter_expression', e.g. service(\"api\")")
        return expression

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        resource_id = self._new_id(ctx)
        kind, name = split_id(resource_id)
        existing = find_existing(self.status, ctx, resource_id)
        if existing is not None:
            if existing.tags.get(TASK_TAG) != ctx.task.id:
                raise ResourceConflict(f"X-Ray {kind} {name} already exists and was not created by this task")
            return existing
        xray = ctx.client("xray")
        tags = tag_list(ctx.managed_tags())
        if kind == "group":
            call(
                xray.create_group,
                f"create X-Ray group {name}",
                GroupName=name,
                FilterExpression=self._filter(ctx, True),
                Tags=tags,
            )
        else:
            call(
                xray.create_sampling_rule,
                f"create sampling rule {name}",
                SamplingRule=self._rule(ctx, name, None),
                Tags=tags,
            )
        return self.status(ctx, resource_id)

    # --- status -------------------------------------------------------------------------------------------------

    def _raw(self, ctx: ProviderContext, resource_id: str) -> dict[str, Any]:
        kind, name = split_id(resource_id)
        xray = ctx.client("xray")
        not_found = f"X-Ray {kind} {name} does not exist in {ctx.task.account_id}/{ctx.task.region}"
        if kind == "group":
            return dict(
                call(xray.get_group, f"get group {name}", missing=MISSING, not_found=not_found, GroupName=name)["Group"]
            )
        # GetSamplingRules has no name filter: page through the account's rules (a few dozen at most).
        try:
            for page in xray.get_paginator("get_sampling_rules").paginate():
                for record in page.get("SamplingRuleRecords", []):
                    if record["SamplingRule"]["RuleName"] == name:
                        return dict(record["SamplingRule"])
        except ClientError as exc:
            raise aws_error(exc, "get sampling rules") from exc
        raise ResourceNotFound(not_found)

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        raw = self._raw(ctx, resource_id)
        kind, _ = split_id(resource_id)
        arn = raw["GroupARN"] if kind == "group" else raw["RuleARN"]
        return self._outcome(kind, raw, self._tags(ctx, arn))

    @staticmethod
    def _tags(ctx: ProviderContext, arn: str) -> dict[str, str]:
        try:
            pages = ctx.client("xray").get_paginator("list_tags_for_resource").paginate(ResourceARN=arn)
            return tag_dict([t for page in pages for t in page.get("Tags", [])])
        except ClientError as exc:
            if error_code(exc) in MISSING:
                raise ResourceNotFound(f"X-Ray resource {arn} does not exist") from exc
            raise aws_error(exc, f"list tags of {arn}") from exc

    @staticmethod
    def _outcome(kind: str, raw: dict[str, Any], tags: dict[str, str]) -> ResourceOutcome:
        if kind == "group":
            name, arn = raw["GroupName"], raw["GroupARN"]
            metadata: dict[str, Any] = {"kind": "group", "filter_expression": raw.get("FilterExpression")}
        else:
            name, arn = raw["RuleName"], raw["RuleARN"]
            metadata = {k: raw.get(k) for k in ("Priority", "FixedRate", "ReservoirSize", "ServiceName", "URLPath")}
            metadata = {"kind": "sampling_rule", **{k.lower(): v for k, v in metadata.items()}}
        return ResourceOutcome(
            id=f"{kind}/{name}",
            arn=str(arn),
            state=ResourceState.ACTIVE,
            ready=True,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update / delete ----------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        kind, name = split_id(resource_id)
        self.managed_status(ctx, resource_id)
        xray = ctx.client("xray")
        tags = requested_tag_update(ctx.params)
        if kind == "group":
            expression = self._filter(ctx, False)
            if expression is None and not tags:
                raise TaskAnalysisError("an X-Ray group update takes 'filter_expression' or 'tags'")
            if expression is not None:
                call(xray.update_group, f"update group {name}", GroupName=name, FilterExpression=expression)
        else:
            rule = self._rule(ctx, name, self._raw(ctx, resource_id))
            update = {k: v for k, v in rule.items() if k not in ("Version",)}
            call(xray.update_sampling_rule, f"update sampling rule {name}", SamplingRuleUpdate=update)
        if tags:
            self.tag(ctx, resource_id, tags)
        return self.status(ctx, resource_id)

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        kind, name = split_id(resource_id)
        if name in DEFAULTS:
            raise ResourceConflict(f"X-Ray's built-in {kind} {name} is never deleted")
        outcome = self.managed_status(ctx, resource_id)
        xray = ctx.client("xray")
        if kind == "group":
            call(xray.delete_group, f"delete group {name}", missing=MISSING, GroupName=name)
        else:
            call(xray.delete_sampling_rule, f"delete sampling rule {name}", missing=MISSING, RuleName=name)
        return outcome.model_copy(update={"state": ResourceState.TERMINATED, "ready": True})

    # --- discover / tag -----------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        xray = ctx.client("xray")
        found: list[ResourceOutcome] = []
        try:
            for page in xray.get_paginator("get_groups").paginate():
                for group in page.get("Groups", []):
                    if group["GroupName"] not in DEFAULTS:
                        found.append(self._outcome("group", group, self._tags(ctx, group["GroupARN"])))
            for page in xray.get_paginator("get_sampling_rules").paginate():
                for record in page.get("SamplingRuleRecords", []):
                    rule = record["SamplingRule"]
                    if rule["RuleName"] not in DEFAULTS:
                        found.append(self._outcome("sampling-rule", rule, self._tags(ctx, rule["RuleARN"])))
        except ClientError as exc:
            raise aws_error(exc, f"discover X-Ray groups and sampling rules in {ctx.task.region}") from exc
        return found

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        outcome = self.status(ctx, resource_id)
        call(ctx.client("xray").tag_resource, f"tag {resource_id}", ResourceARN=outcome.arn, Tags=tag_list(tags))
