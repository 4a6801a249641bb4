"""Discovery of one account x region: the Resource Groups Tagging API plus each provider's describes, memory-bounded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..aws import SessionFactory, Target, translate
from ..model import AwsResourceType, AwsTask, AwsTaskType, ResourceState
from ..resources import ProviderContext, provider_for, supported_types
from ..resources.base import MANAGED_TAG

TAGGING_PAGE = 100  # the Tagging API's largest page
# ARN "<service>:<resource type>" prefixes of the spec's types that the Tagging API reports.
_ARN_TYPES: dict[tuple[str, str], AwsResourceType] = {
    ("ec2", "instance"): AwsResourceType.EC2_INSTANCE,
    ("ec2", "volume"): AwsResourceType.EBS_VOLUME,
    ("ec2", "vpc"): AwsResourceType.VPC_NETWORK,
    ("s3", ""): AwsResourceType.S3_BUCKET,
    ("lambda", "function"): AwsResourceType.LAMBDA_FUNCTION,
    ("rds", "db"): AwsResourceType.RDS_INSTANCE,
    ("rds", "cluster"): AwsResourceType.AURORA_CLUSTER,
    ("dynamodb", "table"): AwsResourceType.DYNAMODB_TABLE,
    ("cloudformation", "stack"): AwsResourceType.CLOUDFORMATION_STACK,
    ("cloudfront", "distribution"): AwsResourceType.CLOUDFRONT_DISTRIBUTION,
    ("apigateway", "restapis"): AwsResourceType.API_GATEWAY,
    ("autoscaling", "autoScalingGroup"): AwsResourceType.AUTO_SCALING_GROUP,
    ("elasticloadbalancing", "loadbalancer"): AwsResourceType.LOAD_BALANCER,
    ("sns", ""): AwsResourceType.SNS,
    ("ecs", "service"): AwsResourceType.ECS_SERVICE,
    ("elasticfilesystem", "file-system"): AwsResourceType.EFS_FILE_SYSTEM,
    ("route53", "hostedzone"): AwsResourceType.ROUTE53_HOSTED_ZONE,
}


@dataclass(frozen=True)
class Observed:
    """One resource as AWS reports it now."""

    resource_type: AwsResourceType
    id: str
    arn: str
    state: ResourceState
    tags: dict[str, str]

    @property
    def managed(self) -> bool:
        return self.tags.get(MANAGED_TAG) == "true"


@dataclass
class Inventory:
    """What one target holds. `complete_types` are the types enumerated in full: only for those may a missing
    resource be taken as deleted (a capped or failed listing proves nothing)."""

    target: Target
    resources: dict[tuple[AwsResourceType, str], Observed] = field(default_factory=dict)
    complete_types: set[AwsResourceType] = field(default_factory=set)
    truncated: bool = False
    errors: list[str] = field(default_factory=list)


def type_of_arn(arn: str) -> tuple[AwsResourceType, str] | None:
    """The spec type and resource id of an ARN, or None for types the spec does not model."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, rest = parts[2], parts[5]
    for sep in ("/", ":"):
        if sep in rest:
            kind, _, ident = rest.partition(sep)
            if (service, kind) in _ARN_TYPES:
                return _ARN_TYPES[(service, kind)], ident.split("/")[-1] if service == "apigateway" else ident
    if (service, "") in _ARN_TYPES:
        return _ARN_TYPES[(service, "")], rest
    return None


def tagged_resources(client: Any, limit: int) -> Iterator[tuple[str, dict[str, str]]]:
    """(ARN, tags) of every tagged resource, page by page (one page in memory at a time), at most `limit`."""
    seen = 0
    try:
        for page in client.get_paginator("get_resources").paginate(ResourcesPerPage=TAGGING_PAGE):
            for item in page.get("ResourceTagMappingList", []):
                if seen >= limit:
                    return
                seen += 1
                yield item["ResourceARN"], {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    except ClientError as exc:
        raise translate(exc, "tagging get_resources") from exc


def discover_target(
    sessions: SessionFactory,
    target: Target,
    *,
    run_id: str,
    max_resources: int = 5000,
    types: list[AwsResourceType] | None = None,
    strict: bool = False,
) -> Inventory:
    """Every resource of the target, managed or not: providers' describes for the supported types (state and tags),
    the Tagging API for the spec's other types. At most `max_resources` are kept; beyond that `truncated` is set.

    An account whose role cannot be assumed fails the whole target. A type whose listing fails is recorded in
    `errors` and left out of `complete_types` (so nothing of it is taken as deleted), unless `strict` (a task for
    that one scope), where the error is the task's."""
    assert target.account_id is not None
    inventory = Inventory(target)
    wanted = set(types) if types else None
    session_name = f"miyabi-discovery-{run_id}"
    if not sessions.is_own(target.account_id):
        sessions.credentials(target.account_id, session_name=session_name, region=target.region)
    for resource_type in supported_types():
        if wanted is not None and resource_type not in wanted:
            continue
        task = AwsTask(
            id=_task_id(run_id),
            task_type=AwsTaskType.DISCOVER_RESOURCES,
            resource_type=resource_type,
            account_id=target.account_id,
            region=target.region,
        )
        ctx = _Context(task=task, sessions=sessions, session_name=session_name)
        try:
            outcomes = provider_for(resource_type).discover(ctx)
        except Exception as exc:  # one type failing (permission, throttling) must not hide the others
            if strict:
                raise
            inventory.errors.append(f"{resource_type.value}: {exc}")
            continue
        complete = True
        for outcome in outcomes:
            if not _room(inventory, max_resources):
                complete = False
                break
            inventory.resources[(resource_type, outcome.id)] = Observed(
                resource_type, outcome.id, outcome.arn, outcome.state, dict(outcome.tags)
            )
        if complete:
            inventory.complete_types.add(resource_type)
    providers = set(supported_types())
    if (wanted if wanted is not None else set(AwsResourceType)) <= providers:
        return inventory  # every type asked for has a provider, which listed it: the Tagging API would add nothing
    tagging = sessions.client("resourcegroupstaggingapi", target, session_name=session_name)
    tagged_complete = True
    try:
        for arn, tags in tagged_resources(tagging, max_resources + 1):
            typed = type_of_arn(arn)
            if typed is None or typed[0] in providers or (wanted is not None and typed[0] not in wanted):
                continue
            if not _room(inventory, max_resources):
                tagged_complete = False
                break
            resource_type, resource_id = typed
            inventory.resources[(resource_type, resource_id)] = Observed(
                resource_type, resource_id, arn, ResourceState.ACTIVE, tags
            )
    except Exception as exc:
        inventory.errors.append(f"tagging: {exc}")
        tagged_complete = False
    if tagged_complete:
        # A resource the agent manages always carries MiyabiManaged=true: absent from the full tag listing, it is gone.
        inventory.complete_types.update(t for t in _ARN_TYPES.values() if t not in providers)
    return inventory


def _room(inventory: Inventory, limit: int) -> bool:
    if len(inventory.resources) >= limit:
        inventory.truncated = True
        return False
    return True


def _task_id(run_id: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.:-" else "-" for c in run_id)[:70] or "run"
    return f"discover-{cleaned}" if cleaned[0].isalnum() else f"discover{cleaned}"


@dataclass
class _Context(ProviderContext):
    """A provider context whose clients carry the discovery run (not a task) in their STS session name."""

    session_name: str = "miyabi-discovery"

    def client(self, service: str) -> Any:
        return self.sessions.client(service, self.target, session_name=self.session_name)
