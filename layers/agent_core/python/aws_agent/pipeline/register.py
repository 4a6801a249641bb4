"""Registration: the resource and its service agent recorded together, with autonomy, owner and daily cost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..assignment import autonomy_for, decision_maker_for
from ..health.alarms import Managed, sync_alarms
from ..model import AwsResource, AwsTask, HealthStatus, ResourceState, ServiceAgent, resource_key, utc_now
from ..pricing import estimate_daily_cost
from ..resources import ResourceOutcome
from .execute import context, tags_to_apply
from .runtime import Runtime


def record(rt: Runtime, task: AwsTask, outcome: ResourceOutcome, tags: dict[str, str] | None = None) -> dict[str, Any]:
    assert task.resource_type is not None
    key = resource_key(task.account_id, task.region, task.resource_type, outcome.id)
    previous = rt.resources.get(key)
    now = utc_now()
    resource = AwsResource(
        id=outcome.id,
        arn=outcome.arn,
        resource_type=task.resource_type,
        region=task.region,
        account_id=task.account_id,
        state=outcome.state,
        owner_agent=decision_maker_for(task.resource_type),
        # An update or a discovery sweep names no dependencies: keep the recorded ones (the dependency graph).
        dependencies=task.dependencies or (previous or {}).get("dependencies", []),
        tags=tags if tags is not None else outcome.tags,
        metadata=outcome.metadata,
        created_at=previous["created_at"] if previous else now,
        updated_at=now,
    )
    cost = (
        Decimal("0")
        if outcome.state is ResourceState.TERMINATED
        else estimate_daily_cost(task.resource_type, outcome.metadata)
    )
    agent = ServiceAgent(
        name=key,
        service_type=task.resource_type,
        dependencies=task.dependencies,
        state=outcome.state,
        autonomy_level=autonomy_for(task.resource_type),
        decision_maker=decision_maker_for(task.resource_type),
        cost_per_day=cost,
        health_status=HealthStatus.UNKNOWN,
    )
    rt.resources.save(resource, agent)
    alarms = sync_alarms(
        rt.sessions,
        rt.settings.config.health,
        Managed.from_record(resource.model_dump(mode="json")),
        terminated=outcome.state is ResourceState.TERMINATED,
        session_name=f"miyabi-{task.id}",
    )
    return {"resource_key": key, "state": outcome.state.value, "cost_per_day": str(cost), "alarms": alarms}


def register(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    task = AwsTask.model_validate(payload["task"])
    execution = payload["execution"]
    if "resource" in execution:
        outcome = ResourceOutcome.model_validate(execution["resource"])
        tags = None
        if execution.get("next") == "tag":  # the Tag step applied these; the outcome predates it
            tags = {**outcome.tags, **tags_to_apply(context(rt, task), outcome.tags)}
        return {"registered": [record(rt, task, outcome, tags)]}
    # Discovery: keep the records of managed resources in step with what exists.
    registered = [record(rt, task, ResourceOutcome.model_validate(r)) for r in execution.get("resources", [])]
    return {"registered": registered}
