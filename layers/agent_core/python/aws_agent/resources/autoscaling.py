"""Auto Scaling groups: a launch template (IMDSv2) and a group across subnets, tags propagated to instances."""

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
    short_hash,
    simple_plan,
)
from ._net import SUBNET_ID, call, name_for, paged
from .base import MANAGED_TAG, TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider
from .ec2 import Ec2InstanceProvider, client_token

_LT_ID = re.compile(r"^lt-[0-9a-f]{17}$")
MAX_GROUP_SIZE = 100  # a task may not ask for a fleet beyond this (Buddha's over-provisioning guard is issue 5)


def _tags(group: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"ResourceId": group, "ResourceType": "auto-scaling-group", "Key": k, "Value": v, "PropagateAtLaunch": True}
        for k, v in tags.items()
    ]


class AutoScalingGroupProvider(ResourceProvider):
    resource_type = AwsResourceType.AUTO_SCALING_GROUP

    def resource_id(self, ctx: ProviderContext) -> str:
        name = opt_str(ctx.params, "group_name", max_len=255)
        if name is None:
            raise TaskAnalysisError("missing parameter 'group_name'")
        return name

    @staticmethod
    def _capacity(ctx: ProviderContext, current: dict[str, int] | None) -> dict[str, Any]:
        """MinSize / MaxSize / DesiredCapacity from the task over the current values; min <= desired <= max."""
        base = current or {"MinSize": 0, "MaxSize": 1, "DesiredCapacity": 1}
        asked = {
            key: opt_int(ctx.params, param, low=0, high=MAX_GROUP_SIZE)
            for param, key in (
                ("min_size", "MinSize"),
                ("max_size", "MaxSize"),
                ("desired_capacity", "DesiredCapacity"),
            )
        }
        merged = {k: (v if v is not None else base[k]) for k, v in asked.items()}
        if not merged["MinSize"] <= merged["DesiredCapacity"] <= merged["MaxSize"]:
            raise TaskAnalysisError(
                f"capacity must satisfy min_size <= desired_capacity <= max_size, got {merged['MinSize']} <= "
                f"{merged['DesiredCapacity']} <= {merged['MaxSize']}"
            )
        return {k: v for k, v in merged.items() if current is None or asked[k] is not None}

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["autoscaling:DescribeAutoScalingGroups"])
        if operation == "create":
            capacity = self._capacity(ctx, None)
            subnets = self._subnets(ctx)
            calls = ["autoscaling:CreateAutoScalingGroup"]
            if opt_str(ctx.params, "launch_template_id", max_len=32) is None:
                calls.insert(0, "ec2:CreateLaunchTemplate")
            return simple_plan(ctx, None, calls, group_name=self._name(ctx), subnet_ids=subnets, **capacity)
        name = self.resource_id(ctx)
        outcome = self.managed_status(ctx, name)
        if operation == "delete":
            return simple_plan(
                ctx, name, ["autoscaling:DeleteAutoScalingGroup", "ec2:DeleteLaunchTemplate"], force=True
            )
        capacity = self._capacity(ctx, outcome.metadata["capacity"])
        tags = requested_tag_update(ctx.params)
        calls = (["autoscaling:UpdateAutoScalingGroup"] if capacity else []) + (
            ["autoscaling:CreateOrUpdateTags"] if tags else []
        )
        return simple_plan(ctx, name, calls, **capacity, tags=tags)

    @staticmethod
    def _name(ctx: ProviderContext) -> str:
        return name_for(ctx, opt_str(ctx.params, "group_name", max_len=255), max_len=255)

    @staticmethod
    def _subnets(ctx: ProviderContext) -> list[str]:
        subnets = opt_str_list(ctx.params, "subnet_ids")
        if not subnets:
            raise TaskAnalysisError("an Auto Scaling group needs parameter 'subnet_ids' (e.g. a VPC network's subnets)")
        bad = [s for s in subnets if not SUBNET_ID.match(s)]
        if bad:
            raise TaskAnalysisError(f"parameter 'subnet_ids' has invalid ids: {', '.join(bad)}")
        return subnets

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        name = self._name(ctx)
        capacity = self._capacity(ctx, None)
        subnets = self._subnets(ctx)
        asg = ctx.client("autoscaling")
        existing = self._describe(asg, name)
        if existing is not None:
            tags = {t["Key"]: t["Value"] for t in existing.get("Tags", [])}
            if tags.get(TASK_TAG) != ctx.task.id:
                raise ResourceConflict(f"Auto Scaling group {name} already exists and was not created by this task")
            return self._outcome(ctx, existing)
        template = self._launch_template(ctx)
        call(
            asg.create_auto_scaling_group,
            f"create Auto Scaling group {name}",
            AutoScalingGroupName=name,
            LaunchTemplate=template,
            VPCZoneIdentifier=",".join(subnets),
            Tags=_tags(name, ctx.managed_tags()),
            **capacity,
        )
        return self.status(ctx, name)

    def _launch_template(self, ctx: ProviderContext) -> dict[str, str]:
        given = opt_str(ctx.params, "launch_template_id", max_len=32)
        if given is not None:
            if not _LT_ID.match(given):
                raise TaskAnalysisError(
                    f"parameter 'launch_template_id' {given!r} is not a launch template id (lt-...)"
                )
            return {"LaunchTemplateId": given, "Version": "$Latest"}
        ec2 = ctx.client("ec2")
        lt_name = f"miyabi-{short_hash(ctx.task.id, 16)}"
        instance_type = opt_str(ctx.params, "instance_type", max_len=64) or ctx.config.default_ec2_instance_type
        image_id = opt_str(ctx.params, "image_id", max_len=32)
        if image_id is None:
            arch = Ec2InstanceProvider._architecture(ec2, instance_type)
            image_id, _ = Ec2InstanceProvider._latest_al2023(ctx, ec2, arch)
        tags = [{"Key": k, "Value": v} for k, v in ctx.managed_tags().items()]
        try:
            created = ec2.create_launch_template(
                LaunchTemplateName=lt_name,
                ClientToken=client_token(ctx.task.id),
                LaunchTemplateData={
                    "ImageId": image_id,
                    "InstanceType": instance_type,
                    "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                    "TagSpecifications": [{"ResourceType": "volume", "Tags": tags}],
                },
                TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}],
            )
            return {"LaunchTemplateId": created["LaunchTemplate"]["LaunchTemplateId"], "Version": "$Latest"}
        except ClientError as exc:
            if "AlreadyExists" not in error_code(exc):  # a replay: the template of this task is there already
                raise aws_error(exc, f"create launch template {lt_name}") from exc
        return {"LaunchTemplateName": lt_name, "Version": "$Latest"}

    # --- status -------------------------------------------------------------------------------------------------

    @staticmethod
    def _describe(asg: Any, name: str) -> dict[str, Any] | None:
        groups = call(asg.describe_auto_scaling_groups, f"describe {name}", AutoScalingGroupNames=[name]).get(
            "AutoScalingGroups", []
        )
        return dict(groups[0]) if groups else None

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        group = self._describe(ctx.client("autoscaling"), resource_id)
        if group is None:
            raise ResourceNotFound(
                f"Auto Scaling group {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
            )
        return self._outcome(ctx, group)

    def _outcome(self, ctx: ProviderContext, group: dict[str, Any]) -> ResourceOutcome:
        instances = group.get("Instances", [])
        in_service = [i for i in instances if i.get("LifecycleState") == "InService"]
        desired = int(group.get("DesiredCapacity", 0))
        if group.get("Status") == "Delete in progress":
            state, ready = ResourceState.DELETING, False
        else:
            # Ready once the fleet the group wants is in service (launching takes a minute or two: the wait loop).
            state, ready = ResourceState.ACTIVE, len(in_service) >= desired
        template = group.get("LaunchTemplate") or {}
        metadata: dict[str, Any] = {
            "capacity": {k: int(group.get(k, 0)) for k in ("MinSize", "MaxSize", "DesiredCapacity")},
            "instance_ids": [i["InstanceId"] for i in instances],
            "in_service": len(in_service),
            "subnet_ids": [s for s in str(group.get("VPCZoneIdentifier", "")).split(",") if s],
            "launch_template_id": template.get("LaunchTemplateId"),
            "launch_template_name": template.get("LaunchTemplateName"),
            "instance_type": self._instance_type(group),
        }
        name = str(group["AutoScalingGroupName"])
        arn = group.get("AutoScalingGroupARN") or (
            f"arn:aws:autoscaling:{ctx.task.region}:{ctx.task.account_id}:autoScalingGroup:*:autoScalingGroupName/{name}"
        )
        return ResourceOutcome(
            id=name,
            arn=str(arn),
            state=state,
            ready=ready,
            tags={t["Key"]: t["Value"] for t in group.get("Tags", [])},
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    @staticmethod
    def _instance_type(group: dict[str, Any]) -> str | None:
        types = {i.get("InstanceType") for i in group.get("Instances", []) if i.get("InstanceType")}
        return types.pop() if len(types) == 1 else None

    # --- update / delete ----------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        capacity = self._capacity(ctx, outcome.metadata["capacity"])
        tags = requested_tag_update(ctx.params)
        if not capacity and not tags:
            raise TaskAnalysisError(
                "an Auto Scaling group update takes 'min_size', 'max_size', 'desired_capacity' or 'tags'"
            )
        if capacity:
            call(
                ctx.client("autoscaling").update_auto_scaling_group,
                f"update capacity of {resource_id}",
                AutoScalingGroupName=resource_id,
                **capacity,
            )
        if tags:
            self.tag(ctx, resource_id, tags)
        return self.status(ctx, resource_id)

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        if outcome.state is ResourceState.DELETING:
            return outcome
        # ForceDelete terminates the group's instances with it: allowed only because the group is managed (above).
        call(
            ctx.client("autoscaling").delete_auto_scaling_group,
            f"delete Auto Scaling group {resource_id}",
            AutoScalingGroupName=resource_id,
            ForceDelete=True,
        )
        self._delete_launch_template(ctx, outcome)
        return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})

    @staticmethod
    def _delete_launch_template(ctx: ProviderContext, outcome: ResourceOutcome) -> None:
        """The launch template goes too, when the agent made it for this group (same MiyabiTask, managed)."""
        ec2 = ctx.client("ec2")
        template_id = outcome.metadata.get("launch_template_id")
        name = outcome.metadata.get("launch_template_name")
        query: dict[str, Any] = {"LaunchTemplateIds": [template_id]} if template_id else {"LaunchTemplateNames": [name]}
        if not (template_id or name):
            return
        try:
            templates = ec2.describe_launch_templates(**query).get("LaunchTemplates", [])
        except ClientError as exc:
            if "NotFound" in error_code(exc):
                return
            raise aws_error(exc, "describe launch template") from exc
        for template in templates:
            tags = {t["Key"]: t["Value"] for t in template.get("Tags", [])}
            if tags.get(MANAGED_TAG) == "true" and tags.get(TASK_TAG) == outcome.tags.get(TASK_TAG):
                call(
                    ec2.delete_launch_template, "delete launch template", LaunchTemplateId=template["LaunchTemplateId"]
                )

    # --- discover / tag -----------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        groups = paged(
            ctx.client("autoscaling"),
            "describe_auto_scaling_groups",
            "AutoScalingGroups",
            f"describe Auto Scaling groups in {ctx.task.region}",
        )
        return [self._outcome(ctx, g) for g in groups]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if tags:
            call(ctx.client("autoscaling").create_or_update_tags, f"tag {resource_id}", Tags=_tags(resource_id, tags))
