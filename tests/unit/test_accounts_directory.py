"""The account directory on a moto organization: names, roles from tags and OUs, and the configuration fallback."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from organization import ZEUS, make_org

from aws_agent.accounts.directory import AccountDirectory, account_names, clear_cache, load_or_fallback, role_from
from aws_agent.basics import AccountRole
from aws_agent.errors import TaskAnalysisError

pytestmark = pytest.mark.usefixtures("mocked_aws")


def organizations() -> Any:
    return boto3.client("organizations", region_name="us-east-1")


def test_directory_reads_accounts_ous_and_roles() -> None:
    org = make_org()
    directory = AccountDirectory.load(organizations())
    assert directory.management_account_id == ZEUS
    # moto names the management account "master"; a real one carries its own name.
    members = {name: account for name, account in org.accounts.items() if name != "Zeus"}
    assert directory.names() == {**members, "master": ZEUS}
    roles = {a.name: a.role for a in directory.accounts.values()}
    assert roles == {
        "master": AccountRole.MANAGEMENT,
        "Apollo": AccountRole.PRODUCTION,  # from its OU "Production"
        "Cerberus": AccountRole.SECURITY,  # from its OU "Security"
        "Athena": AccountRole.DEVELOPMENT,  # from its tag (nested OU "Workloads/Sandbox")
    }
    athena = directory.find("athena")
    assert athena is not None and athena.ou_name == "Sandbox" and athena.parent_id == org.ous["Sandbox"]
    assert directory.units[org.ous["Sandbox"]].parent_id == org.ous["Workloads"]
    assert directory.resolve("APOLLO") == org.accounts["Apollo"]
    assert directory.resolve(org.accounts["Cerberus"]) == org.accounts["Cerberus"]
    with pytest.raises(TaskAnalysisError, match="known accounts: Apollo, Athena, Cerberus, master"):
        directory.resolve("Hermes")


def test_role_tag_wins_over_the_ou() -> None:
    org = make_org()
    organizations().tag_resource(
        ResourceId=org.accounts["Apollo"], Tags=[{"Key": "MiyabiAccountRole", "Value": "Security"}]
    )
    directory = AccountDirectory.load(organizations())
    assert directory.by_role(AccountRole.SECURITY) and {a.name for a in directory.by_role(AccountRole.SECURITY)} == {
        "Apollo",
        "Cerberus",
    }
    assert role_from(None, "prod-eu", management=False) is AccountRole.PRODUCTION
    assert role_from(None, "anything", management=False) is AccountRole.DEVELOPMENT


def test_paginates_large_organizations() -> None:
    make_org()
    org = organizations()
    for n in range(25):  # moto pages list_accounts by 20
        org.create_account(Email=f"extra{n}@example.com", AccountName=f"Extra{n}")
    directory = AccountDirectory.load(org)
    assert len(directory.accounts) == 29
    assert directory.resolve("extra24")


def test_without_an_organization_the_configured_mapping_is_the_directory() -> None:
    directory = load_or_fallback(organizations(), {"Apollo": "222222222222", "Zeus": ZEUS}, ZEUS)
    assert directory.source == "configuration"
    assert directory.resolve("apollo") == "222222222222"
    assert directory.accounts[ZEUS].role is AccountRole.MANAGEMENT


def test_analyze_resolves_names_from_organizations() -> None:
    from aws_agent.config import AgentConfig
    from aws_agent.events import TaskRequest
    from aws_agent.pipeline.analyze import build_task
    from aws_agent.pipeline.runtime import Runtime
    from aws_agent.settings import Settings

    org = make_org()
    clear_cache()
    settings = Settings(
        "t", "r", "a", "b", agent_account_id=ZEUS, preset_config=AgentConfig(accounts={"Legacy": "555555555555"})
    )
    rt = Runtime(settings)
    request = TaskRequest.model_validate(
        {
            "task_id": "t-1",
            "task": {"task_type": "CreateResource", "resource_type": "S3Bucket", "account_name": "athena"},
        }
    )
    task, _ = build_task(rt, "t-1", request)
    assert task.account_id == org.accounts["Athena"]
    legacy = TaskRequest.model_validate(
        {
            "task_id": "t-2",
            "task": {"task_type": "CreateResource", "resource_type": "S3Bucket", "account_name": "Legacy"},
        }
    )
    assert build_task(rt, "t-2", legacy)[0].account_id == "555555555555"  # configured names stay a fallback
    assert account_names(rt, request)["Cerberus"] == org.accounts["Cerberus"]
    clear_cache()
