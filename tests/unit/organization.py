"""An AWS Organization on moto for the multi-account tests: Zeus manages; Apollo, Cerberus and Athena are members."""

from __future__ import annotations

from dataclasses import dataclass

import boto3

ZEUS = "123456789012"  # moto's default account: the management account, where the agent runs
REGIONS = ("us-east-1", "eu-west-1")


@dataclass
class Org:
    root: str
    ous: dict[str, str]  # name -> id
    accounts: dict[str, str]  # name -> id


def make_org() -> Org:
    """Production OU holds Apollo; Cerberus sits in Security but is tagged Production-agnostic via its OU; Athena is
    in Workloads/Sandbox (a nested OU) and carries the role tag Development."""
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ous = {}
    for name, parent in (("Production", root), ("Security", root), ("Workloads", root)):
        ous[name] = org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
    ous["Sandbox"] = org.create_organizational_unit(ParentId=ous["Workloads"], Name="Sandbox")["OrganizationalUnit"][
        "Id"
    ]
    accounts = {"Zeus": ZEUS}
    placement = {"Apollo": "Production", "Cerberus": "Security", "Athena": "Sandbox"}
    for name, ou in placement.items():
        status = org.create_account(Email=f"{name.lower()}@example.com", AccountName=name)["CreateAccountStatus"]
        account_id = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"][
            "AccountId"
        ]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ous[ou])
        accounts[name] = account_id
    org.tag_resource(ResourceId=accounts["Athena"], Tags=[{"Key": "MiyabiAccountRole", "Value": "development"}])
    return Org(root, ous, accounts)
