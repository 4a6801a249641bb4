"""RDS DB instances and Aurora clusters: deterministic identifiers, tagged at creation, waited on by the pipeline."""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import (
    aws_error,
    check_owner,
    find_existing,
    operation_of,
    opt_bool,
    opt_int,
    opt_str,
    opt_str_list,
    partition_for,
    requested_tag_update,
    short_hash,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import paged
from .base import ProviderContext, ResourceOutcome, ResourceProvider

_IDENTIFIER = re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9]|-(?!-)){0,62}$")
_DB_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
_USERNAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,15}$")
INSTANCE_ENGINES = ("postgres", "mysql", "mariadb")
CLUSTER_ENGINES = ("aurora-postgresql", "aurora-mysql")

# RDS statuses whose resource no longer works and will not recover by itself: the task fails with the status.
FAILED_STATUSES = frozenset(
    {
        "failed",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-parameters",
        "incompatible-restore",
        "incompatible-credentials",
        "inaccessible-encryption-credentials",
        "storage-full",
        "restore-error",
    }
)
# Settled statuses: the resource works and nothing is in flight.
SETTLED_STATUSES = frozenset({"available", "stopped"})

# While an operation runs, the record shows what the task is doing (RDS's own status is in metadata).
_IN_FLIGHT = {
    AwsTaskType.CREATE_RESOURCE: ResourceState.CREATING,
    AwsTaskType.UPDATE_RESOURCE: ResourceState.UPDATING,
    AwsTaskType.DELETE_RESOURCE: ResourceState.DELETING,
}


def validate_identifier(name: str, what: str) -> str:
    if not _IDENTIFIER.match(name) or name.endswith("-"):
        raise TaskAnalysisError(
            f"parameter '{what}' {name!r} is not a valid RDS identifier: 1 to 63 letters, digits or hyphens, "
            "starting with a letter, no two consecutive hyphens and no trailing hyphen"
        )
    return name.lower()


def derived_identifier(ctx: ProviderContext, prefix: str = "miyabi") -> str:
    """The identifier of a resource created without one: deterministic, so a replayed task finds its resource."""
    return f"{prefix}-{short_hash(ctx.task.account_id + ctx.task.id)}"


def final_snapshot_name(identifier: str, task_id: str) -> str:
    """Deterministic final snapshot name: a replayed delete asks for the same snapshot, never a second one."""
    return f"{identifier[:40]}-final-{short_hash(task_id, 10)}"


def status_of(rds_status: str, task_type: AwsTaskType, reason: str) -> tuple[ResourceState, bool, str | None]:
    """RDS status -> (record state, ready, failure reason)."""
    if rds_status in FAILED_STATUSES:
        return ResourceState.FAILED, True, reason or f"RDS reports status {rds_status}"
    if rds_status == "deleting":
        return ResourceState.DELETING, False, None
    if rds_status in SETTLED_STATUSES:
        return ResourceState.ACTIVE, True, None
    # creating, backing-up, modifying, configuring-*, upgrading, rebooting, starting, stopping, ...
    return _IN_FLIGHT.get(task_type, ResourceState.UPDATING), False, None


def in_flight(ctx: ProviderContext, outcome: ResourceOutcome) -> ResourceOutcome:
    """Right after a mutating call: not ready (the wait loop confirms with a status check), unless it failed."""
    if outcome.state is ResourceState.FAILED or not outcome.ready:
        return outcome
    return outcome.model_copy(update={"ready": False, "state": _IN_FLIGHT.get(ctx.task.task_type, outcome.state)})


def _db_class(params: dict[str, Any], name: str = "db_instance_class") -> str | None:
    value = opt_str(params, name, max_len=64)
    if value is not None and not _DB_CLASS.match(value):
        raise TaskAnalysisError(f"parameter '{name}' {value!r} is not a DB instance class (db.<family>.<size>)")
    return value


def _engine(params: dict[str, Any], allowed: tuple[str, ...]) -> str:
    engine = opt_str(params, "engine", max_len=32) or allowed[0]
    if engine not in allowed:
        raise TaskAnalysisError(f"parameter 'engine' {engine!r} is not one of: {', '.join(allowed)}")
    return engine


def _username(params: dict[str, Any]) -> str:
    username = opt_str(params, "master_username", max_len=16) or "miyabiadmin"
    if not _USERNAME.match(username):
        raise TaskAnalysisError(f"parameter 'master_username' {username!r} must be 1-16 letters, digits or _")
    return username


def _placement(params: dict[str, Any]) -> dict[str, Any]:
    """The optional create settings instances and clusters share: engine version, subnet group, security groups."""
    request: dict[str, Any] = {}
    version = opt_str(params, "engine_version", max_len=32)
    if version:
        request["EngineVersion"] = version
    subnet_group = opt_str(params, "db_subnet_group_name", max_len=255)
    if subnet_group:
        request["DBSubnetGroupName"] = subnet_group
    groups = opt_str_list(params, "vpc_security_group_ids")
    if groups:
        request["VpcSecurityGroupIds"] = groups
    return request


def _final_snapshot(ctx: ProviderContext, identifier: str) -> tuple[bool, str | None]:
    """The task's skip_final_snapshot and, unless skipped, the final snapshot's deterministic name."""
    skip = bool(opt_bool(ctx.params, "skip_final_snapshot"))
    return skip, None if skip else final_snapshot_name(identifier, ctx.task.id)


class _RdsBase(ResourceProvider):
    """What instances and clusters share: the wait-loop timings, tag calls, the ownership check and the shapes of
    describe, outcome, plan, delete and discover (each subclass names its RDS operations, keys and error codes)."""

    poll_seconds: ClassVar[int] = 30
    deadline_seconds: ClassVar[int] = 60 * 60
    id_param: ClassVar[str]
    label: ClassVar[str]  # in messages: "RDS DB instance", "Aurora cluster"
    noun: ClassVar[str]  # RDS's own name, in error contexts: "DB instance", "DB cluster"
    kind: ClassVar[str]  # the ARN's resource type: "db", "cluster"
    id_key: ClassVar[str]  # the request's identifier: "DBInstanceIdentifier", "DBClusterIdentifier"
    arn_key: ClassVar[str]  # the ARN in RDS's description
    status_key: ClassVar[str]  # the metadata key of RDS's status
    not_found_code: ClassVar[str]
    describe_operation: ClassVar[str]  # boto3 name, also the paginator's
    describe_result: ClassVar[str]  # the list in its response
    delete_operation: ClassVar[str]
    discover_call: ClassVar[str]  # IAM name, shown in the plan
    delete_calls: ClassVar[tuple[str, ...]]

    def _describe_one(self, ctx: ProviderContext, identifier: str) -> dict[str, Any]:
        """The resource as RDS describes it; ResourceNotFound when it does not exist."""
        try:
            found = getattr(ctx.client("rds"), self.describe_operation)(**{self.id_key: identifier})
        except ClientError as exc:
            if error_code(exc) == self.not_found_code:
                raise ResourceNotFound(f"{self.label} {identifier} does not exist") from exc
            raise aws_error(exc, f"describe {self.noun} {identifier}") from exc
        if not found[self.describe_result]:
            raise ResourceNotFound(f"{self.label} {identifier} does not exist")
        described: dict[str, Any] = found[self.describe_result][0]
        return described

    def _record(
        self,
        ctx: ProviderContext,
        described: dict[str, Any],
        rds_status: str,
        reason: str,
        *,
        pending: bool,
        metadata: dict[str, Any],
    ) -> ResourceOutcome:
        """The outcome of a described instance or cluster from its (worst) RDS status; the failure reason, if any,
        goes into its metadata."""
        state, ready, failure = status_of(rds_status, ctx.task.task_type, reason)
        if ready and pending and self._waits_for_pending(ctx):
            # ModifyDBInstance with ApplyImmediately answers while the instance still says "available"; the change
            # is done once RDS has applied the pending values.
            state, ready = ResourceState.UPDATING, False
        if failure:
            metadata["reason"] = failure
        return ResourceOutcome(
            id=described[self.id_key],
            arn=described[self.arn_key],
            state=state,
            ready=ready,
            tags=tag_dict(described.get("TagList")),
            metadata=metadata,
        )

    def _describe_all(self, ctx: ProviderContext) -> list[dict[str, Any]]:
        doing = f"describe {self.noun}s in {ctx.task.region}"
        return paged(ctx.client("rds"), self.describe_operation, self.describe_result, doing)

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, [self.discover_call])
        identifier = self.resource_id(ctx)
        if operation == "create":
            calls, parameters = self._plan_create(ctx, identifier)  # validates before any AWS call
            existing = self._existing(ctx, identifier)
            if existing is not None:
                self._check_owner(ctx, existing)
                calls = []
        else:
            outcome = self.managed_status(ctx, identifier)
            if operation == "delete":
                skip, snapshot = _final_snapshot(ctx, identifier)
                calls = list(self.delete_calls)
                parameters = {**self._plan_delete(outcome), "skip_final_snapshot": skip, "final_snapshot": snapshot}
            else:
                calls, parameters = self._plan_update(ctx, outcome)
        return {"operation": operation, "resource_id": identifier, "calls": calls, "parameters": parameters}

    @abstractmethod
    def _plan_create(self, ctx: ProviderContext, identifier: str) -> tuple[list[str], dict[str, Any]]:
        """The calls a create makes and its requests as shown (no tags); validates the parameters."""

    def _plan_delete(self, outcome: ResourceOutcome) -> dict[str, Any]:
        """What a delete's plan shows beyond the final snapshot."""
        return {}

    @abstractmethod
    def _plan_update(self, ctx: ProviderContext, outcome: ResourceOutcome) -> tuple[list[str], dict[str, Any]]:
        """The calls an update makes and the changes it shows."""

    @staticmethod
    def _waits_for_pending(ctx: ProviderContext) -> bool:
        return ctx.task.task_type is AwsTaskType.UPDATE_RESOURCE and bool(opt_bool(ctx.params, "apply_immediately"))

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        try:
            outcome = self.status(ctx, resource_id)
        except ResourceNotFound:
            return self._deleted_by_this_task(ctx, resource_id)
        self.require_managed(outcome)
        if outcome.metadata[self.status_key] == "deleting":  # a replay while the first delete runs
            return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})
        rds = ctx.client("rds")
        self._before_delete(rds, resource_id, outcome)
        skip, snapshot = _final_snapshot(ctx, resource_id)
        request: dict[str, Any] = {self.id_key: resource_id, "SkipFinalSnapshot": skip}
        if snapshot:
            request["FinalDBSnapshotIdentifier"] = snapshot
        try:
            getattr(rds, self.delete_operation)(**request)
        except ClientError as exc:
            if error_code(exc) == self.not_found_code:  # gone meanwhile: the goal is reached
                return outcome.model_copy(update={"state": ResourceState.TERMINATED, "ready": True})
            raise aws_error(exc, f"delete {self.noun} {resource_id}") from exc
        metadata = {**outcome.metadata, "final_snapshot": snapshot}
        return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False, "metadata": metadata})

    def _before_delete(self, rds: Any, resource_id: str, outcome: ResourceOutcome) -> None:
        """What must go before the resource's own delete call (a cluster's members)."""

    def resource_id(self, ctx: ProviderContext) -> str:
        name = opt_str(ctx.params, self.id_param, max_len=63)
        if name is None:
            if ctx.task.task_type is AwsTaskType.CREATE_RESOURCE:
                return derived_identifier(ctx)
            raise TaskAnalysisError(f"missing parameter '{self.id_param}'")
        return validate_identifier(name, self.id_param)

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        arn = self.status(ctx, resource_id).arn
        try:
            ctx.client("rds").add_tags_to_resource(ResourceName=arn, Tags=tag_list(tags))
        except ClientError as exc:
            raise aws_error(exc, f"tag {arn}") from exc

    def _check_owner(self, ctx: ProviderContext, outcome: ResourceOutcome) -> ResourceOutcome:
        """An existing resource under the identifier: this task's (a replay: resume) or a conflict."""
        return check_owner(ctx, outcome, self.resource_type.value, self.id_param)

    def _existing(self, ctx: ProviderContext, identifier: str) -> ResourceOutcome | None:
        return find_existing(self.status, ctx, identifier)

    def _deleted_by_this_task(self, ctx: ProviderContext, identifier: str) -> ResourceOutcome:
        """A delete replayed after the resource is gone: done if this task's final snapshot exists, else not found."""
        snapshot = final_snapshot_name(identifier, ctx.task.id)
        rds = ctx.client("rds")
        try:
            if self.kind == "db":
                found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot).get("DBSnapshots", [])
            else:
                found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot).get(
                    "DBClusterSnapshots", []
                )
        except ClientError as exc:
            if error_code(exc) not in ("DBSnapshotNotFound", "DBClusterSnapshotNotFoundFault"):
                raise aws_error(exc, f"look up final snapshot {snapshot}") from exc
            found = []
        if not found:
            raise ResourceNotFound(f"{self.resource_type.value} {identifier} does not exist")
        partition = partition_for(ctx.task.region)
        return ResourceOutcome(
            id=identifier,
            arn=f"arn:{partition}:rds:{ctx.task.region}:{ctx.task.account_id}:{self.kind}:{identifier}",
            state=ResourceState.TERMINATED,
            ready=True,
            tags=tag_dict(found[0].get("TagList")),
            metadata={"final_snapshot": snapshot, "replay": True},
        )

    @staticmethod
    def _reason(ctx: ProviderContext, source_id: str, source_type: str, status: str) -> str:
        """Why RDS put a resource in a failed status: its latest failure event, else the status itself."""
        try:
            events = (
                ctx.client("rds")
                .describe_events(
                    SourceIdentifier=source_id, SourceType=source_type, Duration=24 * 60, EventCategories=["failure"]
                )
                .get("Events", [])
            )
        except ClientError:  # the reason is best effort: the status alone still fails the task
            events = []
        # Filtered again here: an older event (a backup finishing) is no reason for a failure.
        messages = [str(e["Message"]) for e in events if e.get("Message") and "failure" in e.get("EventCategories", [])]
        return f"RDS reports status {status}" + (f": {messages[-1]}" if messages else "")


class RdsInstanceProvider(_RdsBase):
    """One RDS DB instance (not an Aurora cluster member): encrypted, private, password kept in Secrets Manager."""

    resource_type = AwsResourceType.RDS_INSTANCE
    id_param = "db_instance_identifier"
    label = "RDS DB instance"
    noun = "DB instance"
    kind = "db"
    id_key = "DBInstanceIdentifier"
    arn_key = "DBInstanceArn"
    status_key = "db_instance_status"
    not_found_code = "DBInstanceNotFound"
    describe_operation = "describe_db_instances"
    describe_result = "DBInstances"
    delete_operation = "delete_db_instance"
    discover_call = "rds:DescribeDBInstances"
    delete_calls = ("rds:DeleteDBInstance",)

    def _create_request(self, ctx: ProviderContext, identifier: str) -> dict[str, Any]:
        params = ctx.params
        engine = _engine(params, INSTANCE_ENGINES)
        request: dict[str, Any] = {
            "DBInstanceIdentifier": identifier,
            "Engine": engine,
            "DBInstanceClass": _db_class(params) or "db.t4g.micro",
            "AllocatedStorage": opt_int(params, "allocated_storage", low=20, high=65536) or 20,
            "MasterUsername": _username(params),
            # No password ever passes through a task: RDS keeps it in Secrets Manager.
            "ManageMasterUserPassword": True,
            "StorageEncrypted": True,
            "PubliclyAccessible": False,
            "CopyTagsToSnapshot": True,
            "MultiAZ": bool(opt_bool(params, "multi_az")),
            "BackupRetentionPeriod": opt_int(params, "backup_retention_period", low=0, high=35) or 7,
            "Tags": tag_list(ctx.managed_tags()),
            **_placement(params),
        }
        return request

    # --- plan ---------------------------------------------------------------------------------------------------

    def _plan_create(self, ctx: ProviderContext, identifier: str) -> tuple[list[str], dict[str, Any]]:
        request = self._create_request(ctx, identifier)
        return ["rds:CreateDBInstance"], {k: v for k, v in request.items() if k != "Tags"}

    def _plan_update(self, ctx: ProviderContext, outcome: ResourceOutcome) -> tuple[list[str], dict[str, Any]]:
        changes, apply_now, tags = self._update_settings(ctx, outcome)
        calls = (["rds:ModifyDBInstance"] if changes else []) + (["rds:AddTagsToResource"] if tags else [])
        return calls, {**changes, "ApplyImmediately": apply_now, "tags": tags}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        identifier = self.resource_id(ctx)
        request = self._create_request(ctx, identifier)
        existing = self._existing(ctx, identifier)
        if existing is not None:  # a replay: report the instance this task already created
            return self._check_owner(ctx, existing)
        rds = ctx.client("rds")
        try:
            instance = rds.create_db_instance(**request)["DBInstance"]
        except ClientError as exc:
            if error_code(exc) == "DBInstanceAlreadyExists":  # a concurrent replay won the race
                return self._check_owner(ctx, self.status(ctx, identifier))
            raise aws_error(exc, f"create DB instance {identifier}") from exc
        outcome = self._outcome(ctx, {**instance, "TagList": instance.get("TagList") or request["Tags"]})
        # The response is the instance as of the request; the wait loop's first status check is the authority.
        return in_flight(ctx, outcome)

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        return self._outcome(ctx, self._describe_one(ctx, resource_id))

    def _outcome(self, ctx: ProviderContext, instance: dict[str, Any]) -> ResourceOutcome:
        identifier = instance["DBInstanceIdentifier"]
        rds_status = str(instance.get("DBInstanceStatus", "creating"))
        reason = ""
        if rds_status in FAILED_STATUSES:
            reason = self._reason(ctx, identifier, "db-instance", rds_status)
        pending = instance.get("PendingModifiedValues") or {}
        metadata: dict[str, Any] = {
            "db_instance_identifier": identifier,
            "db_instance_status": rds_status,
            "db_instance_class": instance.get("DBInstanceClass"),
            "engine": instance.get("Engine"),
            "engine_version": instance.get("EngineVersion"),
            "allocated_storage": instance.get("AllocatedStorage"),
            "multi_az": bool(instance.get("MultiAZ")),
            "endpoint": (instance.get("Endpoint") or {}).get("Address"),
            "pending_modified_values": pending,
        }
        return self._record(ctx, instance, rds_status, reason, pending=bool(pending), metadata=metadata)

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(
        self, ctx: ProviderContext, outcome: ResourceOutcome
    ) -> tuple[dict[str, Any], bool, dict[str, str]]:
        params = ctx.params
        changes: dict[str, Any] = {}
        new_class = _db_class(params)
        if new_class is not None and new_class != outcome.metadata.get("db_instance_class"):
            changes["DBInstanceClass"] = new_class
        storage = opt_int(params, "allocated_storage", low=20, high=65536)
        current = int(outcome.metadata.get("allocated_storage") or 0)
        if storage is not None and storage != current:
            if storage < current:
                raise TaskAnalysisError(
                    f"parameter 'allocated_storage' {storage} is below the current {current} GiB; RDS storage "
                    "can only grow"
                )
            changes["AllocatedStorage"] = storage
        tags = requested_tag_update(params)
        if not changes and not tags:
            raise TaskAnalysisError(
                "an RdsInstance update needs 'db_instance_class', 'allocated_storage' or 'tags' that differ from now"
            )
        # AWS's default: changes wait for the next maintenance window unless the task asks otherwise.
        return changes, bool(opt_bool(params, "apply_immediately")), tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        changes, apply_now, tags = self._update_settings(ctx, outcome)
        if changes:
            try:
                ctx.client("rds").modify_db_instance(
                    DBInstanceIdentifier=resource_id, ApplyImmediately=apply_now, **changes
                )
            except ClientError as exc:
                raise aws_error(exc, f"modify DB instance {resource_id}") from exc
        if tags:
            self.tag(ctx, resource_id, tags)
        result = self.status(ctx, resource_id)
        result.metadata["apply_immediately"] = apply_now
        result.metadata["requested_changes"] = changes
        # Applied now: RDS still says "available" for a moment, so the wait loop checks until the values are in.
        return in_flight(ctx, result) if apply_now and changes else result

    # --- discover -----------------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        instances = self._describe_all(ctx)
        # Aurora members belong to their cluster (AuroraCluster), not to this type.
        return [self._outcome(ctx, i) for i in instances if not i.get("DBClusterIdentifier")]


class AuroraClusterProvider(_RdsBase):
    """An Aurora DB cluster with one writer instance; the record is the cluster, the writer is in its metadata."""

    resource_type = AwsResourceType.AURORA_CLUSTER
    id_param = "db_cluster_identifier"
    label = "Aurora cluster"
    noun = "DB cluster"
    kind = "cluster"
    id_key = "DBClusterIdentifier"
    arn_key = "DBClusterArn"
    status_key = "db_cluster_status"
    not_found_code = "DBClusterNotFoundFault"
    describe_operation = "describe_db_clusters"
    describe_result = "DBClusters"
    delete_operation = "delete_db_cluster"
    discover_call = "rds:DescribeDBClusters"
    delete_calls = ("rds:DeleteDBInstance", "rds:DeleteDBCluster")
    # Cluster, then its writer: each takes minutes.
    deadline_seconds: ClassVar[int] = 90 * 60

    @staticmethod
    def writer_id(cluster_id: str) -> str:
        return f"{cluster_id[:56]}-writer"

    def _cluster_request(self, ctx: ProviderContext, identifier: str) -> dict[str, Any]:
        params = ctx.params
        request: dict[str, Any] = {
            "DBClusterIdentifier": identifier,
            "Engine": _engine(params, CLUSTER_ENGINES),
            "MasterUsername": _username(params),
            "ManageMasterUserPassword": True,
            "StorageEncrypted": True,
            "CopyTagsToSnapshot": True,
            "BackupRetentionPeriod": opt_int(params, "backup_retention_period", low=1, high=35) or 7,
            "Tags": tag_list(ctx.managed_tags()),
            **_placement(params),
        }
        return request

    def _writer_request(self, ctx: ProviderContext, identifier: str, engine: str) -> dict[str, Any]:
        return {
            "DBInstanceIdentifier": self.writer_id(identifier),
            "DBClusterIdentifier": identifier,
            "Engine": engine,
            "DBInstanceClass": _db_class(ctx.params) or "db.t4g.medium",
            "PubliclyAccessible": False,
            "Tags": tag_list(ctx.managed_tags()),
        }

    # --- plan ---------------------------------------------------------------------------------------------------

    def _plan_create(self, ctx: ProviderContext, identifier: str) -> tuple[list[str], dict[str, Any]]:
        cluster = self._cluster_request(ctx, identifier)
        writer = self._writer_request(ctx, identifier, cluster["Engine"])
        shown = {
            "cluster": {k: v for k, v in cluster.items() if k != "Tags"},
            "writer": {k: v for k, v in writer.items() if k != "Tags"},
        }
        return ["rds:CreateDBCluster", "rds:CreateDBInstance"], shown

    def _plan_delete(self, outcome: ResourceOutcome) -> dict[str, Any]:
        return {"members": outcome.metadata["members"]}

    def _plan_update(self, ctx: ProviderContext, outcome: ResourceOutcome) -> tuple[list[str], dict[str, Any]]:
        new_class, apply_now, tags = self._update_settings(ctx, outcome)
        calls = (["rds:ModifyDBInstance"] if new_class else []) + (["rds:AddTagsToResource"] if tags else [])
        return calls, {"writer_instance_class": new_class, "ApplyImmediately": apply_now, "tags": tags}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        identifier = self.resource_id(ctx)
        cluster_request = self._cluster_request(ctx, identifier)
        writer_request = self._writer_request(ctx, identifier, cluster_request["Engine"])
        rds = ctx.client("rds")
        existing = self._existing(ctx, identifier)
        if existing is not None:
            self._check_owner(ctx, existing)
        else:
            try:
                rds.create_db_cluster(**cluster_request)
            except ClientError as exc:
                if error_code(exc) != "DBClusterAlreadyExistsFault":
                    raise aws_error(exc, f"create DB cluster {identifier}") from exc
                self._check_owner(ctx, self.status(ctx, identifier))
        # The writer may be created while the cluster is still being created; a replay finds it by its name.
        try:
            rds.describe_db_instances(DBInstanceIdentifier=writer_request["DBInstanceIdentifier"])
        except ClientError as exc:
            if error_code(exc) != "DBInstanceNotFound":
                raise aws_error(exc, f"describe writer of {identifier}") from exc
            try:
                rds.create_db_instance(**writer_request)
            except ClientError as exc2:
                if error_code(exc2) != "DBInstanceAlreadyExists":
                    raise aws_error(exc2, f"create the writer instance of {identifier}") from exc2
        return in_flight(ctx, self.status(ctx, identifier))

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        return self._outcome(ctx, self._describe_one(ctx, resource_id))

    def _members(self, ctx: ProviderContext, cluster_id: str) -> list[dict[str, Any]]:
        try:
            pages = (
                ctx.client("rds")
                .get_paginator("describe_db_instances")
                .paginate(Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])
            )
            return [i for page in pages for i in page.get("DBInstances", [])]
        except ClientError as exc:
            raise aws_error(exc, f"describe the instances of cluster {cluster_id}") from exc

    def _outcome(self, ctx: ProviderContext, cluster: dict[str, Any]) -> ResourceOutcome:
        identifier = cluster["DBClusterIdentifier"]
        cluster_status = str(cluster.get("Status", "creating"))
        instances = self._members(ctx, identifier)
        statuses = {i["DBInstanceIdentifier"]: str(i.get("DBInstanceStatus", "creating")) for i in instances}
        failed = next(
            (
                (kind, name, s)
                for kind, name, s in self._all(identifier, cluster_status, statuses)
                if s in FAILED_STATUSES
            ),
            None,
        )
        reason = self._reason(ctx, failed[1], failed[0], failed[2]) if failed else ""
        worst = failed[2] if failed else cluster_status
        if not failed:
            # Ready when the cluster and every member are settled; otherwise the first one still in flight.
            busy = [s for _, _, s in self._all(identifier, cluster_status, statuses) if s not in SETTLED_STATUSES]
            worst = busy[0] if busy else cluster_status
        writer = self.writer_id(identifier)
        writer_info = next((i for i in instances if i["DBInstanceIdentifier"] == writer), None)
        metadata: dict[str, Any] = {
            "db_cluster_identifier": identifier,
            "db_cluster_status": cluster_status,
            "engine": cluster.get("Engine"),
            "engine_version": cluster.get("EngineVersion"),
            "endpoint": cluster.get("Endpoint"),
            "members": statuses,
            "writer": writer,
            "db_instance_class": writer_info.get("DBInstanceClass") if writer_info else None,
        }
        pending = bool(writer_info and writer_info.get("PendingModifiedValues"))
        return self._record(ctx, cluster, worst, reason, pending=pending, metadata=metadata)

    @staticmethod
    def _all(cluster_id: str, cluster_status: str, members: dict[str, str]) -> list[tuple[str, str, str]]:
        return [("db-cluster", cluster_id, cluster_status)] + [("db-instance", n, s) for n, s in members.items()]

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(
        self, ctx: ProviderContext, outcome: ResourceOutcome
    ) -> tuple[str | None, bool, dict[str, str]]:
        new_class = _db_class(ctx.params)
        if new_class == outcome.metadata.get("db_instance_class"):
            new_class = None
        tags = requested_tag_update(ctx.params)
        if new_class is None and not tags:
            raise TaskAnalysisError("an AuroraCluster update needs a new 'db_instance_class' (writer) or 'tags'")
        return new_class, bool(opt_bool(ctx.params, "apply_immediately")), tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        new_class, apply_now, tags = self._update_settings(ctx, outcome)
        if new_class:
            writer = outcome.metadata["writer"]
            if writer not in outcome.metadata["members"]:
                raise ResourceConflict(f"Aurora cluster {resource_id} has no writer instance {writer} to resize")
            try:
                ctx.client("rds").modify_db_instance(
                    DBInstanceIdentifier=writer, DBInstanceClass=new_class, ApplyImmediately=apply_now
                )
            except ClientError as exc:
                raise aws_error(exc, f"modify writer {writer} of cluster {resource_id}") from exc
        if tags:
            self.tag(ctx, resource_id, tags)
        result = self.status(ctx, resource_id)
        result.metadata["apply_immediately"] = apply_now
        return in_flight(ctx, result) if apply_now and new_class else result

    # --- delete -------------------------------------------------------------------------------------------------

    def _before_delete(self, rds: Any, resource_id: str, outcome: ResourceOutcome) -> None:
        # Members first (Aurora instances take no final snapshot; the cluster's snapshot holds the data). RDS accepts
        # DeleteDBCluster once every member is at least "deleting", so no wait is needed in between.
        for member, member_status in outcome.metadata["members"].items():
            if member_status == "deleting":
                continue
            try:
                rds.delete_db_instance(DBInstanceIdentifier=member, SkipFinalSnapshot=True)
            except ClientError as exc:
                if error_code(exc) not in ("DBInstanceNotFound", "InvalidDBInstanceState"):
                    raise aws_error(exc, f"delete member {member} of cluster {resource_id}") from exc

    # --- discover -----------------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        clusters = self._describe_all(ctx)
        # Only Aurora: DescribeDBClusters also lists Multi-AZ DB clusters and Neptune/DocumentDB ones.
        return [self._outcome(ctx, c) for c in clusters if str(c.get("Engine", "")).startswith("aurora")]
