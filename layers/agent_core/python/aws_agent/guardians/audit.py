"""SecurityAudit: Cerberus' read-only checks over one account x region; findings, never changes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from ..aws import error_code, translate
from .cerberus import open_admin_port_reasons, policy_is_public
from .policy import CerberusPolicy

CHECKS = (
    "public-bucket",
    "open-security-group",
    "unencrypted-volume",
    "unencrypted-database",
    "cloudtrail",
    "guardduty",
)
_PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
MAX_FINDINGS_IN_RESULT = 200  # the task's result travels in Step Functions state (256 KiB)
ClientFor = Callable[[str], Any]


class SecurityFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: str
    severity: str  # "high" | "medium"
    resource_id: str
    account_id: str
    region: str
    message: str


def audit(client: ClientFor, account_id: str, region: str, policy: CerberusPolicy) -> dict[str, Any]:
    """Run every check; the result (findings, counts per check, compliant) is what the task returns."""
    findings: list[SecurityFinding] = []

    def found(check: str, severity: str, resource_id: str, message: str) -> None:
        findings.append(SecurityFinding(check=check, severity=severity, resource_id=resource_id,
                                        account_id=account_id, region=region, message=message))  # fmt: skip

    for bucket, why in public_buckets(client("s3"), region):
        found("public-bucket", "high", bucket, why)
    for group, why in open_security_groups(client("ec2"), policy):
        found("open-security-group", "high", group, why)
    for volume in unencrypted_volumes(client("ec2")):
        found("unencrypted-volume", "medium", volume, "EBS volume is not encrypted")
    for database in unencrypted_databases(client("rds")):
        found("unencrypted-database", "medium", database, "RDS storage is not encrypted")
    if not cloudtrail_logging(client("cloudtrail"), region):
        found("cloudtrail", "high", f"{account_id}/{region}", "no CloudTrail trail is logging this region")
    if not guardduty_enabled(client("guardduty")):
        found("guardduty", "high", f"{account_id}/{region}", "GuardDuty is not enabled in this region")
    counts = Counter(f.check for f in findings)
    return {
        "operation": "security-audit",
        "checks": list(CHECKS),
        "compliant": not findings,
        "counts": {check: counts.get(check, 0) for check in CHECKS},
        "findings": [f.model_dump() for f in findings[:MAX_FINDINGS_IN_RESULT]],
        "truncated": len(findings) > MAX_FINDINGS_IN_RESULT,
    }


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        raise translate(exc, what) from exc


def public_buckets(s3: Any, region: str) -> list[tuple[str, str]]:
    """Buckets homed in the region whose ACL grants everyone, or whose policy allows Principal '*'."""
    out = []
    for bucket in _call("list buckets", s3.list_buckets).get("Buckets", []):
        name = bucket["Name"]
        location = _call(f"locate bucket {name}", s3.get_bucket_location, Bucket=name).get("LocationConstraint")
        if (location or "us-east-1") != region:
            continue
        acl = _call(f"read the ACL of {name}", s3.get_bucket_acl, Bucket=name)
        public = sorted({g["Grantee"].get("URI", "").rsplit("/", 1)[-1] for g in acl.get("Grants", [])
                         if g.get("Grantee", {}).get("URI") in _PUBLIC_GROUPS})  # fmt: skip
        if public:
            out.append((name, f"the bucket ACL grants {', '.join(public)}"))
            continue
        try:
            document = s3.get_bucket_policy(Bucket=name)["Policy"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucketPolicy":
                raise translate(exc, f"read the policy of {name}") from exc
            continue
        if policy_is_public(json.loads(document)):
            out.append((name, "the bucket policy allows Principal '*'"))
    return out


def open_security_groups(ec2: Any, policy: CerberusPolicy) -> list[tuple[str, str]]:
    out = []
    for page in ec2.get_paginator("describe_security_groups").paginate():
        for group in page.get("SecurityGroups", []):
            reasons = open_admin_port_reasons(group.get("IpPermissions", []), policy)
            if reasons:
                out.append((group["GroupId"], "; ".join(reasons)))
    return out


def unencrypted_volumes(ec2: Any) -> list[str]:
    pages = ec2.get_paginator("describe_volumes").paginate(Filters=[{"Name": "encrypted", "Values": ["false"]}])
    return [v["VolumeId"] for page in pages for v in page.get("Volumes", []) if not v.get("Encrypted")]


def unencrypted_databases(rds: Any) -> list[str]:
    pages = rds.get_paginator("describe_db_instances").paginate()
    return [d["DBInstanceIdentifier"] for p in pages for d in p.get("DBInstances", []) if not d.get("StorageEncrypted")]


def cloudtrail_logging(cloudtrail: Any, region: str) -> bool:
    """True when a trail covering this region (its own or multi-region) is logging."""
    trails = _call("describe trails", cloudtrail.describe_trails, includeShadowTrails=True).get("trailList", [])
    for trail in trails:
        if trail.get("IsMultiRegionTrail") or trail.get("HomeRegion") == region:
            status = _call("read trail status", cloudtrail.get_trail_status, Name=trail["TrailARN"])
            if status.get("IsLogging"):
                return True
    return False


def guardduty_enabled(guardduty: Any) -> bool:
    for detector_id in _call("list detectors", guardduty.list_detectors).get("DetectorIds", []):
        if _call("read detector", guardduty.get_detector, DetectorId=detector_id).get("Status") == "ENABLED":
            return True
    return False


def security_audit(rt: Any, task: Any) -> dict[str, Any]:
    """Execute's SecurityAudit: the task's account and region, through the member role like any other task.

    The findings go on the task record (`audit`) and, through Complete, into AwsTaskCompleted's `result`."""
    from ..aws import Target
    from .policy import load_policies

    target = Target(task.account_id, task.region)

    def client(service: str) -> Any:
        return rt.sessions.client(service, target, session_name=f"miyabi-{task.id}")

    result = audit(client, task.account_id, task.region, load_policies(rt.settings.config).cerberus)
    rt.tasks.annotate(task.id, {"audit": {k: result[k] for k in ("compliant", "counts", "findings", "truncated")}})
    return {**result, "dry_run": False, "ready": True, "next": "complete"}
