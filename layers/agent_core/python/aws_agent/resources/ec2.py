"""EC2 instances: one per task, launched idempotently (client token), tagged at launch, IMDSv2 only."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError, TransientAwsError
from ..model import AwsResourceType, ResourceState
from ._common import (
    aws_error,
    operation_of,
    opt_int,
    opt_str,
    opt_str_list,
    partition_for,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import SG_ID, SUBNET_ID
from .base import TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
_AMI_ID = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")

AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
ACTIONS = ("stop", "start", "reboot")
LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]

# EC2 state name -> (agent state, ready). "stopping"/"stopped" are Active: the instance exists and is managed;
# metadata.instance_state tells which, and only the settled states are ready.
_STATES: dict[str, tuple[ResourceState, bool]] = {
    "pending": (ResourceState.CREATING, False),
    "running": (ResourceState.ACTIVE, True),
    "stopping": (ResourceState.ACTIVE, False),
    "stopped": (ResourceState.ACTIVE, True),
    "shutting-down": (ResourceState.DELETING, False),
    "terminated": (ResourceState.TERMINATED, True),
}


def client_token(task_id: str) -> str:
    """RunInstances idempotency token for a task (EC2 allows 64 ASCII characters): a replay gets the same instance."""
    return hashlib.sha256(f"miyabi:{task_id}".encode()).hexdigest()


@dataclass
class _LaunchSpec:
    instance_type: str
    architecture: str
    image_id: str
    image_source: str
    name: str | None
    subnet_id: str | None
    security_group_ids: list[str] | None
    key_name: str | None
    tags: dict[str, str] = field(default_factory=dict)

    def request(self, token: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "ImageId": self.image_id,
            "InstanceType": self.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "ClientToken": token,
            # IMDSv2 only: the credential-theft path through IMDSv1 stays closed on everything the agent launches.
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tag_list(self.tags)},
                {"ResourceType": "volume", "Tags": tag_list(self.tags)},
            ],
        }
        if self.subnet_id:
            request["SubnetId"] = self.subnet_id
        if self.security_group_ids:
            request["SecurityGroupIds"] = self.security_group_ids
        if self.key_name:
            request["KeyName"] = self.key_name
        return request

    def describe(self) -> dict[str, Any]:
        return {
            "instance_type": self.instance_type,
            "architecture": self.architecture,
            "image_id": self.image_id,
            "image_source": self.image_source,
            "name": self.name,
            "subnet_id": self.subnet_id,
            "security_group_ids": self.security_group_ids,
            "key_name": self.key_name,
            "imdsv2_required": True,
            "tags": self.tags,
        }


class Ec2InstanceProvider(ResourceProvider):
    resource_type = AwsResourceType.EC2_INSTANCE

    # How long `update` waits for an instance to stop before changing its type. Issue 3 moves this wait into the
    # state machine's wait loop (stop -> poll status -> modify -> start); until then the step blocks here.
    stop_waiter_config: dict[str, int] = {"Delay": 5, "MaxAttempts": 36}

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        instance_id = opt_str(ctx.params, "instance_id", max_len=32)
        if instance_id is None:
            raise TaskAnalysisError("missing parameter 'instance_id'")
        if not _INSTANCE_ID.match(instance_id):
            raise TaskAnalysisError(f"parameter 'instance_id' {instance_id!r} is not an EC2 instance id (i-...)")
        return instance_id

    @staticmethod
    def _arn(ctx: ProviderContext, instance_id: str) -> str:
        partition = partition_for(ctx.task.region)
        return f"arn:{partition}:ec2:{ctx.task.region}:{ctx.task.account_id}:instance/{instance_id}"

    def _launch_spec(self, ctx: ProviderContext, ec2: Any) -> _LaunchSpec:
        params = ctx.params
        count = opt_int(params, "count", low=1, high=1000)
        if count is not None and count > 1:
            raise TaskAnalysisError(
                f"parameter 'count' is {count}: the agent launches one instance per task "
                f"(max_ec2_instances_per_task={ctx.config.max_ec2_instances_per_task}); send one task per instance"
            )
        instance_type = opt_str(params, "instance_type", max_len=64) or ctx.config.default_ec2_instance_type
        architecture = self._architecture(ec2, instance_type)
        image_id = opt_str(params, "image_id", max_len=32)
        if image_id is not None:
            if not _AMI_ID.match(image_id):
                raise TaskAnalysisError(f"parameter 'image_id' {image_id!r} is not an AMI id (ami-...)")
            source = "parameter"
        else:
            image_id, source = self._latest_al2023(ctx, ec2, architecture)
        subnet_id = opt_str(params, "subnet_id", max_len=32)
        if subnet_id is not None and not SUBNET_ID.match(subnet_id):
            raise TaskAnalysisError(f"parameter 'subnet_id' {subnet_id!r} is not a subnet id (subnet-...)")
        groups = opt_str_list(params, "security_group_ids")
        bad = [g for g in groups or [] if not SG_ID.match(g)]
        if bad:
            raise TaskAnalysisError(f"parameter 'security_group_ids' has invalid ids: {', '.join(bad)}")
        name = opt_str(params, "name", max_len=256)
        tags = ctx.managed_tags()
        if name:
            tags["Name"] = name
        return _LaunchSpec(
            instance_type=instance_type,
            architecture=architecture,
            image_id=image_id,
            image_source=source,
            name=name,
            subnet_id=subnet_id,
            security_group_ids=groups,
            key_name=opt_str(params, "key_name", max_len=255),
            tags=tags,
        )

    @staticmethod
    def _architecture(ec2: Any, instance_type: str) -> str:
        """The CPU architecture of an instance type (DescribeInstanceTypes also proves the type is offered)."""
        if not _INSTANCE_TYPE.match(instance_type):
            raise TaskAnalysisError(f"parameter 'instance_type' {instance_type!r} is not an EC2 instance type")
        try:
            types = ec2.describe_instance_types(InstanceTypes=[instance_type]).get("InstanceTypes", [])
        except ClientError as exc:
            if error_code(exc) in ("InvalidInstanceType", "InvalidParameterValue"):
                raise TaskAnalysisError(
                    f"parameter 'instance_type' {instance_type!r} is not an instance type offered in this region"
                ) from exc
            raise aws_error(exc, f"describe instance type {instance_type}") from exc
        if not types:
            raise TaskAnalysisError(f"parameter 'instance_type' {instance_type!r} is not offered in this region")
        archs = types[0].get("ProcessorInfo", {}).get("SupportedArchitectures", [])
        for arch in ("x86_64", "arm64"):
            if arch in archs:
                return arch
        raise TaskAnalysisError(f"instance type {instance_type} has no x86_64 or arm64 support ({archs})")

    @staticmethod
    def _latest_al2023(ctx: ProviderContext, ec2: Any, architecture: str) -> tuple[str, str]:
        """The newest Amazon Linux 2023 AMI: the public SSM parameter, else the newest matching Amazon-owned image."""
        parameter = AL2023_PARAMETER.format(arch=architecture)
        try:
            value = ctx.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
            return str(value), f"ssm:{parameter}"
        except ClientError as exc:
            # No SSM access in the member role, or a partition without the public parameter: ask EC2 instead.
            if error_code(exc) not in ("ParameterNotFound", "AccessDeniedException", "AccessDenied"):
                raise aws_error(exc, f"read SSM parameter {parameter}") from exc
        try:
            images = ec2.describe_images(
                Owners=["amazon"],
                Filters=[
                    {"Name": "name", "Values": [f"al2023-ami-2023.*-{architecture}"]},
                    {"Name": "architecture", "Values": [architecture]},
                    {"Name": "state", "Values": ["available"]},
                ],
            ).get("Images", [])
        except ClientError as exc:
            raise aws_error(exc, "describe Amazon Linux 2023 images") from exc
        if not images:
            raise ResourceNotFound(
                f"no Amazon Linux 2023 {architecture} AMI found in {ctx.task.region}; pass parameter 'image_id'"
            )
        newest = max(images, key=lambda image: str(image.get("CreationDate", "")))
        return str(newest["ImageId"]), "ec2:DescribeImages"

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        ec2 = ctx.client("ec2")
        if operation == "discover":
            return simple_plan(ctx, None, ["ec2:DescribeInstances"], region=ctx.task.region, states=LIVE_STATES)
        if operation == "create":
            spec = self._launch_spec(ctx, ec2)
            launch = {**spec.describe(), "client_token": client_token(ctx.task.id)}
            existing = self._task_instance(ctx, ec2)
            if existing is not None:
                return {
                    "operation": operation,
                    "resource_id": existing["InstanceId"],
                    "calls": [],
                    "parameters": {**launch, "replay": True},
                }
            try:
                # EC2 checks permissions and parameters without launching anything.
                ec2.run_instances(**spec.request(client_token(ctx.task.id)), DryRun=True)
            except ClientError as exc:
                if error_code(exc) != "DryRunOperation":
                    raise aws_error(exc, "check RunInstances (dry run)") from exc
            return {
                "operation": operation,
                "resource_id": None,
                "calls": ["ec2:RunInstances"],
                "parameters": launch,
            }
        instance_id = self.resource_id(ctx)
        if operation == "delete":
            outcome = self.managed_status(ctx, instance_id)
            done = outcome.metadata["instance_state"] in ("terminated", "shutting-down")
            calls = [] if done else ["ec2:TerminateInstances"]
            return {"operation": operation, "resource_id": instance_id, "calls": calls, "parameters": {}}
        action, new_type, tags = self._update_settings(ctx)
        outcome = self.managed_status(ctx, instance_id)
        state = outcome.metadata["instance_state"]
        calls = []
        parameters: dict[str, Any] = {"instance_state": state}
        if new_type is not None and new_type != outcome.metadata.get("instance_type"):
            self._architecture(ec2, new_type)
            running = state in ("pending", "running")
            calls = (["ec2:StopInstances"] if running else []) + ["ec2:ModifyInstanceAttribute"]
            calls += ["ec2:StartInstances"] if running else []
            parameters["instance_type"] = new_type
        if action is not None:
            calls.append(
                {"stop": "ec2:StopInstances", "start": "ec2:StartInstances", "reboot": "ec2:RebootInstances"}[action]
            )
            parameters["action"] = action
        if tags:
            calls.append("ec2:CreateTags")
            parameters["tags"] = tags
        return {"operation": operation, "resource_id": instance_id, "calls": calls, "parameters": parameters}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        ec2 = ctx.client("ec2")
        spec = self._launch_spec(ctx, ec2)
        # The client token makes RunInstances idempotent for a while; the tag lookup also covers replays after the
        # token's window (and EC2 emulators that ignore tokens).
        existing = self._task_instance(ctx, ec2)
        if existing is not None:
            return self._outcome(ctx, existing)
        try:
            response = ec2.run_instances(**spec.request(client_token(ctx.task.id)))
        except ClientError as exc:
            if error_code(exc) == "IdempotentParameterMismatch":
                raise ResourceConflict(
                    f"task {ctx.task.id} already launched an instance with different parameters; "
                    "a replay must carry the same parameters"
                ) from exc
            raise aws_error(exc, f"launch {spec.instance_type} instance") from exc
        instance = response["Instances"][0]
        if not instance.get("Tags"):
            instance = {**instance, "Tags": tag_list(spec.tags)}
        outcome = self._outcome(ctx, instance)
        outcome.metadata["image_source"] = spec.image_source
        return outcome

    @staticmethod
    def _task_instance(ctx: ProviderContext, ec2: Any) -> dict[str, Any] | None:
        """The live instance this task launched earlier, if any (found by its MiyabiTask tag)."""
        try:
            pages = ec2.get_paginator("describe_instances").paginate(
                Filters=[
                    {"Name": f"tag:{TASK_TAG}", "Values": [ctx.task.id]},
                    {"Name": "instance-state-name", "Values": LIVE_STATES},
                ]
            )
            instances = [i for page in pages for r in page.get("Reservations", []) for i in r.get("Instances", [])]
        except ClientError as exc:
            raise aws_error(exc, f"look up the instance of task {ctx.task.id}") from exc
        if not instances:
            return None
        return max(instances, key=lambda i: str(i.get("LaunchTime", "")))

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        return self._outcome(ctx, self._describe(ctx, ctx.client("ec2"), resource_id))

    def _describe(self, ctx: ProviderContext, ec2: Any, instance_id: str) -> dict[str, Any]:
        not_found = f"EC2 instance {instance_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
        try:
            reservations = ec2.describe_instances(InstanceIds=[instance_id]).get("Reservations", [])
        except ClientError as exc:
            raise aws_error(exc, f"describe instance {instance_id}", not_found=not_found) from exc
        instances = [i for r in reservations for i in r.get("Instances", [])]
        if not instances:
            raise ResourceNotFound(not_found)
        return dict(instances[0])

    def _outcome(self, ctx: ProviderContext, instance: dict[str, Any]) -> ResourceOutcome:
        instance_state = str(instance.get("State", {}).get("Name", "pending"))
        state, ready = _STATES.get(instance_state, (ResourceState.UPDATING, False))
        tags = tag_dict(instance.get("Tags"))
        launch_time = instance.get("LaunchTime")
        metadata: dict[str, Any] = {
            "instance_type": instance.get("InstanceType"),
            "instance_state": instance_state,
            "image_id": instance.get("ImageId"),
            "architecture": instance.get("Architecture"),
            "availability_zone": instance.get("Placement", {}).get("AvailabilityZone"),
            "subnet_id": instance.get("SubnetId"),
            "vpc_id": instance.get("VpcId"),
            "private_ip": instance.get("PrivateIpAddress"),
            "public_ip": instance.get("PublicIpAddress"),
            "key_name": instance.get("KeyName"),
            "launch_time": launch_time.isoformat() if isinstance(launch_time, datetime) else launch_time,
            "name": tags.get("Name"),
        }
        reason = instance.get("StateReason", {}).get("Message")
        if reason:
            metadata["state_reason"] = reason
        instance_id = str(instance["InstanceId"])
        return ResourceOutcome(
            id=instance_id,
            arn=self._arn(ctx, instance_id),
            state=state,
            ready=ready,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(self, ctx: ProviderContext) -> tuple[str | None, str | None, dict[str, str]]:
        action = opt_str(ctx.params, "action", max_len=16)
        if action is not None:
            action = action.lower()
            if action not in ACTIONS:
                raise TaskAnalysisError(f"parameter 'action' must be one of {', '.join(ACTIONS)}, got {action!r}")
        new_type = opt_str(ctx.params, "instance_type", max_len=64)
        tags = requested_tag_update(ctx.params)
        if action is None and new_type is None and not tags:
            raise TaskAnalysisError(
                "an EC2 instance update needs parameter 'action' (stop|start|reboot), 'instance_type' or 'tags'"
            )
        if action is not None and new_type is not None:
            raise TaskAnalysisError("give either parameter 'action' or 'instance_type' in one update, not both")
        return action, new_type, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        action, new_type, tags = self._update_settings(ctx)
        outcome = self.managed_status(ctx, resource_id)
        state = outcome.metadata["instance_state"]
        if state in ("shutting-down", "terminated"):
            raise ResourceConflict(f"EC2 instance {resource_id} is {state}; it cannot be updated")
        ec2 = ctx.client("ec2")
        previous_type = outcome.metadata.get("instance_type")
        if new_type is not None and new_type != previous_type:
            self._resize(ctx, ec2, resource_id, state, new_type)
        if action is not None:
            self._act(ec2, resource_id, state, action)
        if tags:
            self.tag(ctx, resource_id, tags)
        result = self.status(ctx, resource_id)
        if new_type is not None:
            result.metadata["previous_instance_type"] = previous_type
        return result

    def _resize(self, ctx: ProviderContext, ec2: Any, instance_id: str, state: str, new_type: str) -> None:
        """Stop (waiting for it), change the type, start again if it was running. EC2 resizes only stopped instances."""
        self._architecture(ec2, new_type)
        if state == "pending":
            raise TransientAwsError(f"EC2 instance {instance_id} is still pending; resize it once it runs")
        was_running = state == "running"
        try:
            if was_running:
                ec2.stop_instances(InstanceIds=[instance_id])
            if state != "stopped":
                ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=self.stop_waiter_config)
            ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": new_type})
            if was_running:
                ec2.start_instances(InstanceIds=[instance_id])
        except WaiterError as exc:
            seconds = self.stop_waiter_config["Delay"] * self.stop_waiter_config["MaxAttempts"]
            raise TransientAwsError(f"EC2 instance {instance_id} did not stop within {seconds} s: {exc}") from exc
        except ClientError as exc:
            raise aws_error(exc, f"change instance {instance_id} to {new_type}") from exc

    @staticmethod
    def _act(ec2: Any, instance_id: str, state: str, action: str) -> None:
        try:
            if action == "stop" and state not in ("stopping", "stopped"):
                ec2.stop_instances(InstanceIds=[instance_id])
            elif action == "start" and state not in ("pending", "running"):
                if state == "stopping":
                    raise TransientAwsError(f"EC2 instance {instance_id} is stopping; start it once it has stopped")
                ec2.start_instances(InstanceIds=[instance_id])
            elif action == "reboot":
                if state != "running":
                    raise ResourceConflict(f"EC2 instance {instance_id} is {state}; only a running instance reboots")
                ec2.reboot_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            raise aws_error(exc, f"{action} instance {instance_id}") from exc

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        if outcome.metadata["instance_state"] in ("shutting-down", "terminated"):
            return outcome
        ec2 = ctx.client("ec2")
        try:
            changes = ec2.terminate_instances(InstanceIds=[resource_id]).get("TerminatingInstances", [])
        except ClientError as exc:
            raise aws_error(exc, f"terminate instance {resource_id}") from exc
        current = changes[0]["CurrentState"]["Name"] if changes else "shutting-down"
        state, ready = _STATES.get(current, (ResourceState.DELETING, False))
        return outcome.model_copy(
            update={"state": state, "ready": ready, "metadata": {**outcome.metadata, "instance_state": current}}
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        ec2 = ctx.client("ec2")
        try:
            pages = ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-state-name", "Values": LIVE_STATES}]
            )
            return [
                self._outcome(ctx, instance)
                for page in pages
                for reservation in page.get("Reservations", [])
                for instance in reservation.get("Instances", [])
            ]
        except ClientError as exc:
            raise aws_error(exc, f"describe instances in {ctx.task.region}") from exc

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        try:
            ctx.client("ec2").create_tags(Resources=[resource_id], Tags=tag_list(tags))
        except ClientError as exc:
            raise aws_error(
                exc, f"tag instance {resource_id}", not_found=f"EC2 instance {resource_id} does not exist"
            ) from exc
