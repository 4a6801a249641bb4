"""The accounts and billing commands against moto: tables, refusals, the billing report."""

from __future__ import annotations

import boto3
import pytest
from organization import make_org
from test_billing import _result, inject
from typer.testing import CliRunner

from aws_agent.cli import app

pytestmark = pytest.mark.usefixtures("mocked_aws")
runner = CliRunner()


def test_accounts_list_shows_roles() -> None:
    org = make_org()
    result = runner.invoke(app, ["accounts", "list"])
    assert result.exit_code == 0, result.output
    for name in ("Apollo", "Cerberus", "Athena"):
        assert name in result.output and org.accounts[name] in result.output
    assert "Production" in result.output and "Security" in result.output and "(management)" in result.output


def test_accounts_move() -> None:
    org = make_org()
    moved = runner.invoke(app, ["accounts", "move", "apollo", "--ou", "Security"])
    assert moved.exit_code == 0 and "to Security" in moved.output, moved.output
    listed = runner.invoke(app, ["accounts", "list"])
    assert org.accounts["Apollo"] in listed.output and "Security" in listed.output


def test_accounts_create_needs_the_deployed_workflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Creation runs in the stack's workflow (tests/integration/test_account_lifecycle_e2e.py); a bad request is
    refused before anything starts."""
    make_org()
    args = ["accounts", "create", "--name", "Hermes", "--role", "Production"]
    refused = runner.invoke(app, [*args, "--email", "not-an-email"])
    assert refused.exit_code == 2 and "email" in refused.output
    unknown = runner.invoke(app, [*args, "--email", "h@example.com", "--ou", "Nowhere"])
    assert unknown.exit_code == 2 and "no OU 'Nowhere'" in unknown.output


def test_close_of_an_unmanaged_account_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org()
    monkeypatch.setenv(
        "AGENT_ACCOUNT_CLOSURE_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:x"
    )
    for variable in ("AGENT_TASKS_TABLE", "AGENT_RESOURCES_TABLE", "AGENT_AGENTS_TABLE", "AGENT_EVENT_BUS"):
        monkeypatch.setenv(variable, "unused")
    result = runner.invoke(app, ["accounts", "close", "apollo", "--reason", "project ended"])
    assert result.exit_code == 2 and "not tagged MiyabiManaged=true" in result.output, result.output
    assert org.accounts["Apollo"] in result.output


def test_billing_table() -> None:
    inject(
        _result({"222222222222": "12.00"}, {"222222222222": "Apollo"}),
        _result({"AWS Lambda": "12.00"}),
        _result({"MiyabiAgent$BillGates": "12.00"}),
    )
    result = runner.invoke(app, ["billing", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "12.00 USD" in result.output and "Apollo" in result.output and "BillGates" in result.output
    assert "AWS Lambda" in result.output and "100.0 %" in result.output


def test_billing_is_cached_in_the_cost_reports_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_billing import cost_reports_table

    cost_reports_table()
    for name, value in {
        "AGENT_TASKS_TABLE": "t",
        "AGENT_RESOURCES_TABLE": "r",
        "AGENT_AGENTS_TABLE": "a",
        "AGENT_EVENT_BUS": "b",
        "AGENT_COST_REPORTS_TABLE": "cost-reports",
        "AGENT_CONFIG": '{"multi_account": {"billing_cache_hours": 2}}',
    }.items():
        monkeypatch.setenv(name, value)
    inject(_result({"222222222222": "5.00"}), _result({}), _result({}))
    first = runner.invoke(app, ["billing"])
    assert first.exit_code == 0 and "from Cost Explorer" in first.output, first.output
    second = runner.invoke(app, ["billing"])
    assert second.exit_code == 0 and "from cache" in second.output and "5.00 USD" in second.output


def test_unknown_accounts_and_ambiguous_ous_are_clear_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org()
    monkeypatch.setenv(
        "AGENT_ACCOUNT_CLOSURE_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:x"
    )
    for variable in ("AGENT_TASKS_TABLE", "AGENT_RESOURCES_TABLE", "AGENT_AGENTS_TABLE", "AGENT_EVENT_BUS"):
        monkeypatch.setenv(variable, "unused")
    for args in (["close", "Nope", "--reason", "x"], ["approve-close", "Nope"], ["move", "Nope", "--ou", "Security"]):
        result = runner.invoke(app, ["accounts", *args])
        assert result.exit_code == 2 and "unknown account 'Nope'" in result.output, (args, result.output)
    # OU names are unique only among siblings: a second "Security" under another OU makes the name ambiguous.
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organizational_unit(ParentId=org.ous["Production"], Name="Security")
    ambiguous = runner.invoke(app, ["accounts", "move", "apollo", "--ou", "security"])
    assert ambiguous.exit_code == 2 and "2 OUs are named 'security'" in ambiguous.output, ambiguous.output


def test_accounts_tag_changes_the_role_the_directory_reads() -> None:
    org = make_org()
    result = runner.invoke(app, ["accounts", "tag", "apollo", "--role", "Development"])
    assert result.exit_code == 0 and f"{org.accounts['Apollo']} tagged MiyabiAccountRole=Development" in result.output
    listed = runner.invoke(app, ["accounts", "list"])
    apollo_row = next(line for line in listed.output.splitlines() if org.accounts["Apollo"] in line)
    assert "Development" in apollo_row
