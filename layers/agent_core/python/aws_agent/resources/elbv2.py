"""Application load balancers: an ALB, its target group and a listener, tagged at creation (elbv2)."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, ResourceState
from ._common import (
    aws_error,
    operation_of,
    opt_int,
    opt_str,
    opt_str_list,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import SG_ID, SUBNET_ID, call, name_for, paged
from .base import MANAGED_TAG, TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
LB_MISSING = ("LoadBalancerNotFound",)
TG_MISSING = ("TargetGroupNotFound",)
DEFAULT_ACTIONS = ("forward", "fixed-response")
_STATES = {
    "provisioning": (ResourceState.CREATING, False),
    "active": (ResourceState.ACTIVE, True),
    "active_impaired": (ResourceState.ACTIVE, True),
    "failed": (ResourceState.FAILED, True),
}


class LoadBalancerProvider(ResourceProvider):
    resource_type = AwsResourceType.LOAD_BALANCER

    def resource_id(self, ctx: ProviderContext) -> str:
        name = opt_str(ctx.params, "load_balancer_name", max_len=32)
        if name is None or not _NAME.match(name):
            raise TaskAnalysisError("parameter 'load_balancer_name' is missing or not a load balancer name")
        return name

    def _create_settings(self, ctx: ProviderContext) -> dict[str, Any]:
        params = ctx.params
        name = name_for(ctx, opt_str(params, "load_balancer_name", max_len=32), max_len=32)
        if not _NAME.match(name):
            raise TaskAnalysisError(f"load balancer name {name!r}: 1-32 letters, digits and hyphens")
        subnets = opt_str_list(params, "subnet_ids") or []
        if len(subnets) < 2 or any(not SUBNET_ID.match(s) for s in subnets):
            raise TaskAnalysisError("an ALB needs parameter 'subnet_ids': at least two subnets in different AZs")
        groups = opt_str_list(params, "security_group_ids")
        if any(not SG_ID.match(g) for g in groups or []):
            raise TaskAnalysisError("parameter 'security_group_ids' has invalid ids")
        scheme = opt_str(params, "scheme", max_len=16) or "internal"  # reachable from the internet only when asked
        if scheme not in ("internal", "internet-facing"):
            raise TaskAnalysisError("parameter 'scheme' must be internal or internet-facing")
        port = opt_int(params, "port", low=1, high=65535) or 80
        certificate = opt_str(params, "certificate_arn", max_len=2048)
        return {
            "name": name,
            "subnets": subnets,
            "groups": groups,
            "scheme": scheme,
            "port": port,
            "protocol": "HTTPS" if certificate else "HTTP",
            "certificate": certificate,
            "target_port": opt_int(params, "target_port", low=1, high=65535) or 80,
            "target_type": opt_str(params, "target_type", max_len=16) or "instance",
            "health_check_path": opt_str(params, "health_check_path", max_len=1024) or "/",
        }

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(
                ctx, None, ["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags"]
            )
        if operation == "create":
            settings = self._create_settings(ctx)
            calls = ["elasticloadbalancing:" + c for c in ("CreateTargetGroup", "CreateLoadBalancer", "CreateListener")]
            return simple_plan(ctx, None, ["ec2:DescribeSubnets", *calls], **settings)
        name = self.resource_id(ctx)
        outcome = self.managed_status(ctx, name)
        if operation == "delete":
            calls = ["DeleteListener"] * len(outcome.metadata.get("listener_arns", [])) + ["DeleteLoadBalancer"]
            calls += ["DeleteTargetGroup"] * len(outcome.metadata.get("target_group_arns", []))
            return simple_plan(ctx, name, ["elasticloadbalancing:" + c for c in calls])
        action, health, tags = self._update_settings(ctx)
        calls = (["ModifyListener"] if action else []) + (["ModifyTargetGroup"] if health else [])
        calls += ["AddTags"] if tags else []
        return simple_plan(ctx, name, ["elasticloadbalancing:" + c for c in calls], default_action=action, **health)

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        s = self._create_settings(ctx)
        elb = ctx.client("elbv2")
        tags = tag_list(ctx.managed_tags())
        existing = self._find(elb, s["name"])
        if existing is not None:
            current = self._tags(elb, [existing["LoadBalancerArn"]]).get(existing["LoadBalancerArn"], {})
            if current.get(TASK_TAG) != ctx.task.id:
                raise ResourceConflict(f"load balancer {s['name']} already exists and was not created by this task")
        vpc_id = self._vpc_of(ctx, s["subnets"])
        # Each piece is looked up by its deterministic name before it is made: a replay completes the same balancer.
        tg_arn = self._target_group_arn(elb, s["name"])
        if tg_arn is None:
            tg_request: dict[str, Any] = {
                "Name": s["name"],
                "Protocol": "HTTP",
                "Port": s["target_port"],
                "TargetType": s["target_type"],
                "HealthCheckPath": s["health_check_path"],
                "Tags": tags,
            }
            if s["target_type"] != "lambda":
                tg_request["VpcId"] = vpc_id
            tg_arn = call(elb.create_target_group, "create target group", **tg_request)["TargetGroups"][0][
                "TargetGroupArn"
            ]
        lb_request: dict[str, Any] = {
            "Name": s["name"],
            "Subnets": s["subnets"],
            "Scheme": s["scheme"],
            "Type": "application",
            "Tags": tags,
        }
        if s["groups"]:
            lb_request["SecurityGroups"] = s["groups"]
        lb = (
            existing
            or call(elb.create_load_balancer, f"create load balancer {s['name']}", **lb_request)["LoadBalancers"][0]
        )
        listener: dict[str, Any] = {
            "LoadBalancerArn": lb["LoadBalancerArn"],
            "Protocol": s["protocol"],
            "Port": s["port"],
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg_arn}],
            "Tags": tags,
        }
        if s["certificate"]:
            listener["Certificates"] = [{"CertificateArn": s["certificate"]}]
        if not self._listeners(elb, lb["LoadBalancerArn"]):
            call(elb.create_listener, "create listener", **listener)
        return self.status(ctx, s["name"])

    @staticmethod
    def _vpc_of(ctx: ProviderContext, subnets: list[str]) -> str:
        found = call(
            ctx.client("ec2").describe_subnets,
            "describe subnets",
            missing=("InvalidSubnetID.NotFound",),
            not_found=f"subnets {', '.join(subnets)} do not all exist",
            SubnetIds=subnets,
        ).get("Subnets", [])
        vpcs = {s["VpcId"] for s in found}
        if len(vpcs) != 1:
            raise TaskAnalysisError(f"the subnets of a load balancer must share one VPC, got {sorted(vpcs)}")
        return str(vpcs.pop())

    # --- status -------------------------------------------------------------------------------------------------

    @staticmethod
    def _find(elb: Any, name: str) -> dict[str, Any] | None:
        try:
            found = elb.describe_load_balancers(Names=[name]).get("LoadBalancers", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in LB_MISSING:
                return None
            raise aws_error(exc, f"describe load balancer {name}") from exc
        return dict(found[0]) if found else None

    @staticmethod
    def _target_group_arn(elb: Any, name: str) -> str | None:
        try:
            groups = elb.describe_target_groups(Names=[name]).get("TargetGroups", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in TG_MISSING:
                return None
            raise aws_error(exc, f"describe target group {name}") from exc
        return str(groups[0]["TargetGroupArn"]) if groups else None

    @staticmethod
    def _listeners(elb: Any, lb_arn: str) -> list[dict[str, Any]]:
        return list(
            call(elb.describe_listeners, "describe listeners", missing=LB_MISSING, LoadBalancerArn=lb_arn)["Listeners"]
        )

    @staticmethod
    def _tags(elb: Any, arns: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
            described = call(elb.describe_tags, "describe tags", ResourceArns=arns[start : start + 20])
            out.update({d["ResourceArn"]: tag_dict(d.get("Tags")) for d in described.get("TagDescriptions", [])})
        return out

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        elb = ctx.client("elbv2")
        lb = self._find(elb, resource_id)
        if lb is None:
            raise ResourceNotFound(
                f"load balancer {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
            )
        listeners = self._listeners(elb, lb["LoadBalancerArn"])
        try:
            groups = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"]).get("TargetGroups", [])
        except ClientError as exc:
            if error_code(exc) not in TG_MISSING:  # a balancer without target groups (emulators say "not found")
                raise aws_error(exc, "describe target groups") from exc
            groups = []
        tags = self._tags(elb, [lb["LoadBalancerArn"]]).get(lb["LoadBalancerArn"], {})
        return self._outcome(lb, tags, listeners, groups)

    @staticmethod
    def _outcome(
        lb: dict[str, Any],
        tags: dict[str, str],
        listeners: list[dict[str, Any]] | None,
        groups: list[dict[str, Any]] | None,
    ) -> ResourceOutcome:
        code = str(lb.get("State", {}).get("Code", "provisioning"))
        state, ready = _STATES.get(code, (ResourceState.UPDATING, False))
        metadata: dict[str, Any] = {
            "lb_state": code,
            "dns_name": lb.get("DNSName"),
            "scheme": lb.get("Scheme"),
            "type": lb.get("Type"),
            "vpc_id": lb.get("VpcId"),
            "subnet_ids": [z["SubnetId"] for z in lb.get("AvailabilityZones", []) if z.get("SubnetId")],
        }
        if code == "failed":
            metadata["reason"] = lb.get("State", {}).get("Reason", "")
        if listeners is not None:
            metadata["listener_arns"] = [li["ListenerArn"] for li in listeners]
            metadata["listeners"] = [
                {
                    "port": li.get("Port"),
                    "protocol": li.get("Protocol"),
                    "default_action": (li.get("DefaultActions") or [{}])[0].get("Type"),
                }
                for li in listeners
            ]
        if groups is not None:
            metadata["target_group_arns"] = [g["TargetGroupArn"] for g in groups]
            metadata["health_check_paths"] = [g.get("HealthCheckPath") for g in groups]
        return ResourceOutcome(
            id=str(lb["LoadBalancerName"]),
            arn=str(lb["LoadBalancerArn"]),
            state=state,
            ready=ready,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update / delete ----------------------------------------------------------------------------------------

    def _update_settings(self, ctx: ProviderContext) -> tuple[str | None, dict[str, Any], dict[str, str]]:
        action = opt_str(ctx.params, "default_action", max_len=32)
        if action is not None and action not in DEFAULT_ACTIONS:
            raise TaskAnalysisError(f"parameter 'default_action' must be one of {', '.join(DEFAULT_ACTIONS)}")
        health: dict[str, Any] = {}
        path = opt_str(ctx.params, "health_check_path", max_len=1024)
        if path is not None:
            if not path.startswith("/"):
                raise TaskAnalysisError("parameter 'health_check_path' must start with '/'")
            health["HealthCheckPath"] = path
        interval = opt_int(ctx.params, "health_check_interval", low=5, high=300)
        if interval is not None:
            health["HealthCheckIntervalSeconds"] = interval
        tags = requested_tag_update(ctx.params)
        if action is None and not health and not tags:
            raise TaskAnalysisError(
                "a load balancer update takes 'default_action' (forward|fixed-response), 'health_check_path', "
                "'health_check_interval' or 'tags'"
            )
        return action, health, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        action, health, tags = self._update_settings(ctx)
        outcome = self.managed_status(ctx, resource_id)
        elb = ctx.client("elbv2")
        groups = outcome.metadata.get("target_group_arns", [])
        if health:
            for tg_arn in groups:
                call(elb.modify_target_group, "modify target group health check", TargetGroupArn=tg_arn, **health)
        if action is not None:
            if action == "forward" and not groups:
                raise ResourceConflict(f"load balancer {resource_id} has no target group to forward to")
            default = (
                {"Type": "forward", "TargetGroupArn": groups[0]}
                if action == "forward"
                else {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {
                        "StatusCode": str(opt_int(ctx.params, "fixed_response_status", low=200, high=599) or 503),
                        "ContentType": "text/plain",
                    },
                }
            )
            for listener_arn in outcome.metadata.get("listener_arns", []):
                call(
                    elb.modify_listener,
                    "modify listener default action",
                    ListenerArn=listener_arn,
                    DefaultActions=[default],
                )
        if tags:
            self.tag(ctx, resource_id, tags)
        return self.status(ctx, resource_id)

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        elb = ctx.client("elbv2")
        for listener_arn in outcome.metadata.get("listener_arns", []):
            call(elb.delete_listener, "delete listener", missing=("ListenerNotFound",), ListenerArn=listener_arn)
        call(elb.delete_load_balancer, f"delete load balancer {resource_id}", LoadBalancerArn=outcome.arn)
        # Target groups go only when the agent manages them (a group the task reused stays).
        groups = outcome.metadata.get("target_group_arns", [])
        for tg_arn, tags in self._tags(elb, groups).items() if groups else []:
            if tags.get(MANAGED_TAG) == "true":
                call(elb.delete_target_group, "delete target group", missing=TG_MISSING, TargetGroupArn=tg_arn)
        return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})

    # --- discover / tag -----------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        elb = ctx.client("elbv2")
        lbs = paged(elb, "describe_load_balancers", "LoadBalancers", f"describe load balancers in {ctx.task.region}")
        albs = [lb for lb in lbs if lb.get("Type") == "application"]
        tags = self._tags(elb, [lb["LoadBalancerArn"] for lb in albs]) if albs else {}
        return [self._outcome(lb, tags.get(lb["LoadBalancerArn"], {}), None, None) for lb in albs]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        """The load balancer, its listeners and target groups carry the same tags."""
        if not tags:
            return
        outcome = self.status(ctx, resource_id)
        arns = [outcome.arn, *outcome.metadata.get("listener_arns", []), *outcome.metadata.get("target_group_arns", [])]
        elb = ctx.client("elbv2")
        for start in range(0, len(arns), 20):
            call(
                elb.add_tags,
                f"tag load balancer {resource_id}",
                ResourceArns=arns[start : start + 20],
                Tags=tag_list(tags),
            )
