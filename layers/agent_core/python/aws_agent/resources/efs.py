"""EFS file systems: encrypted, created once per task (CreationToken), with mount targets in the given subnets."""

from __future__ import annotations

import re
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
    opt_str_list,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import SG_ID, SUBNET_ID, call, paged, wait_until
from .base import ProviderContext, ResourceOutcome, ResourceProvider

_FS_ID = re.compile(r"^fs-[0-9a-f]{8,40}$")
MISSING = ("FileSystemNotFound",)
TRANSITIONS = (
    "AFTER_1_DAY",
    "AFTER_7_DAYS",
    "AFTER_14_DAYS",
    "AFTER_30_DAYS",
    "AFTER_60_DAYS",
    "AFTER_90_DAYS",
    "AFTER_180_DAYS",
    "AFTER_270_DAYS",
    "AFTER_365_DAYS",
)
THROUGHPUT_MODES = ("bursting", "elastic", "provisioned")
_STATES: dict[str, tuple[ResourceState, bool]] = {
    "creating": (ResourceState.CREATING, False),
    "available": (ResourceState.ACTIVE, True),
    "updating": (ResourceState.UPDATING, False),
    "deleting": (ResourceState.DELETING, False),
    "deleted": (ResourceState.TERMINATED, True),
    "error": (ResourceState.FAILED, True),
}


class EfsFileSystemProvider(ResourceProvider):
    resource_type = AwsResourceType.EFS_FILE_SYSTEM

    # Bounded waits inside one step: the file system must be available before mount targets are made, and the mount
    # targets gone before the file system is deleted (EFS takes seconds for both). Longer: the step is retried.
    wait: dict[str, float] = {"attempts": 10, "delay": 3.0}

    def resource_id(self, ctx: ProviderContext) -> str:
        return aws_id(ctx, "file_system_id", max_len=64, pattern=_FS_ID, shape="fs-...")

    @staticmethod
    def _network(ctx: ProviderContext) -> tuple[list[str], list[str] | None]:
        subnets = opt_str_list(ctx.params, "subnet_ids") or []
        groups = opt_str_list(ctx.params, "security_group_ids")
        bad = [s for s in subnets if not SUBNET_ID.match(s)] + [g for g in groups or [] if not SG_ID.match(g)]
        if bad:
            raise TaskAnalysisError(f"invalid subnet or security group ids: {', '.join(bad)}")
        return subnets, groups

    @staticmethod
    def _lifecycle(ctx: ProviderContext) -> list[dict[str, str]] | None:
        transition = opt_str(ctx.params, "transition_to_ia", max_len=32)
        if transition is None:
            return None
        transition = transition.upper()
        if transition == "NONE":
            return []
        if transition not in TRANSITIONS:
            raise TaskAnalysisError(f"parameter 'transition_to_ia' must be NONE or one of {', '.join(TRANSITIONS)}")
        return [{"TransitionToIA": transition}]

    def _request(self, ctx: ProviderContext) -> dict[str, Any]:
        params = ctx.params
        if opt_bool(params, "encrypted") is False:
            raise TaskAnalysisError("the agent creates encrypted file systems only; drop parameter 'encrypted'")
        performance = opt_str(params, "performance_mode", max_len=32) or "generalPurpose"
        if performance not in ("generalPurpose", "maxIO"):
            raise TaskAnalysisError("parameter 'performance_mode' must be generalPurpose or maxIO")
        throughput = opt_str(params, "throughput_mode", max_len=32) or "elastic"
        if throughput not in THROUGHPUT_MODES:
            raise TaskAnalysisError(f"parameter 'throughput_mode' must be one of {', '.join(THROUGHPUT_MODES)}")
        tags = ctx.managed_tags()
        name = opt_str(params, "name", max_len=200)
        if name:
            tags["Name"] = name
        request: dict[str, Any] = {
            "CreationToken": ctx.task.id,  # EFS's own idempotency key: one file system per task
            "PerformanceMode": performance,
            "ThroughputMode": throughput,
            "Encrypted": True,
            "Tags": tag_list(tags),
        }
        kms = opt_str(params, "kms_key_id", max_len=2048)
        if kms:
            request["KmsKeyId"] = kms
        if throughput == "provisioned":
            mibps = opt_int(params, "provisioned_throughput", low=1, high=3414)
            if mibps is None:
                raise TaskAnalysisError("throughput_mode provisioned needs parameter 'provisioned_throughput' (MiB/s)")
            request["ProvisionedThroughputInMibps"] = mibps
        return request

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["elasticfilesystem:DescribeFileSystems"])
        if operation == "create":
            request = self._request(ctx)
            subnets, _ = self._network(ctx)
            calls = ["elasticfilesystem:CreateFileSystem"] + ["elasticfilesystem:CreateMountTarget"] * len(subnets)
            if self._lifecycle(ctx):
                calls.append("elasticfilesystem:PutLifecycleConfiguration")
            return simple_plan(
                ctx, None, calls, **{k: v for k, v in request.items() if k != "Tags"}, subnet_ids=subnets
            )
        fs_id = self.resource_id(ctx)
        outcome = self.managed_status(ctx, fs_id)
        if operation == "delete":
            targets = outcome.metadata.get("mount_target_ids", [])
            calls = ["elasticfilesystem:DeleteMountTarget"] * len(targets) + ["elasticfilesystem:DeleteFileSystem"]
            return simple_plan(ctx, fs_id, calls, mount_target_ids=targets)
        lifecycle, throughput, tags = self._update_settings(ctx)
        calls = (["elasticfilesystem:PutLifecycleConfiguration"] if lifecycle is not None else []) + (
            ["elasticfilesystem:UpdateFileSystem"] if throughput else []
        )
        return simple_plan(ctx, fs_id, calls + (["elasticfilesystem:TagResource"] if tags else []), tags=tags)

    # --- create / status ----------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        efs = ctx.client("efs")
        request = self._request(ctx)
        subnets, groups = self._network(ctx)
        lifecycle = self._lifecycle(ctx)
        try:
            fs_id = efs.create_file_system(**request)["FileSystemId"]
        except ClientError as exc:
            if error_code(exc) != "FileSystemAlreadyExists":
                raise aws_error(exc, "create EFS file system") from exc
            # A replay: the same CreationToken names the file system this task created.
            fs_id = exc.response.get("FileSystemId") or self._by_token(efs, ctx.task.id)
        if subnets or lifecycle:
            wait_until(
                lambda: self._describe(ctx, efs, fs_id).get("LifeCycleState") == "available",
                f"EFS file system {fs_id} becoming available",
                attempts=int(self.wait["attempts"]),
                delay=self.wait["delay"],
            )
        existing = {t["SubnetId"] for t in self._mount_targets(efs, fs_id)}
        for subnet in subnets:
            if subnet not in existing:
                kwargs: dict[str, Any] = {"FileSystemId": fs_id, "SubnetId": subnet}
                if groups:
                    kwargs["SecurityGroups"] = groups
                try:
                    efs.create_mount_target(**kwargs)
                except ClientError as exc:
                    if error_code(exc) != "MountTargetConflict":  # one per AZ; a replay finds it made
                        raise aws_error(exc, f"create mount target in {subnet}") from exc
        if lifecycle:
            call(
                efs.put_lifecycle_configuration, "put lifecycle policy", FileSystemId=fs_id, LifecyclePolicies=lifecycle
            )
        return self.status(ctx, fs_id)

    @staticmethod
    def _by_token(efs: Any, token: str) -> str:
        found = call(efs.describe_file_systems, "describe file system by token", CreationToken=token)["FileSystems"]
        if not found:
            raise ResourceConflict(f"EFS reported creation token {token} in use but no file system has it")
        return str(found[0]["FileSystemId"])

    def _describe(self, ctx: ProviderContext, efs: Any, fs_id: str) -> dict[str, Any]:
        not_found = f"EFS file system {fs_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
        found = call(
            efs.describe_file_systems, f"describe {fs_id}", missing=MISSING, not_found=not_found, FileSystemId=fs_id
        ).get("FileSystems", [])
        if not found:
            raise ResourceNotFound(not_found)
        return dict(found[0])

    @staticmethod
    def _mount_targets(efs: Any, fs_id: str) -> list[dict[str, Any]]:
        return list(
            call(
                efs.describe_mount_targets, f"describe mount targets of {fs_id}", missing=MISSING, FileSystemId=fs_id
            ).get("MountTargets", [])
        )

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        efs = ctx.client("efs")
        fs = self._describe(ctx, efs, resource_id)
        targets = self._mount_targets(efs, resource_id) if fs.get("LifeCycleState") != "deleted" else []
        outcome = self._outcome(ctx, fs, targets)
        try:
            policies = efs.describe_lifecycle_configuration(FileSystemId=resource_id).get("LifecyclePolicies", [])
            outcome.metadata["lifecycle_policies"] = policies
        except ClientError as exc:
            if error_code(exc) not in MISSING:
                raise aws_error(exc, f"describe lifecycle of {resource_id}") from exc
        return outcome

    def _outcome(
        self, ctx: ProviderContext, fs: dict[str, Any], targets: list[dict[str, Any]] | None
    ) -> ResourceOutcome:
        life = str(fs.get("LifeCycleState", "creating"))
        state, ready = _STATES.get(life, (ResourceState.UPDATING, False))
        metadata: dict[str, Any] = {
            "lifecycle_state": life,
            "performance_mode": fs.get("PerformanceMode"),
            "throughput_mode": fs.get("ThroughputMode"),
            "encrypted": fs.get("Encrypted"),
            "size_bytes": fs.get("SizeInBytes", {}).get("Value"),
            "name": fs.get("Name"),
        }
        if targets is not None:
            metadata["mount_target_ids"] = [t["MountTargetId"] for t in targets]
            metadata["subnet_ids"] = [t["SubnetId"] for t in targets]
            # A file system is ready for use once its mount targets are too (clients mount through them).
            if state is ResourceState.ACTIVE and any(t.get("LifeCycleState") != "available" for t in targets):
                ready = False
        fs_id = str(fs["FileSystemId"])
        arn = fs.get("FileSystemArn") or (
            f"arn:aws:elasticfilesystem:{ctx.task.region}:{ctx.task.account_id}:file-system/{fs_id}"
        )
        return ResourceOutcome(
            id=fs_id,
            arn=str(arn),
            state=state,
            ready=ready,
            tags=tag_dict(fs.get("Tags")),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update / delete ----------------------------------------------------------------------------------------

    def _update_settings(
        self, ctx: ProviderContext
    ) -> tuple[list[dict[str, str]] | None, dict[str, Any], dict[str, str]]:
        lifecycle = self._lifecycle(ctx)
        throughput: dict[str, Any] = {}
        mode = opt_str(ctx.params, "throughput_mode", max_len=32)
        if mode is not None:
            if mode not in THROUGHPUT_MODES:
                raise TaskAnalysisError(f"parameter 'throughput_mode' must be one of {', '.join(THROUGHPUT_MODES)}")
            throughput["ThroughputMode"] = mode
            if mode == "provisioned":
                mibps = opt_int(ctx.params, "provisioned_throughput", low=1, high=3414)
                if mibps is None:
                    raise TaskAnalysisError("throughput_mode provisioned needs parameter 'provisioned_throughput'")
                throughput["ProvisionedThroughputInMibps"] = mibps
        tags = requested_tag_update(ctx.params)
        if lifecycle is None and not throughput and not tags:
            raise TaskAnalysisError("an EFS update takes 'transition_to_ia', 'throughput_mode' or 'tags'")
        return lifecycle, throughput, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        lifecycle, throughput, tags = self._update_settings(ctx)
        outcome = self.managed_status(ctx, resource_id)
        efs = ctx.client("efs")
        if lifecycle is not None:
            call(
                efs.put_lifecycle_configuration,
                "put lifecycle policy",
                FileSystemId=resource_id,
                LifecyclePolicies=lifecycle,
            )
        if throughput and throughput.get("ThroughputMode") != outcome.metadata.get("throughput_mode"):
            call(efs.update_file_system, f"update throughput of {resource_id}", FileSystemId=resource_id, **throughput)
        if tags:
            self.tag(ctx, resource_id, tags)
        return self.status(ctx, resource_id)

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        if outcome.metadata["lifecycle_state"] in ("deleting", "deleted"):
            return outcome
        efs = ctx.client("efs")
        for target in self._mount_targets(efs, resource_id):
            if target.get("LifeCycleState") not in ("deleting", "deleted"):
                call(
                    efs.delete_mount_target,
                    "delete mount target",
                    missing=("MountTargetNotFound",),
                    MountTargetId=target["MountTargetId"],
                )
        # EFS refuses to delete a file system while any mount target still exists (FileSystemInUse).
        wait_until(
            lambda: not self._mount_targets(efs, resource_id),
            f"mount targets of {resource_id} being deleted",
            attempts=int(self.wait["attempts"]),
            delay=self.wait["delay"],
        )
        call(efs.delete_file_system, f"delete {resource_id}", missing=MISSING, FileSystemId=resource_id)
        return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})

    # --- discover / tag -----------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        doing = f"describe file systems in {ctx.task.region}"
        return [
            self._outcome(ctx, fs, None)
            for fs in paged(ctx.client("efs"), "describe_file_systems", "FileSystems", doing)
        ]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if tags:
            call(
                ctx.client("efs").tag_resource,
                f"tag {resource_id}",
                missing=MISSING,
                not_found=f"EFS file system {resource_id} does not exist",
                ResourceId=resource_id,
                Tags=tag_list(tags),
            )
