"""Least privilege for the network, storage, scaling and monitoring providers: managed policies, tag-conditioned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import Construct

from .functions import AgentFunctions
from .nag import acknowledge, acknowledge_indexes, rendered, wildcard
from .permissions import RESOURCE_STEPS
from .settings import TAG_KEY, TAG_VALUE
from .state import AgentState

MANAGED = {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": TAG_VALUE}}
REQUESTED = {"StringEquals": {f"aws:RequestTag/{TAG_KEY}": TAG_VALUE}}
DASHBOARD_PREFIX = "miyabi-"  # aws_agent.resources.cloudwatch.DASHBOARD_PREFIX: dashboards cannot carry tags
# EFS creates and deletes a mount target's network interface with the caller's permissions (forward access).
SNAPSHOTS = f"arn:{Aws.PARTITION}:ec2:*::snapshot/*"
VIA_EFS = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["elasticfilesystem.amazonaws.com"]}}


def _own(service: str, resource: str, *, region: str = "*") -> str:
    return f"arn:{Aws.PARTITION}:{service}:{region}:{Aws.ACCOUNT_ID}:{resource}"


def _statement(sid: str, actions: list[str], resources: list[str], conditions: Any = None) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)


def ec2_efs_statements() -> list[iam.PolicyStatement]:
    """VPC networks, EBS volumes, launch templates (for Auto Scaling) and EFS file systems."""
    ec2 = {
        kind: _own("ec2", f"{kind}/*")
        for kind in (
            "vpc",
            "subnet",
            "internet-gateway",
            "route-table",
            "volume",
            "launch-template",
            "instance",
            "network-interface",
            "security-group",
        )
    }
    file_systems = _own("elasticfilesystem", "file-system/*")
    return [
        _statement(
            "Ec2CreateTaggedOnly",
            [
                "ec2:CreateVpc",
                "ec2:CreateSubnet",
                "ec2:CreateInternetGateway",
                "ec2:CreateRouteTable",
                "ec2:CreateVolume",
                "ec2:CreateLaunchTemplate",
            ],
            [ec2[k] for k in ("vpc", "subnet", "internet-gateway", "route-table", "volume", "launch-template")],
            REQUESTED,
        ),
        # CreateSubnet / CreateRouteTable also authorize on the VPC they go into: only a managed VPC.
        _statement("Ec2BuildInManagedVpcs", ["ec2:CreateSubnet", "ec2:CreateRouteTable"], [ec2["vpc"]], MANAGED),
        _statement(
            "Ec2TagOnCreate",
            ["ec2:CreateTags"],
            [ec2[k] for k in ("vpc", "subnet", "internet-gateway", "route-table", "volume", "launch-template")],
            {
                "StringEquals": {
                    "ec2:CreateAction": [
                        "CreateVpc",
                        "CreateSubnet",
                        "CreateInternetGateway",
                        "CreateRouteTable",
                        "CreateVolume",
                        "CreateLaunchTemplate",
                    ]
                }
            },
        ),
        _statement(
            "Ec2ChangeManagedOnly",
            [
                "ec2:CreateTags",
                "ec2:ModifyVpcAttribute",
                "ec2:AttachInternetGateway",
                "ec2:DetachInternetGateway",
                "ec2:CreateRoute",
                "ec2:AssociateRouteTable",
                "ec2:DisassociateRouteTable",
                "ec2:DeleteSubnet",
                "ec2:DeleteRouteTable",
                "ec2:DeleteInternetGateway",
                "ec2:DeleteVpc",
                "ec2:ModifyVolume",
                "ec2:DetachVolume",
                "ec2:DeleteVolume",
                "ec2:DeleteLaunchTemplate",
            ],
            [ec2[k] for k in ("vpc", "subnet", "internet-gateway", "route-table", "volume", "launch-template")],
            MANAGED,
        ),
        # CreateVolume from a snapshot also authorizes on the snapshot (any owner: public or shared snapshots).
        _statement("Ec2VolumesFromSnapshots", ["ec2:CreateVolume"], [SNAPSHOTS]),
        # DetachVolume also authorizes on the instance; the volume side above already requires the managed tag.
        _statement("Ec2DetachFromInstances", ["ec2:DetachVolume"], [ec2["instance"]]),
        _statement(
            "Ec2Read",
            [
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeRouteTables",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeVolumes",
                "ec2:DescribeVolumesModifications",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeSecurityGroups",
            ],
            ["*"],
        ),
        _statement(
            "EfsCreateTaggedOnly",
            ["elasticfilesystem:CreateFileSystem", "elasticfilesystem:TagResource"],
            [file_systems],
            REQUESTED,
        ),
        _statement(
            "EfsChangeManagedOnly",
            [
                "elasticfilesystem:CreateMountTarget",
                "elasticfilesystem:DeleteMountTarget",
                "elasticfilesystem:PutLifecycleConfiguration",
                "elasticfilesystem:UpdateFileSystem",
                "elasticfilesystem:DeleteFileSystem",
                "elasticfilesystem:TagResource",
            ],
            [file_systems],
            MANAGED,
        ),
        _statement(
            "EfsRead",
            [
                "elasticfilesystem:DescribeFileSystems",
                "elasticfilesystem:DescribeMountTargets",
                "elasticfilesystem:DescribeLifecycleConfiguration",
            ],
            ["*"],
        ),
        # Mount target network interfaces: only in managed subnets, and only when EFS makes the call.
        _statement(
            "EfsMountTargetInterfacesInManagedSubnets", ["ec2:CreateNetworkInterface"], [ec2["subnet"]], MANAGED
        ),
        _statement(
            "EfsMountTargetInterfaces",
            ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"],
            [ec2["network-interface"], ec2["security-group"]],
            VIA_EFS,
        ),
    ]


def scaling_monitoring_statements() -> list[iam.PolicyStatement]:
    """Auto Scaling groups, load balancers, CloudWatch alarms and dashboards, X-Ray groups and sampling rules."""
    groups = _own("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")
    elb = {
        "lb": _own("elasticloadbalancing", "loadbalancer/app/*/*"),
        "tg": _own("elasticloadbalancing", "targetgroup/*/*"),
        "listener": _own("elasticloadbalancing", "listener/app/*/*/*"),
    }
    alarms = _own("cloudwatch", "alarm:*")
    dashboards = f"arn:{Aws.PARTITION}:cloudwatch::{Aws.ACCOUNT_ID}:dashboard/{DASHBOARD_PREFIX}*"
    xray = [_own("xray", "group/*/*"), _own("xray", "sampling-rule/*")]
    return [
        _statement(
            "AutoScalingCreateTaggedOnly",
            ["autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags"],
            [groups],
            REQUESTED,
        ),
        _statement(
            "AutoScalingChangeManagedOnly",
            [
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
            ],
            [groups],
            MANAGED,
        ),
        _statement("AutoScalingRead", ["autoscaling:DescribeAutoScalingGroups"], ["*"]),
        _statement(
            "ElbCreateTaggedOnly",
            [
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:AddTags",
            ],
            [elb["lb"], elb["tg"]],
            REQUESTED,
        ),
        _statement(
            "ElbListenersOnManagedBalancers",
            ["elasticloadbalancing:CreateListener"],
            [elb["lb"]],
            MANAGED,
        ),
        _statement(
            "ElbTagListenersOnCreate",
            ["elasticloadbalancing:AddTags"],
            [elb["listener"]],
            {"StringEquals": {"elasticloadbalancing:CreateAction": "CreateListener"}},
        ),
        _statement(
            "ElbChangeManagedOnly",
            [
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:AddTags",
            ],
            [elb["lb"], elb["tg"], elb["listener"]],
            MANAGED,
        ),
        _statement(
            "ElbRead",
            [
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeTags",
            ],
            ["*"],
        ),
        _statement(
            "CloudWatchAlarmsCreateTagged", ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"], [alarms], REQUESTED
        ),
        _statement(
            "CloudWatchAlarmsChangeManagedOnly",
            ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"],
            [alarms],
            MANAGED,
        ),
        # Dashboards cannot be tagged: the agent may write only those with its name prefix.
        _statement(
            "CloudWatchOwnDashboards",
            ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard"],
            [dashboards],
        ),
        _statement(
            "CloudWatchRead",
            ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:ListDashboards"],
            ["*"],
        ),
        _statement(
            "XRayCreateTaggedOnly", ["xray:CreateGroup", "xray:CreateSamplingRule", "xray:TagResource"], xray, REQUESTED
        ),
        _statement(
            "XRayChangeManagedOnly",
            [
                "xray:UpdateGroup",
                "xray:DeleteGroup",
                "xray:UpdateSamplingRule",
                "xray:DeleteSamplingRule",
                "xray:TagResource",
            ],
            xray,
            MANAGED,
        ),
        _statement(
            "XRayRead", ["xray:GetGroup", "xray:GetGroups", "xray:GetSamplingRules", "xray:ListTagsForResource"], ["*"]
        ),
    ]


class NetProviderPolicies(Construct):
    """Two managed policies (each under IAM's 6,144-character limit) on the roles of the resource steps.

    Also lets Execute and CheckStatus write resource records: a cascade delete sets each dependent it deletes to
    Terminated (aws_agent.pipeline.dependencies).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: AgentFunctions | None = None,
        state: AgentState | None = None,
        roles: Sequence[iam.IRole] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        steps = [functions[step] for step in RESOURCE_STEPS] if functions is not None else []
        roles = [*roles, *(fn.role for fn in steps if fn.role is not None)]
        self.policies = [
            iam.ManagedPolicy(self, "NetworkStorage", statements=ec2_efs_statements(), roles=roles),
            iam.ManagedPolicy(self, "ScalingMonitoring", statements=scaling_monitoring_statements(), roles=roles),
        ]
        for policy in self.policies:
            acknowledge(policy, _FINDINGS)
        if functions is None or state is None:
            return  # a member account's role: no agent state there
        for step in ("execute", "status"):
            function = functions[step]
            state.resources.grant_read_write_data(function)
            state.agents.grant_write_data(function)
            acknowledge_indexes(
                function.role,
                [state.agents],
                "The L2 table grant covers the agents table's GSI (<table arn>/index/*); a cascade delete writes "
                "ServiceAgent records, not the index.",
            )


_FINDINGS: dict[str, str] = {
    wildcard("*"): "Describe/List/Get calls of EC2, EFS, Auto Scaling, ELBv2, CloudWatch and X-Ray used by the "
    "providers support no resource-level permissions (they list or filter the account's resources).",
    wildcard(rendered(_own("ec2", "vpc/*"))): "Any VPC of this account, but creation needs the MiyabiManaged=true "
    "request tag and every change or delete needs the MiyabiManaged=true resource tag (conditions).",
    wildcard(rendered(_own("ec2", "subnet/*"))): "Subnets: created only with the MiyabiManaged=true request tag, "
    "changed/deleted only with the resource tag; mount-target interfaces only in managed subnets.",
    wildcard(rendered(_own("ec2", "internet-gateway/*"))): "Internet gateways: created with the MiyabiManaged=true "
    "request tag, detached/deleted only with the resource tag.",
    wildcard(rendered(_own("ec2", "route-table/*"))): "Route tables: created with the MiyabiManaged=true request tag, "
    "changed/deleted only with the resource tag.",
    wildcard(rendered(_own("ec2", "volume/*"))): "EBS volumes: tag-conditioned create, modify, detach and delete.",
    wildcard(rendered(_own("ec2", "launch-template/*"))): "Launch templates of Auto Scaling groups: tag-conditioned.",
    wildcard(rendered(SNAPSHOTS)): "Reading a snapshot (of any owner) to create a volume from it; the new volume "
    "itself needs the MiyabiManaged=true request tag (the other statement).",
    wildcard(rendered(_own("ec2", "instance/*"))): "DetachVolume also authorizes on the instance; the volume it "
    "detaches must carry MiyabiManaged=true (the other statement), so only managed volumes are detached.",
    wildcard(rendered(_own("ec2", "network-interface/*"))): "Mount target interfaces, only when EFS makes the call "
    "(aws:CalledVia elasticfilesystem.amazonaws.com) on a managed file system.",
    wildcard(rendered(_own("ec2", "security-group/*"))): "Security groups a mount target interface joins, only through "
    "EFS (aws:CalledVia).",
    wildcard(rendered(_own("elasticfilesystem", "file-system/*"))): "EFS file systems: create with the "
    "MiyabiManaged=true request tag, every change or delete with the resource tag.",
    wildcard(rendered(_own("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*"))): "Auto Scaling groups: "
    "tag-conditioned create, capacity change and (force) delete.",
    wildcard(rendered(_own("elasticloadbalancing", "loadbalancer/app/*/*"))): "Application load balancers: "
    "tag-conditioned create, listener creation and delete.",
    wildcard(rendered(_own("elasticloadbalancing", "targetgroup/*/*"))): "Target groups of the agent's load balancers: "
    "created with the request tag, changed/deleted with the resource tag.",
    wildcard(rendered(_own("elasticloadbalancing", "listener/app/*/*/*"))): "Listeners: tagged at creation, changed "
    "and deleted only with the MiyabiManaged=true resource tag.",
    wildcard(rendered(_own("cloudwatch", "alarm:*"))): "CloudWatch alarms: created with the request tag, changed "
    "and deleted with the resource tag.",
    wildcard(rendered(f"arn:{Aws.PARTITION}:cloudwatch::{Aws.ACCOUNT_ID}:dashboard/{DASHBOARD_PREFIX}*")): "Only "
    "dashboards named with the agent's prefix (dashboards cannot be tagged).",
    wildcard(rendered(_own("xray", "group/*/*"))): "X-Ray groups: tag-conditioned create, update and delete.",
    wildcard(rendered(_own("xray", "sampling-rule/*"))): "X-Ray sampling rules: created with the "
    "MiyabiManaged=true request tag, changed/deleted with the resource tag.",
}
