"""AnalyzeBilling in the template: Execute may read Cost Explorer and the report cache item, and nothing more."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .conftest import Synthesized


def _billing_policies(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.of_type("AWS::IAM::Policy").items() if k.startswith("OrganizationExecuteBilling")}


def test_the_billing_policy_is_on_the_execute_role_only(synth: Synthesized) -> None:
    ((_, policy),) = _billing_policies(synth).items()
    execute = synth.resources[synth.logical_id_of("execute")]["Properties"]
    assert policy["Properties"]["Roles"] == [{"Ref": execute["Role"]["Fn::GetAtt"][0]}]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ReadCostAndUsage", "BillingReportCache"}
    assert statements["ReadCostAndUsage"]["Action"] == "ce:GetCostAndUsage"
    assert statements["ReadCostAndUsage"]["Resource"] == "*"
    assert statements["BillingReportCache"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    (table,) = [k for k in synth.of_type("AWS::DynamoDB::Table") if k.startswith("StateCostReportsTable")]
    assert statements["BillingReportCache"]["Resource"] == {"Fn::GetAtt": [table, "Arn"]}


def test_execute_may_publish_the_report_and_knows_the_cache_table(synth: Synthesized) -> None:
    execute = synth.resources[synth.logical_id_of("execute")]["Properties"]
    role = execute["Role"]["Fn::GetAtt"][0]
    variables = execute["Environment"]["Variables"]
    assert variables["AGENT_COST_REPORTS_TABLE"]["Ref"].startswith("StateCostReportsTable")
    put_events = [
        s
        for policy in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"].get("Roles", [])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "events:PutEvents"
    ]
    assert put_events  # BillingReportReady on the agent's bus


def test_no_other_role_reads_cost_explorer(synth: Synthesized) -> None:
    readers = [
        logical_id
        for logical_id, policy in synth.of_type("AWS::IAM::Policy").items()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ce:GetCostAndUsage" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert len(readers) == 1 and readers[0].startswith("OrganizationExecuteBilling")


def test_the_wildcard_is_acknowledged(synth: Synthesized) -> None:
    assert synth.validation_error is None  # cdk-nag's IAM5 finding on Resource::* carries its reason
