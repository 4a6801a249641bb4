"""`aws-agent optimize` through typer's CliRunner against moto: accounts file in, contract report out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_costs_fleet import BUSY, IDLE, MEMBER_ROLE, REGION, make_bucket, put_cpu, run_instances, state
from typer.testing import CliRunner

from aws_agent.aws import SessionFactory
from aws_agent.cli import app
from aws_agent.errors import AccessDenied

pytestmark = pytest.mark.usefixtures("mocked_aws")
APOLLO, ATHENA = "111111111111", "222222222222"
runner = CliRunner()


def accounts_file(tmp_path: Path, *accounts: str) -> Path:
    lines = ["accounts:"]
    for account in accounts:
        lines += [
            f"- account_id: '{account}'",
            f"  name: acct-{account[-2:]}",
            f"  role: arn:aws:iam::{account}:role/{MEMBER_ROLE}",
            "  regions:",
            f"  - {REGION}",
        ]
    path = tmp_path / "accounts.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed(account: str) -> tuple[list[str], list[str]]:
    idle = run_instances(2, account=account)
    busy = run_instances(2, account=account)
    put_cpu(idle, IDLE, account=account)
    put_cpu(busy, BUSY, account=account)
    make_bucket(f"unused-{account}", account=account)
    make_bucket(f"used-{account}", [42], account=account)
    return idle, busy


def test_apply_with_an_accounts_file_writes_a_contract_report(tmp_path: Path) -> None:
    apollo_idle, apollo_busy = seed(APOLLO)
    athena_idle, _ = seed(ATHENA)
    report_path = tmp_path / "out" / "report.json"

    result = runner.invoke(
        app,
        [
            "optimize",
            "--accounts",
            str(accounts_file(tmp_path, APOLLO, ATHENA)),
            "--apply",
            "--include-unmanaged",
            "--report",
            str(report_path),
        ],
    )

    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    stops = {i["resource_id"] for i in report["optimizations"] if i["action"] == "stop"}
    assert stops == set(apollo_idle + athena_idle)
    unused = {i["resource_id"] for i in report["recommendations"] if i["action"] == "review-unused-bucket"}
    assert unused == {f"unused-{APOLLO}", f"unused-{ATHENA}"}
    assert all(isinstance(i["resource_id"], str) for i in report["optimizations"] + report["recommendations"])
    assert {state(i, APOLLO) for i in apollo_idle} == {"stopped"}
    assert {state(i, APOLLO) for i in apollo_busy} == {"running"}
    assert float(report["savings_percent"]) > 0 and report["dry_run"] is False
    assert "stop" in result.stdout and "DRY RUN" not in result.output


def test_without_apply_it_is_a_dry_run_and_says_so(tmp_path: Path) -> None:
    idle, _ = seed(APOLLO)

    result = runner.invoke(app, ["optimize", "--account", APOLLO, "--role", MEMBER_ROLE, "--include-unmanaged"])

    assert result.exit_code == 0, result.output
    assert "DRY RUN" in result.output and "Cost optimization (dry run)" in result.stdout
    assert {state(i, APOLLO) for i in idle} == {"running"}


def test_an_accounts_file_and_account_flags_are_exclusive(tmp_path: Path) -> None:
    result = runner.invoke(app, ["optimize", "--accounts", str(accounts_file(tmp_path, APOLLO)), "--account", APOLLO])
    assert result.exit_code == 2


def test_a_sweep_where_every_target_fails_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: SessionFactory, account_id: str | None, **_: object) -> None:
        raise AccessDenied(f"assume {self.role_arn(account_id or '')}: AccessDenied: no trust")

    monkeypatch.setattr(SessionFactory, "session", refuse)

    result = runner.invoke(app, ["optimize", "--accounts", str(accounts_file(tmp_path, APOLLO))])

    assert result.exit_code == 1 and "AccessDenied" in result.output
