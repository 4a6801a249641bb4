"""ECS Fargate services: cluster (made if missing), a task definition revision and the service, all tagged."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import (
    aws_error,
    check_owner,
    create_plan,
    find_existing,
    named_id,
    operation_of,
    opt_bool,
    opt_int,
    opt_str,
    opt_str_list,
    opt_str_map,
    requested_tag_update,
    short_hash,
    simple_plan,
)
from ._net import SG_ID, SUBNET_ID
from .base import ProviderContext, ResourceOutcome, ResourceProvider

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
DEFAULT_CLUSTER = "miyabi"
CONTAINER_NAME = "app"
# What a service gets when its task names no image, like the Lambda placeholder: a public web server until an update
# ships the real image.
PLACEHOLDER_IMAGE = "public.ecr.aws/nginx/nginx:stable"
# Fargate's valid task sizes: CPU units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
_CLUSTER_MISSING = ("ClusterNotFoundException",)


def client_token(task_id: str) -> str:
    """CreateService's idempotency token (at most 36 ASCII characters): a replay gets the same service."""
    return hashlib.sha256(f"miyabi:{task_id}".encode()).hexdigest()[:36]


def _ecs_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in tags or []}


@dataclass(frozen=True)
class _TaskSpec:
    image: str | None
    cpu: int | None
    memory: int | None
    container_port: int | None
    environment: dict[str, str] | None
    execution_role_arn: str | None
    task_role_arn: str | None

    @property
    def changes_definition(self) -> bool:
        return any(v is not None for v in (self.image, self.cpu, self.memory, self.container_port, self.environment))


class EcsServiceProvider(ResourceProvider):
    resource_type = AwsResourceType.ECS_SERVICE

    # A rollout starts tasks, waits for health and drains the old ones: minutes. The state machine's wait loop
    # polls `status` this often, for at most this long (read by pipeline/execute.py).
    poll_seconds: ClassVar[int] = 15
    deadline_seconds: ClassVar[int] = 30 * 60

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        """`cluster/service`: a service name is unique only within its cluster."""
        cluster = self._cluster(ctx)
        service = named_id(
            ctx,
            "service_name",
            max_len=255,
            pattern=_NAME,
            invalid="must be letters, digits, - or _",
            default=f"miyabi-{short_hash(ctx.task.id)}",
        )
        return f"{cluster}/{service}"

    @staticmethod
    def _cluster(ctx: ProviderContext) -> str:
        cluster = opt_str(ctx.params, "cluster", max_len=255) or DEFAULT_CLUSTER
        if not _NAME.match(cluster):
            raise TaskAnalysisError(f"parameter 'cluster' {cluster!r} must be letters, digits, - or _")
        return cluster

    @staticmethod
    def _split(resource_id: str) -> tuple[str, str]:
        cluster, _, service = resource_id.rpartition("/")
        return cluster or DEFAULT_CLUSTER, service

    @staticmethod
    def _task_spec(ctx: ProviderContext, *, creating: bool) -> _TaskSpec:
        params = ctx.params
        cpu = opt_int(params, "cpu", low=256, high=16384)
        memory = opt_int(params, "memory", low=512, high=122880)
        if creating:
            cpu, memory = cpu or 256, memory or 512
        if cpu is not None and memory is not None:
            if cpu not in FARGATE_SIZES:
                raise TaskAnalysisError(f"parameter 'cpu' must be one of {', '.join(map(str, FARGATE_SIZES))}")
            if memory not in FARGATE_SIZES[cpu]:
                sizes = FARGATE_SIZES[cpu]
                raise TaskAnalysisError(
                    f"Fargate with cpu {cpu} takes memory {sizes[0]} to {sizes[-1]} MiB (in its steps), not {memory}"
                )
        elif cpu is not None or memory is not None:
            raise TaskAnalysisError("parameters 'cpu' and 'memory' change a Fargate task's size together: give both")
        roles = {}
        for name in ("execution_role_arn", "task_role_arn"):
            roles[name] = opt_str(params, name, max_len=2048)
            if roles[name] is not None and not _ROLE_ARN.match(str(roles[name])):
                raise TaskAnalysisError(f"parameter '{name}' is not an IAM role ARN")
        image = opt_str(params, "image", max_len=1024)
        return _TaskSpec(
            image=image or (PLACEHOLDER_IMAGE if creating else None),
            cpu=cpu,
            memory=memory,
            container_port=opt_int(params, "container_port", low=1, high=65535),
            environment=opt_str_map(params, "environment"),
            execution_role_arn=roles["execution_role_arn"],
            task_role_arn=roles["task_role_arn"],
        )

    @staticmethod
    def _network(ctx: ProviderContext) -> dict[str, Any]:
        subnets = opt_str_list(ctx.params, "subnet_ids")
        if not subnets:
            raise TaskAnalysisError("a Fargate service needs parameter 'subnet_ids' (its tasks run in a VPC)")
        bad = [s for s in subnets if not SUBNET_ID.match(s)]
        groups = opt_str_list(ctx.params, "security_group_ids") or []
        bad += [g for g in groups if not SG_ID.match(g)]
        if bad:
            raise TaskAnalysisError(f"invalid subnet or security group ids: {', '.join(bad)}")
        return {
            "awsvpcConfiguration": {
                "subnets": subnets,
                "securityGroups": groups,
                "assignPublicIp": "ENABLED" if opt_bool(ctx.params, "assign_public_ip") else "DISABLED",
            }
        }

    @staticmethod
    def _default_security_group(ctx: ProviderContext, subnet_id: str) -> list[str]:
        """The VPC's default security group, which ECS would pick anyway: named explicitly so the plan shows it."""
        ec2 = ctx.client("ec2")
        try:
            subnets = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
            groups = ec2.describe_security_groups(
                Filters=[
                    {"Name": "vpc-id", "Values": [subnets[0]["VpcId"]]},
                    {"Name": "group-name", "Values": ["default"]},
                ]
            )["SecurityGroups"]
        except ClientError as exc:
            if error_code(exc) == "InvalidSubnetID.NotFound":
                raise TaskAnalysisError(f"subnet {subnet_id} does not exist in {ctx.task.region}") from exc
            raise aws_error(exc, f"find the default security group of subnet {subnet_id}") from exc
        if not groups:
            raise TaskAnalysisError(
                f"the VPC of subnet {subnet_id} has no default security group: pass security_group_ids"
            )
        return [str(groups[0]["GroupId"])]

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            calls = ["ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices"]
            return simple_plan(ctx, None, calls, region=ctx.task.region)
        resource_id = self.resource_id(ctx)
        cluster, service = self._split(resource_id)
        if operation == "create":
            spec = self._task_spec(ctx, creating=True)
            network = self._network(ctx)
            desired = opt_int(ctx.params, "desired_count", low=0, high=1000)
            parameters = {
                "cluster": cluster,
                "service_name": service,
                "image": spec.image,
                "cpu": spec.cpu,
                "memory": spec.memory,
                "desired_count": 1 if desired is None else desired,
                "network": network,
                "tags": ctx.managed_tags(),
            }
            existing = find_existing(self.status, ctx, resource_id)
            if existing is not None:
                self._check_owner(ctx, existing)
            calls = ["ecs:DescribeClusters", "ecs:CreateCluster (if missing)", "ecs:RegisterTaskDefinition"]
            return create_plan(ctx, resource_id, existing, [*calls, "ecs:CreateService"], parameters)
        outcome = self.managed_status(ctx, resource_id)
        if operation == "update":
            spec, desired, force, tags = self._update_settings(ctx)
            calls = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"] if spec.changes_definition else []
            calls += ["ecs:UpdateService"] if (spec.changes_definition or desired is not None or force) else []
            calls += ["ecs:TagResource"] if tags else []
            parameters = {"desired_count": desired, "force_new_deployment": force, "image": spec.image, "tags": tags}
            return {"operation": operation, "resource_id": resource_id, "calls": calls, "parameters": parameters}
        return {
            "operation": operation,
            "resource_id": resource_id,
            "calls": ["ecs:UpdateService (desiredCount 0)", "ecs:DeleteService"],
            "parameters": {"running_count": outcome.metadata.get("running_count")},
        }

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        resource_id = self.resource_id(ctx)
        cluster, service = self._split(resource_id)
        spec = self._task_spec(ctx, creating=True)
        network = self._network(ctx)
        desired = opt_int(ctx.params, "desired_count", low=0, high=1000)
        vpc_config = network["awsvpcConfiguration"]
        # Look before registering: a replay must not add a task definition revision per attempt.
        existing = find_existing(self.status, ctx, resource_id)
        if existing is not None:
            self._check_owner(ctx, existing)
            return existing
        if not vpc_config["securityGroups"]:
            vpc_config["securityGroups"] = self._default_security_group(ctx, vpc_config["subnets"][0])
        ecs = ctx.client("ecs")
        tags = ctx.managed_tags()
        self._ensure_cluster(ecs, cluster, tags)
        definition_arn = self._register(ecs, service, self._definition(spec), tags)
        try:
            ecs.create_service(
                cluster=cluster,
                serviceName=service,
                taskDefinition=definition_arn,
                desiredCount=1 if desired is None else desired,
                launchType="FARGATE",
                networkConfiguration=network,
                tags=_ecs_tags(tags),
                propagateTags="SERVICE",
                enableECSManagedTags=True,
                clientToken=client_token(ctx.task.id),
            )
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if "idempotent" in message.lower():
                raise ResourceConflict(
                    f"task {ctx.task.id} already created service {service} with different parameters"
                ) from exc
            raise aws_error(exc, f"create service {service} in cluster {cluster}") from exc
        return self.status(ctx, resource_id)

    @staticmethod
    def _ensure_cluster(ecs: Any, cluster: str, tags: dict[str, str]) -> None:
        """Use the cluster if it is active (a shared cluster is fine: the service is what the task owns)."""
        try:
            clusters = ecs.describe_clusters(clusters=[cluster]).get("clusters", [])
            if any(c.get("status") == "ACTIVE" for c in clusters):
                return
            ecs.create_cluster(clusterName=cluster, tags=_ecs_tags(tags))
        except ClientError as exc:
            raise aws_error(exc, f"create cluster {cluster}") from exc

    @staticmethod
    def _definition(spec: _TaskSpec, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """RegisterTaskDefinition arguments: a fresh definition, or `base` (the current one) with the spec applied."""
        container: dict[str, Any] = dict((base or {}).get("containerDefinitions", [{}])[0])
        container.setdefault("name", CONTAINER_NAME)
        container["essential"] = True
        if spec.image:
            container["image"] = spec.image
        if spec.container_port:
            container["portMappings"] = [{"containerPort": spec.container_port, "protocol": "tcp"}]
        if spec.environment is not None:
            container["environment"] = [{"name": k, "value": v} for k, v in sorted(spec.environment.items())]
        definition: dict[str, Any] = {
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": str(spec.cpu or (base or {}).get("cpu")),
            "memory": str(spec.memory or (base or {}).get("memory")),
            "containerDefinitions": [container],
        }
        for key, value in (("executionRoleArn", spec.execution_role_arn), ("taskRoleArn", spec.task_role_arn)):
            value = value or (base or {}).get(key)
            if value:
                definition[key] = value
        return definition

    @staticmethod
    def _register(ecs: Any, family: str, definition: dict[str, Any], tags: dict[str, str]) -> str:
        try:
            response = ecs.register_task_definition(family=family, tags=_ecs_tags(tags), **definition)
        except ClientError as exc:
            if error_code(exc) in ("ClientException", "InvalidParameterException"):
                message = exc.response.get("Error", {}).get("Message", "")
                raise TaskAnalysisError(f"ECS rejected the task definition of {family}: {message}") from exc
            raise aws_error(exc, f"register task definition {family}") from exc
        return str(response["taskDefinition"]["taskDefinitionArn"])

    @staticmethod
    def _check_owner(ctx: ProviderContext, existing: ResourceOutcome) -> None:
        check_owner(ctx, existing, "ECS service", "service_name", untagged="is unmanaged", hint_owned=False)

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        cluster, service = self._split(resource_id)
        ecs = ctx.client("ecs")
        not_found = (
            f"ECS service {service} does not exist in cluster {cluster} ({ctx.task.account_id}/{ctx.task.region})"
        )
        try:
            described = ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])
        except ClientError as exc:
            if error_code(exc) in _CLUSTER_MISSING:
                raise ResourceNotFound(not_found) from exc
            raise aws_error(exc, f"describe service {resource_id}") from exc
        live = [s for s in described.get("services", []) if s.get("status") != "INACTIVE"]
        if not live:  # missing, or INACTIVE: ECS keeps deleted services visible for a while
            raise ResourceNotFound(not_found)
        size: dict[str, Any] = {}
        try:
            definition = ecs.describe_task_definition(taskDefinition=live[0]["taskDefinition"])["taskDefinition"]
            size = {"cpu": definition.get("cpu"), "memory": definition.get("memory")}
        except ClientError as exc:
            if error_code(exc) not in ("ClientException",):  # deregistered meanwhile: report without the size
                raise aws_error(exc, f"describe task definition of {resource_id}") from exc
        return self._outcome(ctx, cluster, live[0], size)

    def _outcome(
        self, ctx: ProviderContext, cluster: str, service: dict[str, Any], size: dict[str, Any]
    ) -> ResourceOutcome:
        name = str(service["serviceName"])
        primary: dict[str, Any] = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        rollout = primary.get("rolloutState")
        reason = None
        if service.get("status") == "DRAINING":
            state, ready = ResourceState.DELETING, False
        elif rollout == "FAILED":
            state, ready, reason = ResourceState.FAILED, True, primary.get("rolloutStateReason")
        elif rollout == "COMPLETED" or (
            rollout is None
            and len(service.get("deployments", [])) <= 1
            and service.get("runningCount") == service.get("desiredCount")
        ):
            state, ready = ResourceState.ACTIVE, True
        else:
            creating = ctx.task.task_type is AwsTaskType.CREATE_RESOURCE
            state, ready = (ResourceState.CREATING if creating else ResourceState.UPDATING), False
        metadata: dict[str, Any] = {
            "cluster": cluster,
            "service_name": name,
            "service_status": service.get("status"),
            "task_definition": service.get("taskDefinition"),
            "desired_count": service.get("desiredCount"),
            "running_count": service.get("runningCount"),
            "pending_count": service.get("pendingCount"),
            "launch_type": service.get("launchType"),
            "rollout_state": rollout,
            "deployments": len(service.get("deployments", [])),
            **{k: int(v) for k, v in size.items() if v is not None},
        }
        if reason:
            metadata["reason"] = reason
        return ResourceOutcome(
            id=f"{cluster}/{name}",
            arn=str(service["serviceArn"]),
            state=state,
            ready=ready,
            tags=_tag_dict(service.get("tags")),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(self, ctx: ProviderContext) -> tuple[_TaskSpec, int | None, bool, dict[str, str]]:
        spec = self._task_spec(ctx, creating=False)
        desired = opt_int(ctx.params, "desired_count", low=0, high=1000)
        force = bool(opt_bool(ctx.params, "force_new_deployment"))
        tags = requested_tag_update(ctx.params)
        if not spec.changes_definition and desired is None and not force and not tags:
            raise TaskAnalysisError(
                "an ECS service update needs at least one of the parameters: image, cpu + memory, container_port, "
                "environment, desired_count, force_new_deployment, tags"
            )
        return spec, desired, force, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        spec, desired, force, tags = self._update_settings(ctx)
        outcome = self.managed_status(ctx, resource_id)
        if outcome.state is ResourceState.DELETING:
            raise ResourceConflict(f"ECS service {resource_id} is being deleted; it cannot be updated")
        cluster, service = self._split(resource_id)
        ecs = ctx.client("ecs")
        request: dict[str, Any] = {"cluster": cluster, "service": service}
        if spec.changes_definition:
            try:
                current = ecs.describe_task_definition(taskDefinition=outcome.metadata["task_definition"])
            except ClientError as exc:
                raise aws_error(exc, f"describe task definition of {resource_id}") from exc
            base = current["taskDefinition"]
            family = str(base.get("family") or service)
            # A new revision of the same family, tagged like the service (the update task does not re-own it).
            request["taskDefinition"] = self._register(ecs, family, self._definition(spec, base), outcome.tags)
        if desired is not None:
            request["desiredCount"] = desired
        if force:
            request["forceNewDeployment"] = True
        if len(request) > 2:
            try:
                ecs.update_service(**request)
            except ClientError as exc:
                raise aws_error(exc, f"update service {resource_id}") from exc
        if tags:
            self.tag(ctx, resource_id, tags)
        result = self.status(ctx, resource_id)
        if "taskDefinition" in request:
            result.metadata["previous_task_definition"] = outcome.metadata["task_definition"]
        return result

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        if outcome.state is ResourceState.DELETING:  # a replay: the service is already draining
            return outcome
        cluster, service = self._split(resource_id)
        ecs = ctx.client("ecs")
        try:
            # Scale to zero first so ECS stops the tasks gracefully; DeleteService refuses a scaled-up service
            # unless forced, and the agent never forces.
            if outcome.metadata.get("desired_count"):
                ecs.update_service(cluster=cluster, service=service, desiredCount=0)
            deleted = ecs.delete_service(cluster=cluster, service=service)["service"]
        except ClientError as exc:
            if error_code(exc) == "ServiceNotFoundException":
                return outcome.model_copy(update={"state": ResourceState.TERMINATED, "ready": True})
            raise aws_error(exc, f"delete service {resource_id}") from exc
        # DRAINING until its tasks stop, then INACTIVE: the wait loop polls `status` until it reports not found.
        gone = deleted.get("status") == "INACTIVE"
        return outcome.model_copy(
            update={
                "state": ResourceState.TERMINATED if gone else ResourceState.DELETING,
                "ready": gone,
                "metadata": {**outcome.metadata, "service_status": deleted.get("status"), "desired_count": 0},
            }
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        ecs = ctx.client("ecs")
        found: list[ResourceOutcome] = []
        try:
            clusters = [a for page in ecs.get_paginator("list_clusters").paginate() for a in page["clusterArns"]]
            for cluster_arn in clusters:
                cluster = cluster_arn.rsplit("/", 1)[-1]
                pages = ecs.get_paginator("list_services").paginate(cluster=cluster_arn)
                arns = [a for page in pages for a in page["serviceArns"]]
                for start in range(0, len(arns), 10):  # DescribeServices takes at most 10
                    described = ecs.describe_services(
                        cluster=cluster_arn, services=arns[start : start + 10], include=["TAGS"]
                    )
                    found += [
                        self._outcome(ctx, cluster, s, {})
                        for s in described.get("services", [])
                        if s.get("status") != "INACTIVE"
                    ]
        except ClientError as exc:
            raise aws_error(exc, f"list ECS services in {ctx.task.region}") from exc
        return found

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        arn = self.status(ctx, resource_id).arn  # old and new ARN formats differ: ask ECS
        try:
            ctx.client("ecs").tag_resource(resourceArn=arn, tags=_ecs_tags(tags))
        except ClientError as exc:
            raise aws_error(exc, f"tag service {resource_id}") from exc
