"""Sweep targets from a c7n-org accounts file or from explicit lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_agent.aws import Target
from aws_agent.costs.targets import (
    load_accounts_file,
    parse_accounts,
    session_factory,
    targets_from_accounts,
    targets_from_lists,
)

ACCOUNTS_YML = """\
accounts:
- account_id: '100000000001'
  name: acct-01
  role: arn:aws:iam::100000000001:role/OrganizationAccountAccessRole
  regions:
  - us-east-1
  - us-west-2
- account_id: 100000000002
  name: acct-02
  role: CustomAuditRole
- account_id: '100000000003'
"""


def test_accounts_file_roles_become_role_arns(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yml"
    path.write_text(ACCOUNTS_YML)

    accounts = load_accounts_file(path)
    factory = session_factory(accounts)

    assert [a.account_id for a in accounts] == ["100000000001", "100000000002", "100000000003"]
    assert factory.role_arn("100000000001") == "arn:aws:iam::100000000001:role/OrganizationAccountAccessRole"
    assert factory.role_arn("100000000002") == "arn:aws:iam::100000000002:role/CustomAuditRole"
    assert factory.role_arn("100000000003") == "arn:aws:iam::100000000003:role/MiyabiAgentRole"
    assert accounts[1].name == "acct-02" and accounts[2].name == "100000000003"


def test_each_account_is_swept_in_its_own_regions_narrowed_by_a_region_filter(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yml"
    path.write_text(ACCOUNTS_YML)
    accounts = load_accounts_file(path)

    assert targets_from_accounts(accounts, default_regions=["eu-west-1"]) == [
        Target("100000000001", "us-east-1"),
        Target("100000000001", "us-west-2"),
        Target("100000000002", "eu-west-1"),
        Target("100000000003", "eu-west-1"),
    ]
    assert targets_from_accounts(accounts, ["us-west-2"]) == [
        Target("100000000001", "us-west-2"),
        Target("100000000002", "us-west-2"),
        Target("100000000003", "us-west-2"),
    ]


def test_explicit_lists_make_every_pair_once() -> None:
    assert targets_from_lists(["111111111111", "111111111111"], ["us-east-1", "eu-west-1"]) == [
        Target("111111111111", "us-east-1"),
        Target("111111111111", "eu-west-1"),
    ]
    assert targets_from_lists([None], ["us-east-1"]) == [Target(None, "us-east-1")]


@pytest.mark.parametrize(
    "data", [None, {}, {"accounts": "x"}, {"accounts": [{"account_id": "123"}]}, {"accounts": ["nope"]}]
)
def test_malformed_accounts_files_are_refused(data: object) -> None:
    with pytest.raises(ValueError):
        parse_accounts(data)


def test_explicit_account_ids_must_be_twelve_digits() -> None:
    with pytest.raises(ValueError):
        targets_from_lists(["12345"], ["us-east-1"])
