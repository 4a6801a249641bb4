"""DynamoDB tables: key schema and billing mode at creation, one billing or GSI change per update, tags at creation."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, TaskAnalysisError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import (
    aws_error,
    check_owner,
    find_existing,
    live_statuses,
    named_id,
    operation_of,
    opt_int,
    opt_str,
    requested_tag_update,
    short_hash,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import paged
from .base import ProviderContext, ResourceOutcome, ResourceProvider

_TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
_ATTRIBUTE_TYPES = ("S", "N", "B")
BILLING_MODES = ("PAY_PER_REQUEST", "PROVISIONED")
PROJECTIONS = ("ALL", "KEYS_ONLY", "INCLUDE")

# DynamoDB table status -> (state while this task runs, ready). Creating/updating/deleting are reported as the
# task's own operation; a table whose KMS key is gone is Failed.
_IN_FLIGHT = {
    AwsTaskType.CREATE_RESOURCE: ResourceState.CREATING,
    AwsTaskType.UPDATE_RESOURCE: ResourceState.UPDATING,
    AwsTaskType.DELETE_RESOURCE: ResourceState.DELETING,
}
FAILED_STATUSES = frozenset({"INACCESSIBLE_ENCRYPTION_CREDENTIALS", "ARCHIVED"})
BUSY_STATUSES = frozenset({"CREATING", "UPDATING", "DELETING", "ARCHIVING"})


def _key(value: Any, what: str) -> tuple[str, str]:
    """A key attribute: {"name": "pk", "type": "S"} or "pk" (a string key)."""
    if isinstance(value, str) and value:
        return value, "S"
    if isinstance(value, dict):
        name, kind = value.get("name"), str(value.get("type", "S")).upper()
        if isinstance(name, str) and name and kind in _ATTRIBUTE_TYPES:
            return name, kind
    raise TaskAnalysisError(f"parameter '{what}' must be an attribute name or {{'name': ..., 'type': 'S'|'N'|'B'}}")


def _key_schema(spec: dict[str, Any], where: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """KeySchema and the attribute definitions it needs, from partition_key / sort_key."""
    if spec.get("partition_key") is None:
        raise TaskAnalysisError(f"missing parameter '{where}partition_key'")
    name, kind = _key(spec["partition_key"], f"{where}partition_key")
    schema = [{"AttributeName": name, "KeyType": "HASH"}]
    attributes = {name: kind}
    if spec.get("sort_key") is not None:
        sort, sort_kind = _key(spec["sort_key"], f"{where}sort_key")
        if sort == name:
            raise TaskAnalysisError(f"parameter '{where}sort_key' must differ from the partition key")
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
        attributes[sort] = sort_kind
    return schema, attributes


def _throughput(params: dict[str, Any]) -> dict[str, int]:
    read = opt_int(params, "read_capacity", low=1, high=40000)
    write = opt_int(params, "write_capacity", low=1, high=40000)
    if read is None or write is None:
        raise TaskAnalysisError("billing_mode PROVISIONED needs 'read_capacity' and 'write_capacity'")
    return {"ReadCapacityUnits": read, "WriteCapacityUnits": write}


def _billing_mode(params: dict[str, Any]) -> str | None:
    mode = opt_str(params, "billing_mode", max_len=32)
    if mode is None:
        return None
    mode = mode.upper().replace("-", "_")
    if mode == "ON_DEMAND":
        mode = "PAY_PER_REQUEST"
    if mode not in BILLING_MODES:
        raise TaskAnalysisError(f"parameter 'billing_mode' {mode!r} is not one of: {', '.join(BILLING_MODES)}")
    return mode


def _index(spec: Any, billing: str, attributes: dict[str, str]) -> dict[str, Any]:
    """A GlobalSecondaryIndex from {"name", "partition_key", "sort_key"?, "projection"?, capacities?}."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise TaskAnalysisError("a global secondary index needs a 'name' and a 'partition_key'")
    if not _TABLE_NAME.match(spec["name"]):
        raise TaskAnalysisError(f"index name {spec['name']!r} must be 3-255 of a-z A-Z 0-9 _ - .")
    schema, needed = _key_schema(spec, f"gsi {spec['name']}: ")
    for attr, kind in needed.items():
        if attributes.get(attr, kind) != kind:
            raise TaskAnalysisError(f"attribute {attr} is declared with two types ({attributes[attr]} and {kind})")
        attributes[attr] = kind
    projection = str(spec.get("projection", "ALL")).upper()
    if projection not in PROJECTIONS:
        raise TaskAnalysisError(f"gsi {spec['name']}: 'projection' must be one of {', '.join(PROJECTIONS)}")
    index: dict[str, Any] = {
        "IndexName": spec["name"],
        "KeySchema": schema,
        "Projection": {"ProjectionType": projection},
    }
    if projection == "INCLUDE":
        extra = spec.get("non_key_attributes")
        if not isinstance(extra, list) or not extra:
            raise TaskAnalysisError(f"gsi {spec['name']}: projection INCLUDE needs 'non_key_attributes'")
        index["Projection"]["NonKeyAttributes"] = extra
    if billing == "PROVISIONED":
        index["ProvisionedThroughput"] = _throughput(spec)
    return index


class DynamoDbTableProvider(ResourceProvider):
    resource_type = AwsResourceType.DYNAMODB_TABLE
    poll_seconds: ClassVar[int] = 10
    deadline_seconds: ClassVar[int] = 10 * 60

    # --- ids ----------------------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        return named_id(
            ctx,
            "table_name",
            max_len=255,
            pattern=_TABLE_NAME,
            invalid="is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)",
            default=f"miyabi-{short_hash(ctx.task.account_id + ctx.task.id)}",
        )

    def _create_request(self, ctx: ProviderContext, name: str) -> dict[str, Any]:
        params = ctx.params
        schema, attributes = _key_schema(params, "")
        billing = _billing_mode(params) or "PAY_PER_REQUEST"
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": schema,
            "BillingMode": billing,
            "Tags": tag_list(ctx.managed_tags()),
        }
        if billing == "PROVISIONED":
            request["ProvisionedThroughput"] = _throughput(params)
        indexes = params.get("global_secondary_indexes")
        if indexes is not None:
            if not isinstance(indexes, list):
                raise TaskAnalysisError("parameter 'global_secondary_indexes' must be a list")
            request["GlobalSecondaryIndexes"] = [_index(i, billing, attributes) for i in indexes]
        request["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": t} for a, t in attributes.items()]
        return request

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            calls = ["dynamodb:ListTables", "dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"]
            return simple_plan(ctx, None, calls)
        name = self.resource_id(ctx)
        if operation == "create":
            request = self._create_request(ctx, name)
            existing = self._existing(ctx, name)
            if existing is not None:
                self._check_owner(ctx, existing)
            shown = {k: v for k, v in request.items() if k != "Tags"}
            calls = [] if existing else ["dynamodb:CreateTable"]
            return {"operation": operation, "resource_id": name, "calls": calls, "parameters": shown}
        outcome = self.managed_status(ctx, name)
        if operation == "delete":
            return {"operation": operation, "resource_id": name, "calls": ["dynamodb:DeleteTable"], "parameters": {}}
        change, tags = self._update_settings(ctx, outcome)
        calls = (["dynamodb:UpdateTable"] if change else []) + (["dynamodb:TagResource"] if tags else [])
        return {"operation": operation, "resource_id": name, "calls": calls, "parameters": {**change, "tags": tags}}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        name = self.resource_id(ctx)
        request = self._create_request(ctx, name)
        existing = self._existing(ctx, name)
        if existing is not None:
            return self._check_owner(ctx, existing)
        try:
            table = ctx.client("dynamodb").create_table(**request)["TableDescription"]
        except ClientError as exc:
            if error_code(exc) == "ResourceInUseException":  # a concurrent replay created it
                return self._check_owner(ctx, self.status(ctx, name))
            raise aws_error(exc, f"create table {name}") from exc
        return self._outcome(ctx, table, ctx.managed_tags())

    def _existing(self, ctx: ProviderContext, name: str) -> ResourceOutcome | None:
        return find_existing(self.status, ctx, name)

    @staticmethod
    def _check_owner(ctx: ProviderContext, outcome: ResourceOutcome) -> ResourceOutcome:
        return check_owner(ctx, outcome, "DynamoDB table", "table_name")

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        client = ctx.client("dynamodb")
        try:
            table = client.describe_table(TableName=resource_id)["Table"]
        except ClientError as exc:
            raise aws_error(
                exc, f"describe table {resource_id}", not_found=f"DynamoDB table {resource_id} does not exist"
            ) from exc
        return self._outcome(ctx, table, self._tags(client, table["TableArn"]))

    def _outcome(self, ctx: ProviderContext, table: dict[str, Any], tags: dict[str, str]) -> ResourceOutcome:
        status = str(table.get("TableStatus", "CREATING"))
        indexes = {i["IndexName"]: str(i.get("IndexStatus", "ACTIVE")) for i in table.get("GlobalSecondaryIndexes", [])}
        busy_index = [n for n, s in indexes.items() if s != "ACTIVE"]
        metadata: dict[str, Any] = {
            "table_name": table["TableName"],
            "table_status": status,
            "billing_mode": (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
            "key_schema": {k["KeyType"]: k["AttributeName"] for k in table.get("KeySchema", [])},
            "global_secondary_indexes": indexes,
            "item_count": table.get("ItemCount", 0),
            "size_bytes": table.get("TableSizeBytes", 0),
        }
        throughput = table.get("ProvisionedThroughput") or {}
        if metadata["billing_mode"] == "PROVISIONED":
            metadata["read_capacity"] = throughput.get("ReadCapacityUnits")
            metadata["write_capacity"] = throughput.get("WriteCapacityUnits")
        if status in FAILED_STATUSES:
            reason = (table.get("ArchivalSummary") or {}).get("ArchivalReason") or f"table status {status}"
            state, ready = ResourceState.FAILED, True
            metadata["reason"] = f"DynamoDB reports {status}: {reason}"
        elif status == "DELETING":
            state, ready = ResourceState.DELETING, False
        elif status in BUSY_STATUSES or busy_index:
            # A GSI being built (or dropped) keeps the update in flight although the table itself is ACTIVE.
            state, ready = _IN_FLIGHT.get(ctx.task.task_type, ResourceState.UPDATING), False
        else:
            state, ready = ResourceState.ACTIVE, True
        return ResourceOutcome(
            id=table["TableName"], arn=table["TableArn"], state=state, ready=ready, tags=tags, metadata=metadata
        )

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(self, ctx: ProviderContext, outcome: ResourceOutcome) -> tuple[dict[str, Any], dict[str, str]]:
        """UpdateTable's arguments: one change per call, as DynamoDB allows (billing mode, add GSI or remove GSI)."""
        params = ctx.params
        current_billing = outcome.metadata["billing_mode"]
        changes: list[dict[str, Any]] = []
        billing = _billing_mode(params)
        if billing is not None and billing != current_billing:
            change: dict[str, Any] = {"BillingMode": billing}
            if billing == "PROVISIONED":
                change["ProvisionedThroughput"] = _throughput(params)
                # Every existing GSI needs capacities too when leaving on-demand.
                gsi_updates = [
                    {"Update": {"IndexName": n, "ProvisionedThroughput": _throughput(params)}}
                    for n in outcome.metadata["global_secondary_indexes"]
                ]
                if gsi_updates:
                    change["GlobalSecondaryIndexUpdates"] = gsi_updates
            changes.append(change)
        add = params.get("add_gsi")
        if add is not None:
            attributes: dict[str, str] = {}
            index = _index(add, billing or current_billing, attributes)
            if index["IndexName"] in outcome.metadata["global_secondary_indexes"]:
                raise ResourceConflict(f"table {outcome.id} already has an index {index['IndexName']}")
            changes.append(
                {
                    "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in attributes.items()],
                    "GlobalSecondaryIndexUpdates": [{"Create": index}],
                }
            )
        remove = opt_str(params, "remove_gsi", max_len=255)
        if remove is not None:
            if remove not in outcome.metadata["global_secondary_indexes"]:
                raise TaskAnalysisError(f"table {outcome.id} has no global secondary index {remove}")
            changes.append({"GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": remove}}]})
        if len(changes) > 1:
            raise TaskAnalysisError(
                "DynamoDB applies one change per UpdateTable (billing_mode, add_gsi or remove_gsi): send one task each"
            )
        tags = requested_tag_update(params)
        if not changes and not tags:
            raise TaskAnalysisError(
                "a DynamoDbTable update needs a different 'billing_mode', 'add_gsi', 'remove_gsi' or 'tags'"
            )
        return (changes[0] if changes else {}), tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        if not outcome.ready:
            raise ResourceConflict(f"DynamoDB table {resource_id} is {outcome.metadata['table_status']}; retry later")
        change, tags = self._update_settings(ctx, outcome)
        if change:
            try:
                ctx.client("dynamodb").update_table(TableName=resource_id, **change)
            except ClientError as exc:
                raise aws_error(exc, f"update table {resource_id}") from exc
        if tags:
            self.tag(ctx, resource_id, tags)
        result = self.status(ctx, resource_id)
        result.metadata["requested_change"] = change
        return result

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        if outcome.metadata["table_status"] == "DELETING":
            return outcome
        try:
            table = ctx.client("dynamodb").delete_table(TableName=resource_id)["TableDescription"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return outcome.model_copy(update={"state": ResourceState.TERMINATED, "ready": True})
            raise aws_error(exc, f"delete table {resource_id}") from exc
        deleting = table.get("TableStatus") == "DELETING"
        return outcome.model_copy(
            update={
                "state": ResourceState.DELETING if deleting else ResourceState.TERMINATED,
                "ready": not deleting,
                "metadata": {**outcome.metadata, "table_status": table.get("TableStatus", "DELETING")},
            }
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        client = ctx.client("dynamodb")
        names = paged(client, "list_tables", "TableNames", f"list tables in {ctx.task.region}")
        return live_statuses(self.status, ctx, names)

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        client = ctx.client("dynamodb")
        arn = self.status(ctx, resource_id).arn
        try:
            client.tag_resource(ResourceArn=arn, Tags=tag_list(tags))
        except ClientError as exc:
            raise aws_error(
                exc, f"tag table {resource_id}", not_found=f"DynamoDB table {resource_id} does not exist"
            ) from exc

    @staticmethod
    def _tags(client: Any, arn: str) -> dict[str, str]:
        try:
            tags: dict[str, str] = {}
            token = None
            while True:
                page = client.list_tags_of_resource(ResourceArn=arn, **({"NextToken": token} if token else {}))
                tags.update(tag_dict(page.get("Tags")))
                token = page.get("NextToken")
                if not token:
                    return tags
        except ClientError as exc:
            raise aws_error(exc, f"list tags of {arn}", not_found=f"DynamoDB table {arn} does not exist") from exc
