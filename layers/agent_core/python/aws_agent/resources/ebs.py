"""EBS volumes: encrypted by default, tagged at creation, resized or retyped in place with ModifyVolume."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, ResourceState
from ._common import (
    aws_error,
    aws_id,
    operation_of,
    opt_bool,
    opt_int,
    opt_str,
    partition_for,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import call, paged, wait_until
from .base import TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider
from .ec2 import client_token

_VOLUME_ID = re.compile(r"^vol-[0-9a-f]{8,17}$")
_AZ = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
VOLUME_TYPES = ("gp3", "gp2", "io1", "io2", "st1", "sc1", "standard")
SIZE_LIMITS = {
    "gp3": (1, 16384),
    "gp2": (1, 16384),
    "io1": (4, 16384),
    "io2": (4, 65536),
    "st1": (125, 16384),
    "sc1": (125, 16384),
    "standard": (1, 1024),
}
MISSING = ("InvalidVolume.NotFound",)
_STATES: dict[str, tuple[ResourceState, bool]] = {
    "creating": (ResourceState.CREATING, False),
    "available": (ResourceState.ACTIVE, True),
    "in-use": (ResourceState.ACTIVE, True),
    "deleting": (ResourceState.DELETING, False),
    "deleted": (ResourceState.TERMINATED, True),
    "error": (ResourceState.FAILED, True),
}


class EbsVolumeProvider(ResourceProvider):
    resource_type = AwsResourceType.EBS_VOLUME

    # How long delete waits for a force-detached volume to become available (a bounded wait, not minutes).
    detach_wait: dict[str, float] = {"attempts": 15, "delay": 2.0}

    def resource_id(self, ctx: ProviderContext) -> str:
        return aws_id(ctx, "volume_id", max_len=32, pattern=_VOLUME_ID, shape="vol-...")

    def _request(self, ctx: ProviderContext) -> dict[str, Any]:
        params = ctx.params
        volume_type = (opt_str(params, "volume_type", max_len=16) or "gp3").lower()
        if volume_type not in VOLUME_TYPES:
            raise TaskAnalysisError(f"parameter 'volume_type' must be one of {', '.join(VOLUME_TYPES)}")
        low, high = SIZE_LIMITS[volume_type]
        size = opt_int(params, "size", low=low, high=high)
        snapshot_id = opt_str(params, "snapshot_id", max_len=32)
        if size is None and snapshot_id is None:
            size = max(8, low)
        zone = opt_str(params, "availability_zone", max_len=32) or f"{ctx.task.region}a"
        if not _AZ.match(zone) or not zone.startswith(ctx.task.region):
            raise TaskAnalysisError(f"parameter 'availability_zone' {zone!r} is not a zone of {ctx.task.region}")
        encrypted = opt_bool(params, "encrypted")
        if encrypted is False:
            raise TaskAnalysisError("the agent creates encrypted volumes only; drop parameter 'encrypted'")
        tags = ctx.managed_tags()
        name = opt_str(params, "name", max_len=200)
        if name:
            tags["Name"] = name
        request: dict[str, Any] = {
            "AvailabilityZone": zone,
            "VolumeType": volume_type,
            "Encrypted": True,
            "TagSpecifications": [{"ResourceType": "volume", "Tags": tag_list(tags)}],
        }
        optional = {
            "Size": size,
            "SnapshotId": snapshot_id,
            "KmsKeyId": opt_str(params, "kms_key_id", max_len=2048),
            "Iops": opt_int(params, "iops", low=100, high=256000),
            "Throughput": opt_int(params, "throughput", low=125, high=2000),
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        return request

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["ec2:DescribeVolumes"])
        if operation == "create":
            request = self._request(ctx)
            existing = self._task_volume(ctx, ctx.client("ec2"))
            if existing is not None:
                return simple_plan(ctx, existing["VolumeId"], [], replay=True)
            return simple_plan(
                ctx, None, ["ec2:CreateVolume"], **{k: v for k, v in request.items() if k != "TagSpecifications"}
            )
        volume_id = self.resource_id(ctx)
        outcome = self.managed_status(ctx, volume_id)
        if operation == "delete":
            attached = outcome.metadata.get("attached_to", [])
            calls = (["ec2:DetachVolume"] if attached else []) + ["ec2:DeleteVolume"]
            return simple_plan(ctx, volume_id, calls, attached_to=attached)
        changes, tags = self._changes(ctx, outcome)
        calls = (["ec2:ModifyVolume"] if changes else []) + (["ec2:CreateTags"] if tags else [])
        return simple_plan(ctx, volume_id, calls, **changes, tags=tags)

    # --- create / status ----------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        ec2 = ctx.client("ec2")
        request = self._request(ctx)
        # ClientToken makes CreateVolume idempotent for a while; the tag lookup covers replays after it (and emulators).
        existing = self._task_volume(ctx, ec2)
        if existing is not None:
            return self._outcome(ctx, existing, None)
        try:
            volume = ec2.create_volume(**request, ClientToken=client_token(ctx.task.id))
        except ClientError as exc:
            if error_code(exc) == "IdempotentParameterMismatch":
                raise ResourceConflict(f"task {ctx.task.id} already created a volume with other parameters") from exc
            raise aws_error(exc, "create EBS volume") from exc
        if not volume.get("Tags"):
            volume["Tags"] = request["TagSpecifications"][0]["Tags"]
        return self._outcome(ctx, volume, None)

    @staticmethod
    def _task_volume(ctx: ProviderContext, ec2: Any) -> dict[str, Any] | None:
        volumes = call(
            ec2.describe_volumes,
            f"look up the volume of task {ctx.task.id}",
            Filters=[
                {"Name": f"tag:{TASK_TAG}", "Values": [ctx.task.id]},
                {"Name": "status", "Values": ["creating", "available", "in-use"]},
            ],
        ).get("Volumes", [])
        return dict(volumes[0]) if volumes else None

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        ec2 = ctx.client("ec2")
        not_found = f"EBS volume {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
        volumes = call(
            ec2.describe_volumes,
            f"describe volume {resource_id}",
            missing=MISSING,
            not_found=not_found,
            VolumeIds=[resource_id],
        ).get("Volumes", [])
        if not volumes:
            raise ResourceNotFound(not_found)
        return self._outcome(ctx, volumes[0], self._modification(ec2, resource_id))

    @staticmethod
    def _modification(ec2: Any, volume_id: str) -> dict[str, Any] | None:
        try:
            found = ec2.describe_volumes_modifications(VolumeIds=[volume_id]).get("VolumesModifications", [])
        except ClientError as exc:
            if error_code(exc) in ("InvalidVolumeModification.NotFound", *MISSING):
                return None  # never modified
            raise aws_error(exc, f"describe modifications of {volume_id}") from exc
        return max(found, key=lambda m: str(m.get("StartTime", ""))) if found else None

    def _outcome(
        self, ctx: ProviderContext, volume: dict[str, Any], modification: dict[str, Any] | None
    ) -> ResourceOutcome:
        volume_state = str(volume.get("State", "creating"))
        state, ready = _STATES.get(volume_state, (ResourceState.UPDATING, False))
        metadata: dict[str, Any] = {
            "volume_state": volume_state,
            "size": volume.get("Size"),
            "volume_type": volume.get("VolumeType"),
            "iops": volume.get("Iops"),
            "throughput": volume.get("Throughput"),
            "availability_zone": volume.get("AvailabilityZone"),
            "encrypted": volume.get("Encrypted"),
            "snapshot_id": volume.get("SnapshotId") or None,
            "attached_to": [a["InstanceId"] for a in volume.get("Attachments", []) if a.get("InstanceId")],
        }
        if modification is not None:
            mod_state = modification.get("ModificationState")
            metadata["modification_state"] = mod_state
            # "optimizing" means the new size/type is usable while EBS rebalances (hours): the update is done for the
            # agent. "modifying" is not done yet; a failed modification leaves the volume as it was (Active).
            if mod_state == "modifying" and state is ResourceState.ACTIVE:
                state, ready = ResourceState.UPDATING, False
            if mod_state == "failed":
                metadata["state_reason"] = modification.get("StatusMessage", "the modification failed")
        volume_id = str(volume["VolumeId"])
        created = volume.get("CreateTime")
        metadata["create_time"] = created.isoformat() if isinstance(created, datetime) else created
        return ResourceOutcome(
            id=volume_id,
            arn=f"arn:{partition_for(ctx.task.region)}:ec2:{ctx.task.region}:{ctx.task.account_id}:volume/{volume_id}",
            state=state,
            ready=ready,
            tags=tag_dict(volume.get("Tags")),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update / delete ----------------------------------------------------------------------------------------

    def _changes(self, ctx: ProviderContext, outcome: ResourceOutcome) -> tuple[dict[str, Any], dict[str, str]]:
        params = ctx.params
        current_type = str(outcome.metadata.get("volume_type", "gp3"))
        changes: dict[str, Any] = {}
        volume_type = opt_str(params, "volume_type", max_len=16)
        if volume_type is not None:
            if volume_type.lower() not in VOLUME_TYPES:
                raise TaskAnalysisError(f"parameter 'volume_type' must be one of {', '.join(VOLUME_TYPES)}")
            if volume_type.lower() != current_type:
                changes["VolumeType"] = volume_type.lower()
        low, high = SIZE_LIMITS[changes.get("VolumeType", current_type)]
        size = opt_int(params, "size", low=low, high=high)
        if size is not None and size != outcome.metadata.get("size"):
            if size < int(outcome.metadata.get("size", 0)):
                raise TaskAnalysisError(f"EBS volumes only grow: {outcome.metadata.get('size')} GiB -> {size} GiB")
            changes["Size"] = size
        for param, key, lo, hi in (("iops", "Iops", 100, 256000), ("throughput", "Throughput", 125, 2000)):
            value = opt_int(params, param, low=lo, high=hi)
            if value is not None and value != outcome.metadata.get(param):
                changes[key] = value
        tags = requested_tag_update(params)
        if not changes and not tags and not any(k in params for k in ("size", "volume_type", "iops", "throughput")):
            raise TaskAnalysisError("an EBS volume update takes 'size', 'volume_type', 'iops', 'throughput' or 'tags'")
        return changes, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        changes, tags = self._changes(ctx, outcome)
        if changes:
            if outcome.metadata.get("modification_state") == "modifying":
                raise ResourceConflict(f"EBS volume {resource_id} is still being modified; update it afterwards")
            call(ctx.client("ec2").modify_volume, f"modify volume {resource_id}", VolumeId=resource_id, **changes)
        if tags:
            self.tag(ctx, resource_id, tags)
        return self.status(ctx, resource_id)

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        ec2 = ctx.client("ec2")
        if outcome.metadata["volume_state"] in ("deleting", "deleted"):
            return outcome
        attached = outcome.metadata.get("attached_to", [])
        if attached:
            if opt_bool(ctx.params, "force_detach") is not True:
                raise ResourceConflict(
                    f"EBS volume {resource_id} is attached to {', '.join(attached)}; detach it first or delete with "
                    "force_detach=true"
                )
            for instance_id in attached:  # io2 multi-attach: one detach per instance
                call(
                    ec2.detach_volume,
                    f"detach volume {resource_id}",
                    VolumeId=resource_id,
                    InstanceId=instance_id,
                    Force=True,
                )
            wait_until(
                lambda: self.status(ctx, resource_id).metadata["volume_state"] == "available",
                f"detaching volume {resource_id}",
                attempts=int(self.detach_wait["attempts"]),
                delay=self.detach_wait["delay"],
            )
        call(ec2.delete_volume, f"delete volume {resource_id}", missing=MISSING, VolumeId=resource_id)
        return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})

    # --- discover / tag -----------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        volumes = paged(ctx.client("ec2"), "describe_volumes", "Volumes", f"describe volumes in {ctx.task.region}")
        return [self._outcome(ctx, v, None) for v in volumes]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if tags:
            call(
                ctx.client("ec2").create_tags,
                f"tag volume {resource_id}",
                missing=MISSING,
                not_found=f"EBS volume {resource_id} does not exist",
                Resources=[resource_id],
                Tags=tag_list(tags),
            )
