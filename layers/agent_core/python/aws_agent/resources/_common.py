"""Helpers the providers share: parameter validation, error translation, tag shapes, deterministic names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code, translate
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError, UnsupportedOperation
from ..model import AwsTaskType
from .base import AGENT_TAG, MANAGED_TAG, TASK_TAG, ProviderContext, ResourceOutcome

RESERVED_TAGS = frozenset({MANAGED_TAG, AGENT_TAG, TASK_TAG})

# Error codes meaning "the thing you named does not exist", across the services the providers call.
NOT_FOUND_CODES = frozenset(
    {
        "404",
        "NotFound",
        "NoSuchBucket",
        "InvalidInstanceID.NotFound",
        "ResourceNotFoundException",
        "NoSuchEntity",
    }
)

OPERATIONS: dict[AwsTaskType, str] = {
    AwsTaskType.CREATE_RESOURCE: "create",
    AwsTaskType.UPDATE_RESOURCE: "update",
    AwsTaskType.DELETE_RESOURCE: "delete",
    AwsTaskType.DISCOVER_RESOURCES: "discover",
}


def aws_error(exc: ClientError, doing: str, *, not_found: str | None = None) -> Exception:
    """`translate`, except that a not-found code becomes ResourceNotFound(not_found) when a message is given."""
    if not_found is not None and error_code(exc) in NOT_FOUND_CODES:
        return ResourceNotFound(not_found)
    return translate(exc, doing)


def operation_of(ctx: ProviderContext) -> str:
    """create / update / delete / discover for the task's type; other task types have no provider plan."""
    operation = OPERATIONS.get(ctx.task.task_type)
    if operation is None:
        raise UnsupportedOperation(
            f"task type {ctx.task.task_type.value} is not a resource operation; "
            f"supported: {', '.join(t.value for t in OPERATIONS)}"
        )
    return operation


def find_existing(
    status: Callable[[ProviderContext, str], ResourceOutcome], ctx: ProviderContext, resource_id: str
) -> ResourceOutcome | None:
    """`status(ctx, resource_id)`, or None when the resource does not exist."""
    try:
        return status(ctx, resource_id)
    except ResourceNotFound:
        return None


def check_owner(
    ctx: ProviderContext,
    outcome: ResourceOutcome,
    what: str,
    name_param: str,
    *,
    untagged: str = "is not managed",
    hint_owned: bool = True,
) -> ResourceOutcome:
    """This task's own resource under the name (a replay) comes back; another task's or an untagged one conflicts."""
    owner = outcome.tags.get(TASK_TAG)
    if owner == ctx.task.id:
        return outcome
    # Some providers word the conflict a little differently; the keywords keep each one's message as it was.
    who = f"belongs to task {owner}" if owner else f"{untagged} (no {TASK_TAG} tag)"
    hint = f"; choose another {name_param}" if hint_owned or not owner else ""
    raise ResourceConflict(f"{what} {outcome.id} already exists and {who}{hint}")


def named_id(
    ctx: ProviderContext, param: str, *, max_len: int, pattern: re.Pattern[str], invalid: str, default: str | None
) -> str:
    """The name in `param`, matched against `pattern` (`invalid` ends the error); `default` when a create omits it."""
    name = opt_str(ctx.params, param, max_len=max_len)
    if name is None:
        if default is not None and ctx.task.task_type is AwsTaskType.CREATE_RESOURCE:
            return default
        raise TaskAnalysisError(f"missing parameter '{param}'")
    if not pattern.match(name):
        raise TaskAnalysisError(f"parameter '{param}' {name!r} {invalid}")
    return name


def aws_id(ctx: ProviderContext, param: str, *, max_len: int, pattern: re.Pattern[str], shape: str) -> str:
    """The AWS-assigned id in `param` (e.g. vol-...), which a task must give and which must match `pattern`."""
    value = opt_str(ctx.params, param, max_len=max_len)
    if value is None or not pattern.match(value):
        raise TaskAnalysisError(f"parameter '{param}' ({shape}) is missing or invalid")
    return value


def live_statuses(
    status: Callable[[ProviderContext, str], ResourceOutcome], ctx: ProviderContext, resource_ids: list[str]
) -> list[ResourceOutcome]:
    """`status` of each listed id, in order, leaving out those deleted since the listing."""
    found = (find_existing(status, ctx, resource_id) for resource_id in resource_ids)
    return [outcome for outcome in found if outcome is not None]


def short_hash(text: str, length: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# --- tags ---------------------------------------------------------------------------------------------------------


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def requested_tag_update(params: Mapping[str, Any]) -> dict[str, str]:
    """The `tags` of an update task, refusing the agent's own tags (an update must not re-own a resource)."""
    tags = params.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise TaskAnalysisError("parameter 'tags' must be a map of strings to strings")
    reserved = sorted(RESERVED_TAGS.intersection(tags))
    if reserved:
        raise TaskAnalysisError(f"parameter 'tags' may not set the agent's own tags: {', '.join(reserved)}")
    return dict(tags)


# --- parameters ---------------------------------------------------------------------------------------------------


def opt_str(params: Mapping[str, Any], name: str, *, max_len: int = 2048) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise TaskAnalysisError(f"parameter '{name}' must be a non-empty string")
    if len(value) > max_len:
        raise TaskAnalysisError(f"parameter '{name}' is longer than {max_len} characters")
    return value.strip()


def req_str(params: Mapping[str, Any], name: str, *, max_len: int = 2048) -> str:
    value = opt_str(params, name, max_len=max_len)
    if value is None:
        raise TaskAnalysisError(f"missing parameter '{name}'")
    return value


def opt_int(params: Mapping[str, Any], name: str, *, low: int, high: int) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    # Parameters extracted from free text often arrive as strings ("256").
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskAnalysisError(f"parameter '{name}' must be an integer between {low} and {high}")
    if not low <= value <= high:
        raise TaskAnalysisError(f"parameter '{name}' must be between {low} and {high}, got {value}")
    return value


def opt_bool(params: Mapping[str, Any], name: str) -> bool | None:
    value = params.get(name)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "on", "off", "enabled", "disabled"}:
        return value.strip().lower() in {"true", "on", "enabled"}
    raise TaskAnalysisError(f"parameter '{name}' must be true or false")


def opt_str_list(params: Mapping[str, Any], name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise TaskAnalysisError(f"parameter '{name}' must be a non-empty list of strings")
    return list(value)


def opt_str_map(params: Mapping[str, Any], name: str) -> dict[str, str] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TaskAnalysisError(f"parameter '{name}' must be a map of strings to strings")
    return dict(value)


def simple_plan(ctx: ProviderContext, resource_id: str | None, calls: list[str], **parameters: Any) -> dict[str, Any]:
    return {"operation": operation_of(ctx), "resource_id": resource_id, "calls": calls, "parameters": parameters}


def create_plan(
    ctx: ProviderContext,
    resource_id: str,
    existing: ResourceOutcome | None,
    calls: list[str],
    parameters: dict[str, Any],
) -> dict[str, Any]:
    """A create's dry run: `calls` for a new resource; none, marked `replay`, where this task's own one exists."""
    if existing is None:
        return {"operation": operation_of(ctx), "resource_id": resource_id, "calls": calls, "parameters": parameters}
    return {
        "operation": operation_of(ctx),
        "resource_id": resource_id,
        "calls": [],
        "parameters": {**parameters, "replay": True},
    }
