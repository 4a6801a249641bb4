"""Cerberus' watch: CloudTrail "AWS API Call via CloudTrail" creation events → flag unmanaged or non-compliant ones.

It never acts on what it flags: it records a finding (Findings table) and emits `ResourceFlagged`."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code, translate
from ..errors import TransientAwsError
from ..events import AGENT_SOURCE
from ..guardian_events import RESOURCE_FLAGGED, ResourceFlag
from ..registry import to_item
from ..resources.base import MANAGED_TAG
from .cerberus import ENCRYPTION_KEYS, is_off, open_admin_port_reasons
from .policy import CerberusPolicy

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# The creation (and opening) calls Cerberus watches, by event source; the rule's pattern is built from this.
WATCHED_CALLS: dict[str, tuple[str, ...]] = {
    "ec2.amazonaws.com": ("RunInstances", "CreateVolume", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress"),
    "s3.amazonaws.com": ("CreateBucket", "PutBucketAcl", "PutBucketPolicy", "DeletePublicAccessBlock"),
    "rds.amazonaws.com": ("CreateDBInstance", "CreateDBCluster"),
    "dynamodb.amazonaws.com": ("CreateTable",),
    "elasticfilesystem.amazonaws.com": ("CreateFileSystem",),
    "lambda.amazonaws.com": ("CreateFunction20150331",),
}
# The agent's own calls carry session names "miyabi-<task id>" (aws.SessionFactory) or the step's Lambda role.
AGENT_SESSION_PREFIX = "miyabi-"
_PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")


def event_pattern() -> dict[str, Any]:
    sources = sorted({f"aws.{source.split('.')[0]}" for source in WATCHED_CALLS})
    return {
        "source": sources,
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {
            "eventSource": sorted(WATCHED_CALLS),
            "eventName": sorted({name for names in WATCHED_CALLS.values() for name in names}),
        },
    }


def _tags(request: dict[str, Any]) -> dict[str, str]:
    """Tags given in the call: EC2 tagSpecificationSet, RDS/DynamoDB Tags, Lambda tags, S3 has none at create."""
    found: dict[str, str] = {}
    for spec in (request.get("tagSpecificationSet") or {}).get("items", []):
        for tag in spec.get("tags", []):
            found[str(tag.get("key"))] = str(tag.get("value"))
    for tag in request.get("tags") or request.get("Tags") or []:
        if isinstance(tag, dict):
            found[str(tag.get("key", tag.get("Key")))] = str(tag.get("value", tag.get("Value")))
    if isinstance(request.get("tags"), dict):
        found.update({str(k): str(v) for k, v in request["tags"].items()})
    return found


def resource_ids(name: str, request: dict[str, Any], response: dict[str, Any]) -> list[str]:
    if name == "RunInstances":
        return [i["instanceId"] for i in (response.get("instancesSet") or {}).get("items", []) if "instanceId" in i]
    for key in ("volumeId", "groupId", "bucketName", "dBInstanceIdentifier", "dBClusterIdentifier",
                "tableName", "fileSystemId", "functionName"):  # fmt: skip
        for source in (response, request, (response.get("tableDescription") or {})):
            if isinstance(source, dict) and source.get(key):
                return [str(source[key])]
    return []


def compliance_issues(name: str, request: dict[str, Any], policy: CerberusPolicy) -> list[str]:
    """What Cerberus would have denied, read from the call's parameters."""
    issues: list[str] = []
    if name == "AuthorizeSecurityGroupIngress" or name == "CreateSecurityGroup":
        rules = []
        for perm in (request.get("ipPermissions") or {}).get("items", []):
            cidrs = [r.get("cidrIp") for r in (perm.get("ipRanges") or {}).get("items", [])]
            cidrs += [r.get("cidrIpv6") for r in (perm.get("ipv6Ranges") or {}).get("items", [])]
            rules.append({"protocol": perm.get("ipProtocol"), "from_port": perm.get("fromPort"),
                          "to_port": perm.get("toPort"), "cidrs": [c for c in cidrs if c]})  # fmt: skip
        issues += open_admin_port_reasons(rules, policy)
    if name == "CreateVolume" and not request.get("encrypted"):
        issues.append("EBS volume created unencrypted")
    if name in ("CreateDBInstance", "CreateDBCluster") and not request.get("storageEncrypted"):
        issues.append("RDS storage created unencrypted")
    if name == "CreateFileSystem" and not request.get("encrypted"):
        issues.append("EFS file system created unencrypted")
    if name in ("CreateBucket", "PutBucketAcl") and str(request.get("x-amz-acl", "")).lower() in _PUBLIC_ACLS:
        issues.append(f"S3 bucket ACL {request['x-amz-acl']} is public")
    if name == "DeletePublicAccessBlock":
        issues.append("the S3 public access block was removed")
    if name == "PutBucketPolicy" and '"*"' in str(request.get("bucketPolicy", "")).replace("'", '"'):
        issues.append("the bucket policy may grant access to everyone (Principal '*')")
    if name == "CreateTable" and is_off((request.get("sSESpecification") or {}).get("enabled", None)):
        issues.append("DynamoDB table created with SSE off")
    issues += [f"{key} off" for key in ENCRYPTION_KEYS if name.startswith("Create") and is_off(request.get(key))]
    return issues


def inspect(event: dict[str, Any], policy: CerberusPolicy) -> ResourceFlag | None:
    """A ResourceFlag for an unmanaged or non-compliant creation, None for a compliant managed one."""
    detail = event.get("detail") or {}
    name = str(detail.get("eventName", ""))
    request = detail.get("requestParameters") or {}
    response = detail.get("responseElements") or {}
    actor = (detail.get("userIdentity") or {}).get("arn")
    session = str(actor or "").rsplit("/", 1)[-1]
    managed = _tags(request).get(MANAGED_TAG) == "true" or session.startswith(AGENT_SESSION_PREFIX)
    issues = compliance_issues(name, request, policy)
    if not managed:
        issues.insert(0, f"unmanaged: created outside the agent (no {MANAGED_TAG}=true)")
    if not issues:
        return None
    account = str(detail.get("recipientAccountId") or event.get("account") or "")
    key = str(detail.get("eventID") or event.get("id") or "")
    return ResourceFlag(
        finding_id=f"{account}#{hashlib.sha256(key.encode()).hexdigest()[:16]}",
        account_id=account,
        region=str(detail.get("awsRegion") or event.get("region") or ""),
        event_name=name,
        event_source=str(detail.get("eventSource", "")),
        resource_ids=resource_ids(name, request, response),
        managed=managed,
        issues=issues,
        actor=actor,
        event_time=detail.get("eventTime"),
    )


def record(dynamodb: Any, table: str, events: Any, bus: str, flag: ResourceFlag) -> bool:
    """Store the finding, then emit ResourceFlagged once: a redelivered CloudTrail event is not announced twice,
    and one whose first announcement failed (the rule retries it) is announced on redelivery."""
    key = to_item({"finding_id": flag.finding_id})
    item = {**flag.model_dump(mode="json", exclude_none=True), "announced": False}
    try:
        dynamodb.put_item(TableName=table, Item=to_item(item), ConditionExpression="attribute_not_exists(finding_id)")
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise translate(exc, f"record finding {flag.finding_id}") from exc
        stored = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
        if stored.get("announced", {}).get("BOOL", True):
            return False
    try:
        response = events.put_events(
            Entries=[{"Source": AGENT_SOURCE, "DetailType": RESOURCE_FLAGGED,
                      "Detail": flag.model_dump_json(exclude_none=True), "EventBusName": bus}]
        )  # fmt: skip
    except ClientError as exc:
        raise translate(exc, f"announce finding {flag.finding_id}") from exc
    if response.get("FailedEntryCount"):
        raise TransientAwsError(f"put_events failed: {response['Entries'][0].get('ErrorCode')}")
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET announced = :t",
                         ExpressionAttributeValues={":t": {"BOOL": True}})  # fmt: skip
    return True
