"""Route 53 hosted zones and their records: the task id is the caller reference, records go in as UPSERTs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, ResourceState
from ._common import aws_error, operation_of, opt_bool, opt_str, requested_tag_update, simple_plan, tag_dict, tag_list
from ._net import VPC_ID
from .base import TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

_ZONE_ID = re.compile(r"^(?:/hostedzone/)?([A-Z0-9]{1,32})$")
_DOMAIN = re.compile(r"^(?=.{1,253}\.?$)(?:(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.)+[A-Za-z0-9-]{2,63}\.?$")
RECORD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "NAPTR", "PTR", "SPF", "SRV", "TXT", "NS", "DS")
RECORD_ACTIONS = ("UPSERT", "DELETE")
MAX_CHANGES = 1000  # ChangeResourceRecordSets' limit per request
_NOT_FOUND = ("NoSuchHostedZone",)


@dataclass(frozen=True)
class _Record:
    action: str
    name: str
    type: str
    ttl: int
    values: tuple[str, ...]

    def change(self) -> dict[str, Any]:
        return {
            "Action": self.action,
            "ResourceRecordSet": {
                "Name": self.name,
                "Type": self.type,
                "TTL": self.ttl,
                "ResourceRecords": [{"Value": v} for v in self.values],
            },
        }


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def parse_records(value: Any, zone_name: str | None = None) -> list[_Record]:
    """The `records` parameter: [{name, type, values, ttl?, action?}]; names are made absolute within the zone."""
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise TaskAnalysisError("parameter 'records' must be a non-empty list of {name, type, values, ttl}")
    if len(value) > MAX_CHANGES:
        raise TaskAnalysisError(f"parameter 'records' holds {len(value)} records; at most {MAX_CHANGES} per task")
    records: list[_Record] = []
    for index, item in enumerate(value):
        where = f"records[{index}]"
        if not isinstance(item, dict):
            raise TaskAnalysisError(f"parameter '{where}' must be an object")
        name, kind = item.get("name"), str(item.get("type", "")).upper()
        if not isinstance(name, str) or not name:
            raise TaskAnalysisError(f"parameter '{where}.name' must be a record name")
        if kind not in RECORD_TYPES:
            raise TaskAnalysisError(f"parameter '{where}.type' must be one of {', '.join(RECORD_TYPES)}")
        values = item.get("values", item.get("value"))
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise TaskAnalysisError(f"parameter '{where}.values' must be a non-empty list of strings")
        ttl = item.get("ttl", 300)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
            raise TaskAnalysisError(f"parameter '{where}.ttl' must be a number of seconds")
        action = str(item.get("action", "UPSERT")).upper()
        if action not in RECORD_ACTIONS:
            raise TaskAnalysisError(f"parameter '{where}.action' must be UPSERT or DELETE")
        fqdn = _fqdn(name)
        if zone_name is not None:
            zone = _fqdn(zone_name)
            if fqdn != zone and not fqdn.endswith(f".{zone}"):
                fqdn = f"{name.rstrip('.')}.{zone}"  # a relative name ("www") lives in the zone
            if kind in ("NS", "SOA") and fqdn == zone:
                raise TaskAnalysisError(f"parameter '{where}': the zone apex {kind} record is Route 53's own")
        records.append(_Record(action, fqdn, kind, ttl, tuple(values)))
    return records


class Route53HostedZoneProvider(ResourceProvider):
    resource_type = AwsResourceType.ROUTE53_HOSTED_ZONE

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        """The hosted zone id (Z...), with or without the /hostedzone/ prefix Route 53 returns."""
        value = opt_str(ctx.params, "hosted_zone_id", max_len=64)
        if value is None:
            raise TaskAnalysisError("missing parameter 'hosted_zone_id'")
        match = _ZONE_ID.match(value)
        if not match:
            raise TaskAnalysisError(
                f"parameter 'hosted_zone_id' {value!r} is not a hosted zone id (e.g. Z0123456789ABC)"
            )
        return match.group(1)

    @staticmethod
    def _arn(zone_id: str) -> str:
        # Route 53 is global: no region or account in the ARN.
        return f"arn:aws:route53:::hostedzone/{zone_id}"

    @staticmethod
    def _zone_name(ctx: ProviderContext) -> str:
        name = opt_str(ctx.params, "zone_name", max_len=255) or opt_str(ctx.params, "domain_name", max_len=255)
        if name is None:
            raise TaskAnalysisError("missing parameter 'zone_name' (the domain, e.g. example.com)")
        if not _DOMAIN.match(name):
            raise TaskAnalysisError(f"parameter 'zone_name' {name!r} is not a domain name")
        return _fqdn(name.lower())

    @staticmethod
    def _vpc(ctx: ProviderContext) -> dict[str, str] | None:
        """A private zone's VPC (`private`: true with `vpc_id`); None for a public zone."""
        vpc_id = opt_str(ctx.params, "vpc_id", max_len=32)
        if not opt_bool(ctx.params, "private") and vpc_id is None:
            return None
        if vpc_id is None or not VPC_ID.match(vpc_id):
            raise TaskAnalysisError("a private hosted zone needs parameter 'vpc_id' (vpc-...)")
        return {"VPCRegion": opt_str(ctx.params, "vpc_region", max_len=32) or ctx.task.region, "VPCId": vpc_id}

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        r53 = ctx.client("route53")
        if operation == "discover":
            return simple_plan(ctx, None, ["route53:ListHostedZones", "route53:ListTagsForResources"])
        if operation == "create":
            name = self._zone_name(ctx)
            vpc = self._vpc(ctx)
            records = parse_records(ctx.params.get("records"), name)
            existing = self._task_zone(ctx, r53, name)
            calls = [] if existing else ["route53:CreateHostedZone", "route53:ChangeTagsForResource"]
            calls += ["route53:ChangeResourceRecordSets"] if records else []
            return {
                "operation": operation,
                "resource_id": existing,
                "calls": calls,
                "parameters": {
                    "zone_name": name,
                    "private": vpc is not None,
                    "caller_reference": ctx.task.id,
                    "records": [r.change() for r in records],
                    "tags": ctx.managed_tags(),
                    **({"replay": True} if existing else {}),
                },
            }
        zone_id = self.resource_id(ctx)
        outcome = self.managed_status(ctx, zone_id)
        if operation == "update":
            records, comment, tags = self._update_settings(ctx, outcome.metadata["zone_name"])
            calls = ["route53:ChangeResourceRecordSets"] * bool(records)
            calls += ["route53:UpdateHostedZoneComment"] * (comment is not None)
            calls += ["route53:ChangeTagsForResource"] * bool(tags)
            parameters = {"records": [r.change() for r in records], "comment": comment, "tags": tags}
            return {"operation": operation, "resource_id": zone_id, "calls": calls, "parameters": parameters}
        removable = self._removable_records(r53, zone_id, outcome.metadata["zone_name"])
        calls = ["route53:ChangeResourceRecordSets"] * bool(removable) + ["route53:DeleteHostedZone"]
        return {
            "operation": operation,
            "resource_id": zone_id,
            "calls": calls,
            "parameters": {"records_to_delete": [f"{r['Name']} {r['Type']}" for r in removable]},
        }

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        name = self._zone_name(ctx)
        vpc = self._vpc(ctx)
        records = parse_records(ctx.params.get("records"), name)
        r53 = ctx.client("route53")
        zone_id = self._task_zone(ctx, r53, name)
        if zone_id is None:
            request: dict[str, Any] = {
                "Name": name,
                # The task id as caller reference: Route 53 refuses a second zone for the same reference.
                "CallerReference": ctx.task.id,
                "HostedZoneConfig": {
                    "Comment": opt_str(ctx.params, "comment", max_len=256) or f"Managed by Miyabi (task {ctx.task.id})",
                    "PrivateZone": vpc is not None,
                },
            }
            if vpc is not None:
                request["VPC"] = vpc
            try:
                zone_id = str(r53.create_hosted_zone(**request)["HostedZone"]["Id"]).rsplit("/", 1)[-1]
            except ClientError as exc:
                if error_code(exc) != "HostedZoneAlreadyExists":
                    raise aws_error(exc, f"create hosted zone {name}") from exc
                # Created by a concurrent run of this task: find it by its caller reference.
                zone_id = self._task_zone(ctx, r53, name)
                if zone_id is None:
                    raise ResourceConflict(
                        f"caller reference {ctx.task.id} was already used for a hosted zone other than {name}"
                    ) from exc
        else:
            self._check_owner(ctx, self.status(ctx, zone_id))
        # Route 53 has no tag-on-create: tag right away, so a replay after a failure below finds a managed zone.
        self.tag(ctx, zone_id, ctx.managed_tags())
        outcome = self.status(ctx, zone_id)
        if records:
            outcome.metadata["change"] = self._change(r53, zone_id, records, ctx.task.id)
        return outcome

    @staticmethod
    def _task_zone(ctx: ProviderContext, r53: Any, name: str) -> str | None:
        """The zone this task created earlier: same name and the task id as its caller reference."""
        try:
            zones = r53.list_hosted_zones_by_name(DNSName=name, MaxItems="100").get("HostedZones", [])
        except ClientError as exc:
            raise aws_error(exc, f"list hosted zones named {name}") from exc
        for zone in zones:
            if zone["Name"] == name and zone.get("CallerReference") == ctx.task.id:
                return str(zone["Id"]).rsplit("/", 1)[-1]
        return None

    @staticmethod
    def _check_owner(ctx: ProviderContext, outcome: ResourceOutcome) -> None:
        owner = outcome.tags.get(TASK_TAG)
        if owner not in (None, ctx.task.id):  # untagged: this task's own zone, before its first tagging
            raise ResourceConflict(f"hosted zone {outcome.id} belongs to task {owner}")

    @staticmethod
    def _change(r53: Any, zone_id: str, records: list[_Record], comment: str) -> dict[str, Any]:
        try:
            info = r53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": f"Miyabi task {comment}"[:256], "Changes": [r.change() for r in records]},
            )["ChangeInfo"]
        except ClientError as exc:
            if error_code(exc) == "InvalidChangeBatch":
                message = exc.response.get("Error", {}).get("Message", "")
                raise TaskAnalysisError(f"Route 53 rejected the records of zone {zone_id}: {message}") from exc
            raise aws_error(exc, f"change records of zone {zone_id}") from exc
        # PENDING until every Route 53 name server has the change (usually within a minute); not awaited.
        return {"id": str(info["Id"]).rsplit("/", 1)[-1], "status": info["Status"], "records": len(records)}

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        r53 = ctx.client("route53")
        try:
            response = r53.get_hosted_zone(Id=resource_id)
            tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=resource_id)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ResourceNotFound(f"hosted zone {resource_id} does not exist") from exc
            raise aws_error(exc, f"get hosted zone {resource_id}") from exc
        return self._outcome(response["HostedZone"], tag_dict(tags.get("ResourceTagSet", {}).get("Tags")), response)

    def _outcome(
        self, zone: dict[str, Any], tags: dict[str, str], response: dict[str, Any] | None = None
    ) -> ResourceOutcome:
        zone_id = str(zone["Id"]).rsplit("/", 1)[-1]
        config = zone.get("Config", {})
        metadata: dict[str, Any] = {
            "zone_name": zone["Name"],
            "private": bool(config.get("PrivateZone", False)),
            "comment": config.get("Comment", ""),
            "record_count": zone.get("ResourceRecordSetCount"),
            "caller_reference": zone.get("CallerReference"),
        }
        if response is not None:
            metadata["name_servers"] = response.get("DelegationSet", {}).get("NameServers", [])
        return ResourceOutcome(
            id=zone_id,
            arn=self._arn(zone_id),
            state=ResourceState.ACTIVE,
            ready=True,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update -------------------------------------------------------------------------------------------------

    @staticmethod
    def _update_settings(ctx: ProviderContext, zone_name: str) -> tuple[list[_Record], str | None, dict[str, str]]:
        records = parse_records(ctx.params.get("records"), zone_name)
        comment = opt_str(ctx.params, "comment", max_len=256)
        tags = requested_tag_update(ctx.params)
        if not records and comment is None and not tags:
            raise TaskAnalysisError("a hosted zone update needs at least one of the parameters: records, comment, tags")
        return records, comment, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        records, comment, tags = self._update_settings(ctx, outcome.metadata["zone_name"])
        r53 = ctx.client("route53")
        change = self._change(r53, resource_id, records, ctx.task.id) if records else None
        if comment is not None:
            try:
                r53.update_hosted_zone_comment(Id=resource_id, Comment=comment)
            except ClientError as exc:
                raise aws_error(exc, f"update comment of zone {resource_id}") from exc
        if tags:
            self.tag(ctx, resource_id, tags)
        result = self.status(ctx, resource_id)
        if change is not None:
            result.metadata["change"] = change
        return result

    # --- delete -------------------------------------------------------------------------------------------------

    @staticmethod
    def _removable_records(r53: Any, zone_id: str, zone_name: str) -> list[dict[str, Any]]:
        """Every record set but the apex SOA and NS, which Route 53 owns and deletes with the zone."""
        try:
            pages = r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
            sets = [s for page in pages for s in page.get("ResourceRecordSets", [])]
        except ClientError as exc:
            raise aws_error(exc, f"list records of zone {zone_id}") from exc
        return [s for s in sets if not (s["Type"] in ("SOA", "NS") and s["Name"] == zone_name)]

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        r53 = ctx.client("route53")
        removable = self._removable_records(r53, resource_id, outcome.metadata["zone_name"])
        try:
            # Route 53 refuses to delete a zone that still holds records; the zone is managed, so are its records.
            for start in range(0, len(removable), MAX_CHANGES):
                batch = removable[start : start + MAX_CHANGES]
                r53.change_resource_record_sets(
                    HostedZoneId=resource_id,
                    ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in batch]},
                )
            r53.delete_hosted_zone(Id=resource_id)
        except ClientError as exc:
            if error_code(exc) not in _NOT_FOUND:
                raise aws_error(exc, f"delete hosted zone {resource_id}") from exc
        return outcome.model_copy(
            update={
                "state": ResourceState.TERMINATED,
                "ready": True,
                "metadata": {**outcome.metadata, "deleted": True, "records_deleted": len(removable)},
            }
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        """Every hosted zone of the account (Route 53 is global: the task's region does not narrow it)."""
        r53 = ctx.client("route53")
        try:
            zones = [z for page in r53.get_paginator("list_hosted_zones").paginate() for z in page["HostedZones"]]
            tags: dict[str, dict[str, str]] = {}
            ids = [str(z["Id"]).rsplit("/", 1)[-1] for z in zones]
            for start in range(0, len(ids), 10):  # ListTagsForResources takes at most 10 ids
                sets = r53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=ids[start : start + 10])
                for tag_set in sets.get("ResourceTagSets", []):
                    tags[tag_set["ResourceId"]] = tag_dict(tag_set.get("Tags"))
        except ClientError as exc:
            raise aws_error(exc, "list hosted zones") from exc
        return [self._outcome(z, tags.get(str(z["Id"]).rsplit("/", 1)[-1], {})) for z in zones]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        try:
            ctx.client("route53").change_tags_for_resource(
                ResourceType="hostedzone", ResourceId=resource_id, AddTags=tag_list(tags)
            )
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ResourceNotFound(f"hosted zone {resource_id} does not exist") from exc
            raise aws_error(exc, f"tag hosted zone {resource_id}") from exc
