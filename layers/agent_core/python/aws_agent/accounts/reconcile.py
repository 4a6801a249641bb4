"""Reconciliation: the Resources table brought in step with a discovered inventory; drift announced as events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..aws import translate
from ..basics import utc_now
from ..events import AGENT_SOURCE
from ..model import AwsResourceType, ResourceState, resource_key
from ..registry import from_item, to_item
from .discovery import Inventory, Observed
from .events import RESOURCE_DRIFT_DETECTED, ResourceDrift

DISCOVERED = "discovered"  # record_kind of a resource the agent saw but does not manage (no ServiceAgent)


def discovered_partition(account_id: str) -> str:
    """The by-account-type partition of an account's discovered records: apart from its managed ones, so every
    reader of managed resources (by_account, the optimizer, the guard) never mistakes them for managed."""
    return f"{DISCOVERED}#{account_id}"


def discovered_key(key: str) -> str:
    return f"{DISCOVERED}#{key}"


@dataclass
class Reconciliation:
    """What one target's reconciliation changed."""

    found: int = 0
    managed: int = 0
    discovered: int = 0
    updated: int = 0
    terminated: int = 0
    forgotten: int = 0  # discovered records of resources that no longer exist
    drift: list[ResourceDrift] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "found": self.found,
            "managed": self.managed,
            "discovered": self.discovered,
            "updated": self.updated,
            "terminated": self.terminated,
            "forgotten": self.forgotten,
            "drift_events": len(self.drift),
        }


@dataclass
class ResourceRecords:
    """The Resources and ServiceAgents tables as reconciliation sees them (the writes registration never makes)."""

    client: Any
    resources_table: str
    agents_table: str

    def in_target(self, account_id: str, region: str) -> Iterator[dict[str, Any]]:
        """Managed, then discovered records of one account x region, page by page (by-account-type index)."""
        for partition in (account_id, discovered_partition(account_id)):
            try:
                pages = self.client.get_paginator("query").paginate(
                    TableName=self.resources_table,
                    IndexName="by-account-type",
                    KeyConditionExpression="account_id = :a",
                    FilterExpression="#r = :r",
                    ExpressionAttributeNames={"#r": "region"},
                    ExpressionAttributeValues={":a": {"S": partition}, ":r": {"S": region}},
                )
                for page in pages:
                    for item in page.get("Items", []):
                        yield from_item(item)
            except ClientError as exc:
                raise translate(exc, f"read resources of {account_id}/{region}") from exc

    def observe(self, key: str, state: ResourceState, tags: dict[str, str], *, agent: bool) -> None:
        """A managed resource's new state and tags; its service agent's state follows (cost 0 once terminated)."""
        now = utc_now().isoformat()
        updates: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.resources_table,
                    "Key": to_item({"resource_key": key}),
                    "UpdateExpression": "SET #s = :s, tags = :t, updated_at = :u",
                    "ConditionExpression": "attribute_exists(resource_key)",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": to_item({":s": state.value, ":t": tags, ":u": now}),
                }
            }
        ]
        if agent:
            values: dict[str, Any] = {":s": state.value, ":u": now}
            expression = "SET #s = :s, updated_at = :u"
            if state is ResourceState.TERMINATED:
                expression += ", cost_per_day = :c"
                values[":c"] = 0
            updates.append(
                {
                    "Update": {
                        "TableName": self.agents_table,
                        "Key": to_item({"name": key}),
                        "UpdateExpression": expression,
                        "ConditionExpression": "attribute_exists(#n)",
                        "ExpressionAttributeNames": {"#s": "state", "#n": "name"},
                        "ExpressionAttributeValues": to_item(values),
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=updates)
        except ClientError as exc:
            raise translate(exc, f"record drift of {key}") from exc

    def record_discovered(self, target_account: str, region: str, observed: Observed, run_id: str) -> None:
        """An unmanaged resource, recorded for visibility only: never adopted (no tag added, no ServiceAgent)."""
        key = discovered_key(resource_key(target_account, region, observed.resource_type, observed.id))
        now = utc_now().isoformat()
        item = {
            "resource_key": key,
            "record_kind": DISCOVERED,
            "id": observed.id,
            "arn": observed.arn,
            "resource_type": observed.resource_type.value,
            "type_id": f"{observed.resource_type.value}#{observed.id}",
            "account_id": discovered_partition(target_account),
            "discovered_in": target_account,
            "region": region,
            "state": observed.state.value,
            "tags": dict(observed.tags),
            "metadata_json": json.dumps({"discovered_by": run_id}),
            "created_at": now,
            "updated_at": now,
        }
        try:
            self.client.put_item(TableName=self.resources_table, Item=to_item(item))
        except ClientError as exc:
            raise translate(exc, f"record discovered {key}") from exc

    def forget(self, key: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.resources_table,
                Key=to_item({"resource_key": key}),
                ConditionExpression="record_kind = :d",
                ExpressionAttributeValues=to_item({":d": DISCOVERED}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate(exc, f"forget {key}") from exc


def reconcile(
    records: ResourceRecords,
    inventory: Inventory,
    run_id: str,
    announce: Callable[[list[ResourceDrift]], Any] | None = None,
) -> Reconciliation:
    """Managed records gone from AWS become Terminated, changed ones are updated (drift events for both);
    unmanaged resources are recorded as discovered; discovered records of vanished resources are dropped.

    The drift is announced *before* the managed records change: a run that fails in between sees the same drift
    again on its retry (at least once), whereas writing first would lose the event for good."""
    account_id, region = inventory.target.account_id, inventory.target.region
    assert account_id is not None
    result = Reconciliation(found=len(inventory.resources))
    seen: set[tuple[AwsResourceType, str]] = set()
    managed: set[tuple[AwsResourceType, str]] = set()
    changes: list[tuple[str, ResourceState, dict[str, str]]] = []
    for record in records.in_target(account_id, region):
        resource_type = AwsResourceType(record["resource_type"])
        ident = (resource_type, record["id"])
        observed = inventory.resources.get(ident)
        if observed is not None:
            seen.add(ident)
        if record.get("record_kind") == DISCOVERED:
            # Managed records come first: a resource adopted by a task since its discovery drops the old record.
            if ident in managed or (observed is None and resource_type in inventory.complete_types):
                records.forget(record["resource_key"])
                result.forgotten += 1
            elif observed is not None:
                result.discovered += 1
                if observed.tags != record.get("tags", {}) or observed.state.value != record.get("state"):
                    records.record_discovered(account_id, region, observed, run_id)
            continue
        managed.add(ident)
        previous = ResourceState(record["state"])
        if previous is ResourceState.TERMINATED:
            continue
        if observed is None:
            if resource_type in inventory.complete_types and previous is not ResourceState.CREATING:
                changes.append((record["resource_key"], ResourceState.TERMINATED, record.get("tags") or {}))
                result.terminated += 1
                result.drift.append(_drift("deleted", record, previous, ResourceState.TERMINATED, {}, run_id))
            continue
        result.managed += 1
        old_tags: dict[str, str] = record.get("tags") or {}
        if observed.state is not previous or observed.tags != old_tags:
            changes.append((record["resource_key"], observed.state, observed.tags))
            result.updated += 1
            kind = "state" if observed.state is not previous else "tags"
            result.drift.append(_drift(kind, record, previous, observed.state, observed.tags, run_id))
    if announce is not None and result.drift:
        announce(result.drift)
    for key, state, tags in changes:
        records.observe(key, state, tags, agent=True)
    for ident, observed in inventory.resources.items():
        if ident in seen:
            continue
        # Not in the table: recorded as discovered, even when tagged MiyabiManaged (its record was lost or it was
        # tagged by hand); adopting it is a decision for a task, not for a sweep.
        records.record_discovered(account_id, region, observed, run_id)
        result.discovered += 1
    return result


def _drift(
    kind: str,
    record: dict[str, Any],
    previous: ResourceState,
    current: ResourceState,
    tags: dict[str, str],
    run_id: str,
) -> ResourceDrift:
    old: dict[str, str] = record.get("tags") or {}
    return ResourceDrift.model_validate(
        {
            "drift": kind,
            "resource_key": record["resource_key"],
            "resource_id": record["id"],
            "resource_type": record["resource_type"],
            "account_id": record.get("discovered_in") or record["account_id"],
            "region": record["region"],
            "previous_state": previous,
            "current_state": current,
            "tags_added": {k: v for k, v in tags.items() if old.get(k) != v} if kind == "tags" else {},
            "tags_removed": sorted(k for k in old if k not in tags) if kind == "tags" else [],
            "run_id": run_id,
        }
    )


def emit_drift(events_client: Any, bus: str, drift: list[ResourceDrift]) -> int:
    """One ResourceDriftDetected per drifted resource, ten per PutEvents call; returns how many were accepted."""
    sent = 0
    for start in range(0, len(drift), 10):
        entries = [
            {
                "Source": AGENT_SOURCE,
                "DetailType": RESOURCE_DRIFT_DETECTED,
                "Detail": d.model_dump_json(),
                "EventBusName": bus,
            }
            for d in drift[start : start + 10]
        ]
        try:
            response = events_client.put_events(Entries=entries)
        except ClientError as exc:
            raise translate(exc, "emit ResourceDriftDetected") from exc
        sent += len(entries) - int(response.get("FailedEntryCount", 0))
    return sent
