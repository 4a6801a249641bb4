"""VPC networks: a VPC with public and private subnets across AZs, an internet gateway and a public route table."""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceConflict, ResourceNotFound, TaskAnalysisError, TransientAwsError
from ..model import AwsResourceType, ResourceState
from ._common import (
    aws_error,
    aws_id,
    operation_of,
    opt_bool,
    opt_int,
    opt_str,
    partition_for,
    requested_tag_update,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import VPC_ID, call, paged
from .base import MANAGED_TAG, TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

ROLE_TAG = "MiyabiNetworkRole"  # public / private on subnets, public on the route table
DEFAULT_CIDR = "10.0.0.0/16"
VPC_MISSING = ("InvalidVpcID.NotFound",)


def subnet_layout(cidr: str, zones: list[str], public: bool, private: bool) -> list[tuple[str, str, str]]:
    """(role, zone, cidr) per subnet: the VPC's range split evenly, public subnets first, one of each per AZ."""
    network = ipaddress.ip_network(cidr)
    roles = [r for r, wanted in (("public", public), ("private", private)) if wanted]
    count = len(roles) * len(zones)
    prefix = network.prefixlen + max(1, math.ceil(math.log2(count)))
    if prefix > 28:
        raise TaskAnalysisError(f"CIDR {cidr} is too small for {count} subnets of at least /28")
    blocks = network.subnets(new_prefix=prefix)
    return [(role, zone, str(next(blocks))) for role in roles for zone in zones]


class VpcNetworkProvider(ResourceProvider):
    resource_type = AwsResourceType.VPC_NETWORK

    def resource_id(self, ctx: ProviderContext) -> str:
        return aws_id(ctx, "vpc_id", max_len=32, pattern=VPC_ID, shape="vpc-...")

    @staticmethod
    def _settings(ctx: ProviderContext) -> tuple[str, int, bool, bool]:
        cidr = opt_str(ctx.params, "cidr", max_len=18) or DEFAULT_CIDR
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise TaskAnalysisError(f"parameter 'cidr' {cidr!r} is not an IPv4 network: {exc}") from exc
        if network.version != 4 or not 16 <= network.prefixlen <= 24:
            raise TaskAnalysisError(f"parameter 'cidr' must be an IPv4 block between /16 and /24, got {cidr}")
        az_count = opt_int(ctx.params, "az_count", low=1, high=6) or 2
        public = opt_bool(ctx.params, "public")
        private = opt_bool(ctx.params, "private")
        public, private = (True if public is None else public), (True if private is None else private)
        if not (public or private):
            raise TaskAnalysisError("a VPC network needs public or private subnets (parameters 'public'/'private')")
        return str(network), az_count, public, private

    @staticmethod
    def _zones(ec2: Any, count: int, region: str) -> list[str]:
        zones = call(
            ec2.describe_availability_zones,
            "describe availability zones",
            Filters=[
                {"Name": "state", "Values": ["available"]},
                {"Name": "zone-type", "Values": ["availability-zone"]},
            ],
        ).get("AvailabilityZones", [])
        names = sorted(z["ZoneName"] for z in zones)
        if len(names) < count:
            raise TaskAnalysisError(f"parameter 'az_count' is {count} but {region} offers {len(names)} zones")
        return names[:count]

    # --- plan / create ----------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["ec2:DescribeVpcs", "ec2:DescribeSubnets"])
        if operation == "create":
            cidr, az_count, public, private = self._settings(ctx)
            zones = self._zones(ctx.client("ec2"), az_count, ctx.task.region)
            layout = subnet_layout(cidr, zones, public, private)
            calls = ["ec2:CreateVpc", "ec2:ModifyVpcAttribute"] + ["ec2:CreateSubnet"] * len(layout)
            if public:
                calls += ["ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:CreateRouteTable"]
                calls += ["ec2:CreateRoute"] + ["ec2:AssociateRouteTable"] * len(zones)
            subnets = [{"role": r, "zone": z, "cidr": c} for r, z, c in layout]
            return simple_plan(ctx, None, calls, cidr=cidr, subnets=subnets, tags=ctx.managed_tags())
        vpc_id = self.resource_id(ctx)
        outcome = self.managed_status(ctx, vpc_id)
        if operation == "delete":
            calls = ["ec2:DeleteSubnet"] * len(outcome.metadata["subnet_ids"]) + ["ec2:DeleteRouteTable"] * len(
                outcome.metadata["route_table_ids"]
            )
            if outcome.metadata.get("internet_gateway_id"):
                calls += ["ec2:DetachInternetGateway", "ec2:DeleteInternetGateway"]
            return simple_plan(ctx, vpc_id, [*calls, "ec2:DeleteVpc"])
        tags = requested_tag_update(ctx.params)
        return simple_plan(ctx, vpc_id, ["ec2:CreateTags"] if tags else [], tags=tags)

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        cidr, az_count, public, private = self._settings(ctx)
        ec2 = ctx.client("ec2")
        tags = ctx.managed_tags()
        name = opt_str(ctx.params, "name", max_len=200)
        if name:
            tags["Name"] = name
        # Every piece is looked up before it is made, so a replay (or a retry after a partial failure) completes the
        # same network instead of building a second one.
        vpc = self._task_vpc(ctx, ec2)
        if vpc is None:
            vpc = call(
                ec2.create_vpc,
                f"create VPC {cidr}",
                CidrBlock=cidr,
                TagSpecifications=[{"ResourceType": "vpc", "Tags": tag_list(tags)}],
            )["Vpc"]
        vpc_id = vpc["VpcId"]
        call(ec2.modify_vpc_attribute, "enable DNS hostnames", VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        zones = self._zones(ec2, az_count, ctx.task.region)
        existing = {s["CidrBlock"]: s for s in self._subnets(ec2, vpc_id)}
        public_subnets: list[str] = []
        for role, zone, block in subnet_layout(cidr, zones, public, private):
            subnet = existing.get(block)
            if subnet is None:
                subnet_tags = {**tags, ROLE_TAG: role, "Name": f"{name or vpc_id}-{role}-{zone}"}
                subnet = call(
                    ec2.create_subnet,
                    f"create {role} subnet {block}",
                    VpcId=vpc_id,
                    CidrBlock=block,
                    AvailabilityZone=zone,
                    TagSpecifications=[{"ResourceType": "subnet", "Tags": tag_list(subnet_tags)}],
                )["Subnet"]
            if role == "public":
                public_subnets.append(subnet["SubnetId"])
        if public:
            self._public_routing(ec2, vpc_id, tags, public_subnets)
        return self.status(ctx, vpc_id)

    @staticmethod
    def _task_vpc(ctx: ProviderContext, ec2: Any) -> dict[str, Any] | None:
        vpcs = call(
            ec2.describe_vpcs,
            f"look up the VPC of task {ctx.task.id}",
            Filters=[{"Name": f"tag:{TASK_TAG}", "Values": [ctx.task.id]}],
        ).get("Vpcs", [])
        return dict(vpcs[0]) if vpcs else None

    @staticmethod
    def _public_routing(ec2: Any, vpc_id: str, tags: dict[str, str], subnet_ids: list[str]) -> None:
        gateways = call(
            ec2.describe_internet_gateways,
            "describe internet gateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
        ).get("InternetGateways", [])
        if gateways:
            igw_id = gateways[0]["InternetGatewayId"]
        else:
            igw_id = call(
                ec2.create_internet_gateway,
                "create internet gateway",
                TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": tag_list(tags)}],
            )["InternetGateway"]["InternetGatewayId"]
            call(ec2.attach_internet_gateway, "attach internet gateway", InternetGatewayId=igw_id, VpcId=vpc_id)
        tables = call(
            ec2.describe_route_tables,
            "describe route tables",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": f"tag:{ROLE_TAG}", "Values": ["public"]}],
        ).get("RouteTables", [])
        if tables:
            table = tables[0]
        else:
            table = call(
                ec2.create_route_table,
                "create public route table",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "route-table", "Tags": tag_list({**tags, ROLE_TAG: "public"})}],
            )["RouteTable"]
        table_id = table["RouteTableId"]
        if not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in table.get("Routes", [])):
            call(
                ec2.create_route,
                "route 0.0.0.0/0 to the internet gateway",
                RouteTableId=table_id,
                DestinationCidrBlock="0.0.0.0/0",
                GatewayId=igw_id,
            )
        associated = {a.get("SubnetId") for a in table.get("Associations", [])}
        for subnet_id in subnet_ids:
            if subnet_id not in associated:
                call(ec2.associate_route_table, "associate public subnet", RouteTableId=table_id, SubnetId=subnet_id)

    # --- status -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _subnets(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
        return list(
            call(ec2.describe_subnets, "describe subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]).get(
                "Subnets", []
            )
        )

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        ec2 = ctx.client("ec2")
        vpcs = call(
            ec2.describe_vpcs,
            f"describe VPC {resource_id}",
            missing=VPC_MISSING,
            not_found=f"VPC {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}",
            VpcIds=[resource_id],
        ).get("Vpcs", [])
        if not vpcs:
            raise ResourceNotFound(f"VPC {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}")
        subnets = self._subnets(ec2, resource_id)
        gateways = call(
            ec2.describe_internet_gateways,
            "describe internet gateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [resource_id]}],
        ).get("InternetGateways", [])
        tables = call(
            ec2.describe_route_tables, "describe route tables", Filters=[{"Name": "vpc-id", "Values": [resource_id]}]
        ).get("RouteTables", [])
        return self._outcome(ctx, vpcs[0], subnets, gateways, tables)

    def _outcome(
        self,
        ctx: ProviderContext,
        vpc: dict[str, Any],
        subnets: list[dict[str, Any]],
        gateways: list[dict[str, Any]] | None = None,
        tables: list[dict[str, Any]] | None = None,
    ) -> ResourceOutcome:
        vpc_id = str(vpc["VpcId"])
        available = vpc.get("State") == "available"
        by_role: dict[str, list[str]] = {"public": [], "private": []}
        for subnet in sorted(subnets, key=lambda s: (s.get("AvailabilityZone", ""), s["SubnetId"])):
            role = tag_dict(subnet.get("Tags")).get(ROLE_TAG, "private")
            by_role.setdefault(role, []).append(subnet["SubnetId"])
        own_tables = [t for t in tables or [] if not any(a.get("Main") for a in t.get("Associations", []))]
        metadata: dict[str, Any] = {
            "cidr": vpc.get("CidrBlock"),
            "is_default": vpc.get("IsDefault", False),
            "subnet_ids": [s["SubnetId"] for s in subnets],
            "public_subnet_ids": by_role["public"],
            "private_subnet_ids": by_role["private"],
            "availability_zones": sorted({s["AvailabilityZone"] for s in subnets}),
            "route_table_ids": [t["RouteTableId"] for t in own_tables],
            "internet_gateway_id": (gateways or [{}])[0].get("InternetGatewayId"),
        }
        tags = tag_dict(vpc.get("Tags"))
        return ResourceOutcome(
            id=vpc_id,
            arn=f"arn:{partition_for(ctx.task.region)}:ec2:{ctx.task.region}:{ctx.task.account_id}:vpc/{vpc_id}",
            state=ResourceState.ACTIVE if available else ResourceState.CREATING,
            ready=available,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update / delete --------------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """Tags only: a VPC's CIDR and subnets are its identity; a different layout is a new network."""
        tags = requested_tag_update(ctx.params)
        if not tags:
            raise TaskAnalysisError("a VPC network update takes parameter 'tags' (CIDR and subnets are fixed)")
        self.managed_status(ctx, resource_id)
        self.tag(ctx, resource_id, tags)
        return self.status(ctx, resource_id)

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        ec2 = ctx.client("ec2")
        # Network interfaces in the VPC belong to something else (instances, mount targets, load balancers): deleting
        # the network under them would fail half-way, so refuse before changing anything.
        interfaces = call(
            ec2.describe_network_interfaces,
            "describe network interfaces",
            Filters=[{"Name": "vpc-id", "Values": [resource_id]}],
        ).get("NetworkInterfaces", [])
        interfaces = self._in_use(ec2, resource_id, interfaces)
        if interfaces:
            users = sorted({i.get("Description") or i["NetworkInterfaceId"] for i in interfaces})
            raise ResourceConflict(
                f"VPC {resource_id} still has {len(interfaces)} network interface(s) in use ({'; '.join(users[:5])}); "
                "delete what uses them first (or delete with cascade=true when they are registered dependents)"
            )
        for subnet in self._subnets(ec2, resource_id):
            self._delete_child(ec2.delete_subnet, "subnet", SubnetId=subnet["SubnetId"])
        tables = call(
            ec2.describe_route_tables, "describe route tables", Filters=[{"Name": "vpc-id", "Values": [resource_id]}]
        ).get("RouteTables", [])
        for table in tables:
            if any(a.get("Main") for a in table.get("Associations", [])):
                continue  # the main route table goes with the VPC
            for association in table.get("Associations", []):
                self._delete_child(
                    ec2.disassociate_route_table,
                    "route table association",
                    AssociationId=association["RouteTableAssociationId"],
                )
            self._delete_child(ec2.delete_route_table, "route table", RouteTableId=table["RouteTableId"])
        gateways = call(
            ec2.describe_internet_gateways,
            "describe internet gateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [resource_id]}],
        ).get("InternetGateways", [])
        for gateway in gateways:
            igw_id = gateway["InternetGatewayId"]
            self._delete_child(
                ec2.detach_internet_gateway, "internet gateway", InternetGatewayId=igw_id, VpcId=resource_id
            )
            if tag_dict(gateway.get("Tags")).get(MANAGED_TAG) == "true":  # a gateway someone else made is only detached
                self._delete_child(ec2.delete_internet_gateway, "internet gateway", InternetGatewayId=igw_id)
        self._delete_child(ec2.delete_vpc, "VPC", VpcId=resource_id)
        return outcome.model_copy(update={"state": ResourceState.TERMINATED, "ready": True})

    @staticmethod
    def _in_use(ec2: Any, vpc_id: str, interfaces: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Interfaces that block the delete: not those of terminated instances (EC2 deletes them on termination)."""
        instance_ids = sorted(
            {i["Attachment"]["InstanceId"] for i in interfaces if i.get("Attachment", {}).get("InstanceId")}
        )
        states: dict[str, str] = {}
        if instance_ids:
            reservations = call(ec2.describe_instances, "describe instances", InstanceIds=instance_ids)["Reservations"]
            states = {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}
        if "shutting-down" in states.values():
            raise TransientAwsError(f"instances in VPC {vpc_id} are still shutting down; the delete is retried")
        return [i for i in interfaces if states.get(i.get("Attachment", {}).get("InstanceId", "")) != "terminated"]

    @staticmethod
    def _delete_child(fn: Any, what: str, **kwargs: Any) -> None:
        try:
            fn(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code.endswith(".NotFound") or code == "Gateway.NotAttached":
                return  # already gone: a retried delete goes on where the last one stopped
            if code == "DependencyViolation":
                raise ResourceConflict(f"cannot delete the {what} of the VPC yet: {exc}") from exc
            raise aws_error(exc, f"delete {what}") from exc

    # --- discover / tag ---------------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        ec2 = ctx.client("ec2")
        doing = f"describe VPCs in {ctx.task.region}"
        vpcs = paged(ec2, "describe_vpcs", "Vpcs", doing)
        subnets = paged(ec2, "describe_subnets", "Subnets", doing)
        return [self._outcome(ctx, v, [s for s in subnets if s["VpcId"] == v["VpcId"]]) for v in vpcs]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        """The VPC and the pieces the agent made for it (subnets, gateway, route tables) carry the same tags."""
        if not tags:
            return
        outcome = self.status(ctx, resource_id)
        ids = [resource_id, *outcome.metadata["subnet_ids"], *outcome.metadata["route_table_ids"]]
        if outcome.metadata.get("internet_gateway_id"):
            ids.append(outcome.metadata["internet_gateway_id"])
        call(ctx.client("ec2").create_tags, f"tag VPC {resource_id}", Resources=ids, Tags=tag_list(tags))
