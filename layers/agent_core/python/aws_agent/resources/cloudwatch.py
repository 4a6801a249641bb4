"""CloudWatch alarms and dashboards as managed resources (id `alarm/<name>` or `dashboard/<name>`).

Alarms are tagged at creation like everything else. Dashboards cannot carry tags, so a dashboard counts as managed
only when (1) its name starts with `miyabi-` (the IAM policy lets the agent write and delete no other dashboard) and
(2) its body holds the agent's marker widget, a text widget whose markdown is `MiyabiManaged=true` plus the agent's
tags. The marker is what `status` reads back as the dashboard's tags; the Resources table keeps the audited record.
"""

from __future__ import annotations

import json
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
    opt_str_list,
    opt_str_map,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import call, name_for
from .base import MANAGED_TAG, TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

KINDS = ("alarm", "dashboard")
DASHBOARD_PREFIX = "miyabi-"
MARKER_TITLE = "Managed by the AWS Agent (Miyabi)"
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MISSING_DASHBOARD = ("ResourceNotFound", "ResourceNotFoundException")


def split_id(resource_id: str) -> tuple[str, str]:
    kind, _, name = resource_id.partition("/")
    if kind not in KINDS or not name:
        raise TaskAnalysisError(f"CloudWatch resource id {resource_id!r} must be alarm/<name> or dashboard/<name>")
    return kind, name


def marker_widget(tags: dict[str, str]) -> dict[str, Any]:
    lines = "  \n".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": 24,
        "height": 2,
        "properties": {"markdown": f"**{MARKER_TITLE}**  \n{lines}"},
    }


def marker_tags(body: dict[str, Any]) -> dict[str, str]:
    """The tags of a dashboard: read from the agent's marker widget; {} when there is none (not managed)."""
    for widget in body.get("widgets", []):
        text = str(widget.get("properties", {}).get("markdown", "")) if widget.get("type") == "text" else ""
        if text.startswith(f"**{MARKER_TITLE}**"):
            pairs = [line.strip() for line in text.split("\n")[1:]]
            return dict(p.split("=", 1) for p in pairs if "=" in p)
    return {}


class CloudWatchProvider(ResourceProvider):
    resource_type = AwsResourceType.CLOUDWATCH

    def resource_id(self, ctx: ProviderContext) -> str:
        explicit = opt_str(ctx.params, "resource_id", max_len=300)
        if explicit:
            split_id(explicit)
            return explicit
        for kind in KINDS:
            name = opt_str(ctx.params, f"{kind}_name", max_len=255)
            if name:
                return f"{kind}/{name}"
        raise TaskAnalysisError("missing parameter 'alarm_name' or 'dashboard_name'")

    @staticmethod
    def _kind(ctx: ProviderContext) -> str:
        kind = (
            opt_str(ctx.params, "kind", max_len=16) or ("dashboard" if "dashboard_name" in ctx.params else "alarm")
        ).lower()
        if kind not in KINDS:
            raise TaskAnalysisError(f"parameter 'kind' must be alarm or dashboard, got {kind!r}")
        return kind

    def _new_name(self, ctx: ProviderContext, kind: str) -> str:
        name = name_for(ctx, opt_str(ctx.params, f"{kind}_name", max_len=255), max_len=255)
        if kind == "dashboard" and not name.startswith(DASHBOARD_PREFIX):
            name = f"{DASHBOARD_PREFIX}{name}"  # the prefix is what IAM scopes the agent's dashboard rights to
        return name

    # --- alarm parameters ---------------------------------------------------------------------------------------

    @staticmethod
    def _alarm_request(ctx: ProviderContext, name: str, current: dict[str, Any] | None) -> dict[str, Any]:
        p = ctx.params
        base = current or {}
        metric = opt_str(p, "metric_name", max_len=255) or base.get("MetricName")
        namespace = opt_str(p, "namespace", max_len=255) or base.get("Namespace")
        threshold = p.get("threshold", base.get("Threshold"))
        if not metric or not namespace or threshold is None:
            raise TaskAnalysisError("an alarm needs parameters 'metric_name', 'namespace' and 'threshold'")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float | str):
            raise TaskAnalysisError("parameter 'threshold' must be a number")
        try:
            threshold = float(threshold)
        except ValueError as exc:
            raise TaskAnalysisError("parameter 'threshold' must be a number") from exc
        comparison = opt_str(p, "comparison_operator", max_len=64) or base.get("ComparisonOperator") or COMPARISONS[1]
        statistic = opt_str(p, "statistic", max_len=32) or base.get("Statistic") or "Average"
        if comparison not in COMPARISONS or statistic not in STATISTICS:
            raise TaskAnalysisError(
                f"'comparison_operator' must be one of {COMPARISONS}; 'statistic' one of {STATISTICS}"
            )
        dimensions = opt_str_map(p, "dimensions")
        request: dict[str, Any] = {
            "AlarmName": name,
            "MetricName": metric,
            "Namespace": namespace,
            "Statistic": statistic,
            "Period": opt_int(p, "period", low=10, high=86400) or base.get("Period") or 300,
            "EvaluationPeriods": opt_int(p, "evaluation_periods", low=1, high=100)
            or base.get("EvaluationPeriods")
            or 1,
            "Threshold": threshold,
            "ComparisonOperator": comparison,
            "TreatMissingData": opt_str(p, "treat_missing_data", max_len=16)
            or base.get("TreatMissingData")
            or "missing",
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]
            if dimensions is not None
            else base.get("Dimensions", []),
            "AlarmActions": opt_str_list(p, "alarm_actions") or base.get("AlarmActions", []),
        }
        description = opt_str(p, "description", max_len=1024) or base.get("AlarmDescription")
        if description:
            request["AlarmDescription"] = description
        return request

    @staticmethod
    def _dashboard_body(ctx: ProviderContext, tags: dict[str, str], current: dict[str, Any] | None) -> str:
        raw = ctx.params.get("dashboard_body")
        if raw is None:
            body = current if current is not None else {"widgets": []}
        elif isinstance(raw, str):
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise TaskAnalysisError(f"parameter 'dashboard_body' is not JSON: {exc}") from exc
        else:
            body = raw
        if not isinstance(body, dict) or not isinstance(body.get("widgets", []), list):
            raise TaskAnalysisError("parameter 'dashboard_body' must be a dashboard object with a 'widgets' list")
        widgets = [w for w in body.get("widgets", []) if not marker_tags({"widgets": [w]})]
        for widget in widgets:  # make room for the marker on the first row
            if isinstance(widget, dict) and "y" in widget:
                widget["y"] = int(widget["y"]) + 2
        return json.dumps({**body, "widgets": [marker_widget(tags), *widgets]}, separators=(",", ":"))

    # --- plan / create ------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["cloudwatch:DescribeAlarms", "cloudwatch:ListDashboards"])
        if operation == "create":
            kind = self._kind(ctx)
            name = self._new_name(ctx, kind)
            if kind == "alarm":
                request = self._alarm_request(ctx, name, None)
                return simple_plan(ctx, f"alarm/{name}", ["cloudwatch:PutMetricAlarm"], **request)
            self._dashboard_body(ctx, ctx.managed_tags(), None)
            return simple_plan(ctx, f"dashboard/{name}", ["cloudwatch:PutDashboard"], dashboard_name=name)
        resource_id = self.resource_id(ctx)
        self.managed_status(ctx, resource_id)
        kind, _ = split_id(resource_id)
        if operation == "delete":
            return simple_plan(
                ctx, resource_id, ["cloudwatch:DeleteAlarms" if kind == "alarm" else "cloudwatch:DeleteDashboards"]
            )
        return simple_plan(
            ctx, resource_id, ["cloudwatch:PutMetricAlarm" if kind == "alarm" else "cloudwatch:PutDashboard"]
        )

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        kind = self._kind(ctx)
        name = self._new_name(ctx, kind)
        resource_id = f"{kind}/{name}"
        tags = ctx.managed_tags()
        existing = find_existing(self.status, ctx, resource_id)
        # PutMetricAlarm / PutDashboard overwrite: never let a create replace someone else's alarm or dashboard.
        if existing is not None:
            if existing.tags.get(TASK_TAG) != ctx.task.id:
                raise ResourceConflict(f"CloudWatch {kind} {name} already exists and was not created by this task")
            return existing
        cw = ctx.client("cloudwatch")
        if kind == "alarm":
            call(
                cw.put_metric_alarm, f"create alarm {name}", **self._alarm_request(ctx, name, None), Tags=tag_list(tags)
            )
        else:
            self._put_dashboard(cw, name, self._dashboard_body(ctx, tags, None))
        return self.status(ctx, resource_id)

    @staticmethod
    def _put_dashboard(cw: Any, name: str, body: str) -> None:
        result = call(cw.put_dashboard, f"put dashboard {name}", DashboardName=name, DashboardBody=body)
        errors = [m.get("Message", "") for m in result.get("DashboardValidationMessages", [])]
        if errors:
            raise TaskAnalysisError(f"CloudWatch rejected dashboard {name}: {'; '.join(errors)[:500]}")

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        kind, name = split_id(resource_id)
        cw = ctx.client("cloudwatch")
        where = f"{ctx.task.account_id}/{ctx.task.region}"
        if kind == "alarm":
            alarms = call(cw.describe_alarms, f"describe alarm {name}", AlarmNames=[name]).get("MetricAlarms", [])
            if not alarms:
                raise ResourceNotFound(f"CloudWatch alarm {name} does not exist in {where}")
            alarm = alarms[0]
            tags = tag_dict(
                call(cw.list_tags_for_resource, "list alarm tags", ResourceARN=alarm["AlarmArn"]).get("Tags")
            )
            return self._alarm_outcome(alarm, tags)
        dashboard = call(
            cw.get_dashboard,
            f"get dashboard {name}",
            missing=MISSING_DASHBOARD,
            not_found=f"CloudWatch dashboard {name} does not exist in {where}",
            DashboardName=name,
        )
        body = json.loads(dashboard.get("DashboardBody") or "{}")
        return self._dashboard_outcome(name, str(dashboard["DashboardArn"]), body)

    @staticmethod
    def _alarm_outcome(alarm: dict[str, Any], tags: dict[str, str]) -> ResourceOutcome:
        metadata = {
            "kind": "alarm",
            "state_value": alarm.get("StateValue"),
            "metric_name": alarm.get("MetricName"),
            "namespace": alarm.get("Namespace"),
            "threshold": alarm.get("Threshold"),
            "comparison_operator": alarm.get("ComparisonOperator"),
            "period": alarm.get("Period"),
        }
        return ResourceOutcome(
            id=f"alarm/{alarm['AlarmName']}",
            arn=str(alarm["AlarmArn"]),
            state=ResourceState.ACTIVE,
            ready=True,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    @staticmethod
    def _dashboard_outcome(name: str, arn: str, body: dict[str, Any]) -> ResourceOutcome:
        # Managed = the prefix IAM scopes us to AND the agent's marker; either alone is not enough.
        tags = marker_tags(body) if name.startswith(DASHBOARD_PREFIX) else {}
        if tags.get(MANAGED_TAG) != "true":
            tags.pop(MANAGED_TAG, None)
        return ResourceOutcome(
            id=f"dashboard/{name}",
            arn=arn,
            state=ResourceState.ACTIVE,
            ready=True,
            tags=tags,
            metadata={"kind": "dashboard", "widgets": len(body.get("widgets", []))},
        )

    # --- update / delete ----------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        kind, name = split_id(resource_id)
        outcome = self.managed_status(ctx, resource_id)
        tags = requested_tag_update(ctx.params)
        cw = ctx.client("cloudwatch")
        if kind == "alarm":
            current = call(cw.describe_alarms, f"describe alarm {name}", AlarmNames=[name])["MetricAlarms"][0]
            call(cw.put_metric_alarm, f"update alarm {name}", **self._alarm_request(ctx, name, current))
            if tags:
                self.tag(ctx, resource_id, tags)
        else:
            body = json.loads(call(cw.get_dashboard, "get dashboard", DashboardName=name)["DashboardBody"])
            self._put_dashboard(cw, name, self._dashboard_body(ctx, {**outcome.tags, **tags}, body))
        return self.status(ctx, resource_id)

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        kind, name = split_id(resource_id)
        outcome = self.managed_status(ctx, resource_id)
        cw = ctx.client("cloudwatch")
        if kind == "alarm":
            call(cw.delete_alarms, f"delete alarm {name}", AlarmNames=[name])
        else:
            call(cw.delete_dashboards, f"delete dashboard {name}", missing=MISSING_DASHBOARD, DashboardNames=[name])
        return outcome.model_copy(update={"state": ResourceState.TERMINATED, "ready": True})

    # --- discover / tag -----------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        cw = ctx.client("cloudwatch")
        found: list[ResourceOutcome] = []
        try:
            for page in cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
                for alarm in page.get("MetricAlarms", []):
                    tags = tag_dict(cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags"))
                    found.append(self._alarm_outcome(alarm, tags))
            for page in cw.get_paginator("list_dashboards").paginate():
                for entry in page.get("DashboardEntries", []):
                    name = entry["DashboardName"]
                    body: dict[str, Any] = {}
                    if name.startswith(DASHBOARD_PREFIX):  # only candidates are read (one GetDashboard each)
                        body = json.loads(cw.get_dashboard(DashboardName=name).get("DashboardBody") or "{}")
                    found.append(self._dashboard_outcome(name, entry["DashboardArn"], body))
        except ClientError as exc:
            if error_code(exc) in MISSING_DASHBOARD:  # deleted between the listing and the read
                return found
            raise aws_error(exc, f"discover CloudWatch alarms and dashboards in {ctx.task.region}") from exc
        return found

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        kind, name = split_id(resource_id)
        cw = ctx.client("cloudwatch")
        if kind == "alarm":
            outcome = self.status(ctx, resource_id)
            call(cw.tag_resource, f"tag alarm {name}", ResourceARN=outcome.arn, Tags=tag_list(tags))
            return
        # Dashboards: the tags live in the marker widget; only a dashboard with the agent's prefix is written.
        if not name.startswith(DASHBOARD_PREFIX):
            raise ResourceConflict(f"dashboard {name} lacks the {DASHBOARD_PREFIX} prefix; the agent does not write it")
        body = json.loads(
            call(cw.get_dashboard, "get dashboard", missing=MISSING_DASHBOARD, DashboardName=name)["DashboardBody"]
        )
        current = marker_tags(body)
        if current.get(MANAGED_TAG) != "true":  # tags never claim a dashboard: only create writes a new marker
            raise ResourceConflict(f"dashboard {name} is not managed by the agent (no marker widget)")
        widgets = [w for w in body.get("widgets", []) if not marker_tags({"widgets": [w]})]
        document = {**body, "widgets": [marker_widget({**current, **tags}), *widgets]}
        self._put_dashboard(cw, name, json.dumps(document, separators=(",", ":")))
