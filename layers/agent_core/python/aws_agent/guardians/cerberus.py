"""Cerberus (security): no public buckets, no administrative ports open to the world, no unencrypted storage."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..basics import AwsResourceType, AwsTaskType
from .context import GuardContext
from .policy import CerberusPolicy, GuardianDecision

GUARDIAN = "Cerberus"
# Parameter names that switch storage encryption, across the resource types (S3, EBS, RDS, EFS, DynamoDB).
ENCRYPTION_KEYS = ("encryption", "encrypted", "storage_encrypted", "sse_enabled", "server_side_encryption")
_OFF = frozenset({"false", "none", "off", "disabled", "no", "0"})
# Parameters that hold ingress rules (security groups of EC2/VPC/RDS tasks).
RULE_KEYS = ("ingress", "ingress_rules", "security_group_rules", "rules")
# S3's four public-access-block switches; turning any off opens the door to public ACLs or policies.
PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def is_off(value: Any) -> bool:
    """An explicit "no" (False, "none", "off", ...); absent (None) means the provider's encrypted default."""
    if value is False:
        return True
    return isinstance(value, str) and value.strip().lower() in _OFF


def public_bucket_reasons(params: dict[str, Any], policy: CerberusPolicy) -> list[str]:
    reasons = []
    acl = str(params.get("acl") or "").lower()
    if acl in policy.public_acls:
        reasons.append(f"S3 ACL {acl!r} makes the bucket public")
    block = params.get("public_access_block", params.get("block_public_access"))
    if is_off(block):
        reasons.append("the S3 public access block must stay on")
    elif isinstance(block, dict):
        off = [key for key in PUBLIC_ACCESS_BLOCK if block.get(key) is False]
        if off:
            reasons.append(f"the S3 public access block must stay on ({', '.join(off)} off)")
    if policy_is_public(params.get("policy") or params.get("bucket_policy")):
        reasons.append("the bucket policy grants access to everyone (Principal '*')")
    return reasons


def policy_is_public(document: Any) -> bool:
    """An Allow statement for Principal "*" (or {"AWS": "*"}) without a condition."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))):
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def open_port_approvals(rules: Iterable[Any], policy: CerberusPolicy) -> list[str]:
    """World-open ingress on a port that is neither administrative (denied) nor public web (fine): ask a human."""
    reasons = []
    for rule in rules:
        if not isinstance(rule, dict) or not _cidrs(rule) & set(policy.open_cidrs):
            continue
        low, high = _port_range(rule)
        if any(low <= port <= high for port in policy.admin_ports):
            continue  # denied by open_admin_port_reasons
        if not (low == high and low in policy.public_ports):
            reasons.append(f"ingress from the world on port(s) {low}-{high}: not a public web port")
    return reasons


def open_admin_port_reasons(rules: Iterable[Any], policy: CerberusPolicy) -> list[str]:
    """Rules that open an administrative port (or all ports) to 0.0.0.0/0 or ::/0."""
    reasons = []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        cidrs = _cidrs(rule)
        open_to = sorted(cidrs & set(policy.open_cidrs))
        if not open_to:
            continue
        low, high = _port_range(rule)
        exposed = [port for port in policy.admin_ports if low <= port <= high]
        if exposed:
            ports = "all ports" if (low, high) == (0, 65535) else ", ".join(str(p) for p in exposed)
            reasons.append(f"ingress from {' and '.join(open_to)} on administrative port(s) {ports}")
    return reasons


def _cidrs(rule: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for key in ("cidr", "cidr_ip", "cidr_ipv6", "CidrIp", "CidrIpv6", "source"):
        if isinstance(rule.get(key), str):
            found.add(rule[key])
    for key in ("cidrs", "cidr_blocks", "ipv6_cidr_blocks"):
        found.update(str(c) for c in rule.get(key) or [])
    for key, inner in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")):
        found.update(str(r.get(inner)) for r in rule.get(key) or [] if isinstance(r, dict))
    return found


def _port_range(rule: dict[str, Any]) -> tuple[int, int]:
    """(from, to); protocol -1 / "all" or no port at all means every port."""
    if str(rule.get("protocol", rule.get("IpProtocol", "tcp"))) in ("-1", "all"):
        return 0, 65535
    port = rule.get("port")
    low = rule.get("from_port", rule.get("FromPort", port))
    high = rule.get("to_port", rule.get("ToPort", port if port is not None else low))
    if low is None:
        return 0, 65535
    return int(low), int(high if high is not None else low)


def unencrypted_reasons(params: dict[str, Any], resource_type: AwsResourceType | None) -> list[str]:
    what = resource_type.value if resource_type else "storage"
    reasons = [
        f"{what} must be encrypted ({key}={params[key]!r})" for key in ENCRYPTION_KEYS if is_off(params.get(key))
    ]
    for device in params.get("block_device_mappings") or params.get("volumes") or []:
        ebs = device.get("ebs", device.get("Ebs", device)) if isinstance(device, dict) else {}
        if isinstance(ebs, dict) and is_off(ebs.get("encrypted", ebs.get("Encrypted"))):
            reasons.append(f"EBS volume {device.get('device_name', device.get('DeviceName', ''))} must be encrypted")
    return reasons


def check(ctx: GuardContext) -> GuardianDecision:
    """Cerberus on a create or update: deny what weakens security; world-open non-web ports need a human."""
    task = ctx.task
    if task.task_type not in (AwsTaskType.CREATE_RESOURCE, AwsTaskType.UPDATE_RESOURCE):
        return GuardianDecision.of(GUARDIAN, [])
    policy = ctx.policies.cerberus
    params = ctx.params
    denials: list[str] = []
    approvals: list[str] = []
    if task.resource_type is AwsResourceType.S3_BUCKET:
        denials += public_bucket_reasons(params, policy)
    for key in RULE_KEYS:
        rules = params.get(key)
        if isinstance(rules, list):
            denials += open_admin_port_reasons(rules, policy)
            approvals += open_port_approvals(rules, policy)
    if policy.require_encryption:
        denials += unencrypted_reasons(params, task.resource_type)
    return GuardianDecision.of(GUARDIAN, denials, approvals)
