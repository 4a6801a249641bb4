"""DynamoDB repositories for tasks, resources and service agents: conditional, versioned writes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .aws import error_code, translate
from .basics import TaskStatus, utc_now

if TYPE_CHECKING:
    from .model import AwsResource, ServiceAgent

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_TERMINAL = [s.value for s in TaskStatus if s.is_terminal]
MAX_TEXT = 4_000  # error messages and summaries stored on a task are capped: hostile input must not bloat records


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"), sort_keys=True)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass
class TaskRepository:
    """Task records: Pending → InProgress → Completed/Failed/Cancelled, each move conditional on the last."""

    client: Any
    table: str

    def create_pending(self, task_id: str, source: str) -> bool:
        """Record a received task; False if it was already recorded (a duplicate delivery)."""
        now = utc_now().isoformat()
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(
                    {
                        "task_id": task_id,
                        "status": TaskStatus.PENDING.value,
                        "created_at": now,
                        "updated_at": now,
                        "source": source,
                        "version": 1,
                    }
                ),
                ConditionExpression="attribute_not_exists(task_id)",
            )
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"record task {task_id}") from exc

    def get(self, task_id: str) -> dict[str, Any] | None:
        try:
            item = self.client.get_item(TableName=self.table, Key=to_item({"task_id": task_id}), ConsistentRead=True)
        except ClientError as exc:
            raise translate(exc, f"read task {task_id}") from exc
        return decode_task(from_item(item["Item"])) if "Item" in item else None

    def start(self, task_id: str, fields: Mapping[str, Any]) -> None:
        """Move to InProgress with the analyzed task; refuses to reopen a finished task."""
        values = {**fields, "status": TaskStatus.IN_PROGRESS.value, "updated_at": utc_now().isoformat()}
        self._update(task_id, values, condition_terminal=False)

    def annotate(self, task_id: str, fields: Mapping[str, Any]) -> None:
        """Add facts to a running task (guard decisions, the resource it acts on)."""
        self._update(task_id, {**fields, "updated_at": utc_now().isoformat()}, condition_terminal=False)

    def finish(self, task_id: str, status: TaskStatus, fields: Mapping[str, Any]) -> bool:
        """Move to a terminal status once; True if this call did, or an earlier one did without emitting."""
        now = utc_now().isoformat()
        values = {**fields, "status": status.value, "completed_at": now, "updated_at": now, "event_emitted": False}
        try:
            self._update(task_id, values, condition_terminal=False)
            return True
        except _TerminalAlready:
            current = self.get(task_id) or {}
            return current.get("status") == status.value and current.get("event_emitted") is False

    def mark_emitted(self, task_id: str) -> None:
        self._update(task_id, {"event_emitted": True}, condition_terminal=True)

    def _update(self, task_id: str, values: Mapping[str, Any], *, condition_terminal: bool) -> None:
        values = {k: v for k, v in values.items() if v is not None}
        names = {f"#f{i}": k for i, k in enumerate(values)}
        attr_values = {f":v{i}": _SERIALIZER.serialize(v) for i, v in enumerate(values.values())}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        attr_values[":one"] = {"N": "1"}
        # Terminal records are immutable except for the emitted flag; creating a record here is fine
        # (a task whose intake record was lost is still recorded).
        if condition_terminal:
            condition = "attribute_exists(task_id)"
        else:
            names["#status"] = "status"
            attr_values.update({f":t{i}": {"S": s} for i, s in enumerate(_TERMINAL)})
            condition = (
                "attribute_not_exists(task_id) OR NOT #status IN ("
                + ", ".join(f":t{i}" for i in range(len(_TERMINAL)))
                + ")"
            )
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"task_id": task_id}),
                UpdateExpression=f"SET {sets} ADD version :one",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise _TerminalAlready(task_id) from exc
            raise translate(exc, f"update task {task_id}") from exc

    def list(self, limit: int = 100, status: TaskStatus | None = None) -> list[dict[str, Any]]:
        """Recent tasks for the CLI: by status through the GSI, else a bounded scan (operator use only)."""
        if status is not None:
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table,
                IndexName="by-status",
                KeyConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": status.value}},
                ScanIndexForward=False,
            )
        else:
            pages = self.client.get_paginator("scan").paginate(TableName=self.table)
        items = list(_take(pages, limit))
        tasks = [decode_task(from_item(i)) for i in items]
        return sorted(tasks, key=lambda t: t.get("created_at", ""), reverse=True)


class _TerminalAlready(Exception):
    pass


TaskAlreadyFinished = _TerminalAlready


def _take(pages: Iterator[dict[str, Any]], limit: int) -> Iterator[dict[str, Any]]:
    count = 0
    for page in pages:
        for item in page.get("Items", []):
            if count >= limit:
                return
            count += 1
            yield item


_JSON_FIELDS = ("parameters", "result", "evidence", "guard", "dependencies")


def encode_task_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Free-form parts of a task are stored as JSON text: DynamoDB rejects floats and empty keys in maps."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _JSON_FIELDS and value is not None:
            out[f"{key}_json"] = _clip(_json(value)) if key != "parameters" else _json(value)
        elif isinstance(value, str) and key in ("error_message",):
            out[key] = _clip(value)
        else:
            out[key] = value
    return out


def decode_task(item: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_FIELDS:
        raw = item.pop(f"{key}_json", None)
        if raw is not None:
            try:
                item[key] = json.loads(raw)
            except ValueError:
                item[key] = raw
    return item


@dataclass
class ResourceRepository:
    """AwsResource and ServiceAgent records, written together so neither exists without the other."""

    client: Any
    resources_table: str
    agents_table: str

    def save(self, resource: AwsResource, agent: ServiceAgent) -> None:
        res = resource.model_dump(mode="json")
        resource_item = {
            **{k: v for k, v in res.items() if k not in ("metadata", "tags", "dependencies")},
            "resource_key": resource.key,
            "type_id": f"{resource.resource_type.value}#{resource.id}",
            "metadata_json": _json(resource.metadata),
            "tags": dict(resource.tags),
            "dependencies": list(resource.dependencies),
        }
        agent_item = {
            **agent.model_dump(mode="python", exclude={"cost_per_day"}),
            "cost_per_day": agent.cost_per_day,
            "resource_key": resource.key,
            "account_id": resource.account_id,
            "region": resource.region,
            "resource_arn": resource.arn,
            "updated_at": utc_now().isoformat(),
        }
        agent_item = {k: (v.value if hasattr(v, "value") else v) for k, v in agent_item.items()}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.resources_table, "Item": to_item(resource_item)}},
                    {"Put": {"TableName": self.agents_table, "Item": to_item(agent_item)}},
                ]
            )
        except ClientError as exc:
            raise translate(exc, f"register {resource.key}") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            item = self.client.get_item(TableName=self.resources_table, Key=to_item({"resource_key": key}))
        except ClientError as exc:
            raise translate(exc, f"read resource {key}") from exc
        return _decode_resource(from_item(item["Item"])) if "Item" in item else None

    def by_account(self, account_id: str, resource_type: str | None = None) -> list[dict[str, Any]]:
        expr = "account_id = :a"
        values: dict[str, Any] = {":a": {"S": account_id}}
        if resource_type:
            expr += " AND begins_with(type_id, :t)"
            values[":t"] = {"S": f"{resource_type}#"}
        pages = self.client.get_paginator("query").paginate(
            TableName=self.resources_table,
            IndexName="by-account-type",
            KeyConditionExpression=expr,
            ExpressionAttributeValues=values,
        )
        return [_decode_resource(from_item(i)) for page in pages for i in page.get("Items", [])]

    def find(self, account_id: str, *, field: str, value: str) -> list[dict[str, Any]]:
        """Records of an account whose `field` (id, arn) equals `value`: a query on by-account-type, never a scan."""
        return self._query_account(account_id, "#f = :v", {"#f": field}, {":v": {"S": value}})

    def dependents(self, account_id: str, references: Iterable[str]) -> list[dict[str, Any]]:
        """Records of an account, not Terminated, whose dependencies name any of `references` (key, ARN or id)."""
        refs = sorted(set(references))
        if not refs:
            return []
        matches = " OR ".join(f"contains(dependencies, :r{i})" for i in range(len(refs)))
        values = {":t": {"S": "Terminated"}, **{f":r{i}": {"S": r} for i, r in enumerate(refs)}}
        return self._query_account(account_id, f"#st <> :t AND ({matches})", {"#st": "state"}, values)

    def _query_account(
        self, account_id: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            pages = self.client.get_paginator("query").paginate(
                TableName=self.resources_table,
                IndexName="by-account-type",
                KeyConditionExpression="account_id = :a",
                FilterExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":a": {"S": account_id}, **values},
            )
            return [_decode_resource(from_item(i)) for page in pages for i in page.get("Items", [])]
        except ClientError as exc:
            raise translate(exc, f"query the resources of account {account_id}") from exc

    def list_resources(self, limit: int = 500) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("scan").paginate(TableName=self.resources_table)
        return [_decode_resource(from_item(i)) for i in _take(pages, limit)]

    def list_agents(self, limit: int = 500, decision_maker: str | None = None) -> list[dict[str, Any]]:
        if decision_maker:
            pages = self.client.get_paginator("query").paginate(
                TableName=self.agents_table,
                IndexName="by-decision-maker",
                KeyConditionExpression="decision_maker = :d",
                ExpressionAttributeValues={":d": {"S": decision_maker}},
            )
        else:
            pages = self.client.get_paginator("scan").paginate(TableName=self.agents_table)
        return [from_item(i) for i in _take(pages, limit)]


def _decode_resource(item: dict[str, Any]) -> dict[str, Any]:
    raw = item.pop("metadata_json", None)
    item["metadata"] = json.loads(raw) if raw else {}
    return item


@dataclass
class CostReportRepository:
    """Optimization runs: one compressed item per swept account x region, then one for the folded report."""

    client: Any
    table: str
    ttl_days: int = 90

    def put(self, run_id: str, part: str, document: str, **summary: Any) -> None:
        import gzip
        import time

        # gzip: a target's findings can run to hundreds of KiB of JSON; DynamoDB items stop at 400 KiB.
        item = {
            "run_id": run_id,
            "part": part,
            "body": gzip.compress(document.encode()),
            "expires_at": int(time.time()) + self.ttl_days * 86_400,
            **summary,
        }
        try:
            self.client.put_item(TableName=self.table, Item=to_item(item))
        except ClientError as exc:
            raise translate(exc, f"store {part} of cost run {run_id}") from exc

    def parts(self, run_id: str, prefix: str) -> list[str]:
        """The JSON documents of a run whose part starts with `prefix` (query, never scan)."""
        import gzip

        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="run_id = :r AND begins_with(part, :p)",
            ExpressionAttributeValues={":r": {"S": run_id}, ":p": {"S": prefix}},
        )
        return [gzip.decompress(i["body"]["B"]).decode() for page in pages for i in page.get("Items", [])]
