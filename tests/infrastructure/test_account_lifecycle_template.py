"""The account-creation workflow in the template: CreateAccount polled by a Wait loop, tag-conditioned grants."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .conftest import Synthesized


def parse_definition(definition_string: Any) -> dict[str, Any]:
    """DefinitionString as ASL, intrinsics replaced by a stand-in (only the state layout is checked here)."""
    separator, parts = definition_string["Fn::Join"]
    return dict(json.loads(separator.join(p if isinstance(p, str) else "${ref}" for p in parts)))


def _lifecycle(synth: Synthesized) -> tuple[str, dict[str, Any], dict[str, Any]]:
    ((logical_id, machine),) = [
        (k, v)
        for k, v in synth.of_type("AWS::StepFunctions::StateMachine").items()
        if k.startswith("OrganizationAccountLifecycle")
    ]
    return logical_id, machine, parse_definition(machine["Properties"]["DefinitionString"])


def test_creation_is_polled_by_a_wait_loop(synth: Synthesized) -> None:
    _, machine, definition = _lifecycle(synth)
    states = definition["States"]
    assert definition["StartAt"] == "ValidRequest?"  # checked before anything is created
    create = states["CreateAccount"]
    assert create["Resource"].endswith(":states:::aws-sdk:organizations:createAccount")
    assert create["Parameters"]["Tags"] == [
        {"Key": "MiyabiAccountRole", "Value.$": "$.role"},
        {"Key": "MiyabiManaged", "Value": "true"},
    ]
    assert create["Next"] == "AccountReady?"
    ready = states["AccountReady?"]
    assert [(c.get("StringEquals"), c["Next"]) for c in ready["Choices"][:2]] == [
        ("SUCCEEDED", "FindParent"),
        ("FAILED", "ReportedFailed"),
    ]
    assert ready["Choices"][2] == {"Variable": "$.poll.count", "NumericGreaterThanEquals": 90, "Next": "PollsRanOut"}
    assert ready["Default"] == "WaitForAccount"
    assert states["WaitForAccount"] == {"Type": "Wait", "Seconds": 20, "Next": "CountPoll"}
    assert states["CountPoll"]["Next"] == "DescribeCreateAccountStatus"
    describe = states["DescribeCreateAccountStatus"]
    assert describe["Resource"].endswith("organizations:describeCreateAccountStatus")
    assert describe["Next"] == "AccountReady?"  # the loop: no Lambda sleeps, no Lambda at all
    assert states["MoveAccount"]["Resource"].endswith("organizations:moveAccount")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    assert not [s for s in states.values() if "lambda" in str(s.get("Resource", ""))]


def test_every_aws_step_announces_its_failure(synth: Synthesized) -> None:
    _, _, definition = _lifecycle(synth)
    states = definition["States"]
    for name in ("CreateAccount", "DescribeCreateAccountStatus", "FindParent", "MoveAccount", "AnnounceAccountCreated"):
        (catch,) = states[name]["Catch"]
        assert catch == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": "AnnounceAccountCreationFailed",
        }
    for name in ("ReportedFailed", "PollsRanOut", "InvalidRequest"):
        assert states[name]["Next"] == "AnnounceAccountCreationFailed"
    announce = states["AnnounceAccountCreationFailed"]
    assert announce["Parameters"]["Entries"][0]["DetailType"] == "AccountCreationFailed"
    assert states[announce["Next"]] == {"Type": "Fail", "Error": "AccountCreationFailed", "CausePath": "$.error.Cause"}
    created = states["AnnounceAccountCreated"]["Parameters"]["Entries"][0]
    assert created["DetailType"] == "AccountCreated" and created["Source"] == "miyabi.aws-agent"


def test_organizations_grants_are_conditioned(synth: Synthesized) -> None:
    statements = [
        s
        for logical_id, policy in synth.of_type("AWS::IAM::Policy").items()
        if logical_id.startswith("OrganizationAccountLifecycleOrganizationsPolicy")
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    create = by_sid["CreateManagedAccountsOnly"]
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestTag/MiyabiManaged": "true"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["MiyabiManaged", "MiyabiAccountRole"]},
    }
    assert by_sid["MoveWithinTheOrganization"]["Action"] == ["organizations:ListParents", "organizations:MoveAccount"]
    granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in granted if "Close" in a or "Remove" in a or "Delete" in a}  # creation never closes


def test_the_workflow_is_an_output(synth: Synthesized) -> None:
    logical_id, _, _ = _lifecycle(synth)
    assert synth.template.to_json()["Outputs"]["AccountLifecycleStateMachineArn"]["Value"] == {"Ref": logical_id}


def _closure(synth: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    ((_, machine),) = [
        (k, v)
        for k, v in synth.of_type("AWS::StepFunctions::StateMachine").items()
        if k.startswith("OrganizationAccountClosure")
    ]
    return machine, parse_definition(machine["Properties"]["DefinitionString"])


def test_closure_waits_for_a_human_before_closing(synth: Synthesized) -> None:
    _, definition = _closure(synth)
    states = definition["States"]
    assert definition["StartAt"] == "ValidRequest?"
    request = states["RequestApproval"]
    assert request["Resource"].endswith(":states:::events:putEvents.waitForTaskToken")
    detail = request["Parameters"]["Entries"][0]["Detail"]
    assert detail["token.$"] == "$$.Task.Token" and request["Parameters"]["Entries"][0]["DetailType"] == (
        "AccountClosureRequested"
    )
    assert request["TimeoutSeconds"] == detail["timeout_seconds"] > 0  # the policies' approval timeout
    assert request["Next"] == "Approved?"
    # A rejection or no answer: nothing closed.
    (not_approved, *_) = request["Catch"]
    assert not_approved["ErrorEquals"] == ["ApprovalRejected", "States.Timeout"]
    assert not_approved["Next"] == "NotApproved" and states["NotApproved"]["Next"] == "AnnounceClosureFailed"
    # Only managed accounts are put to a human; only a named approver closes anything.
    assert states["Managed?"]["Choices"] == [
        {"Variable": "$.check.managed", "BooleanEquals": True, "Next": "RequestApproval"}
    ]
    assert states["Managed?"]["Default"] == "NotManaged"
    assert states["ApproverNamed?"]["Choices"][0]["Next"] == "CloseAccount"
    assert states["CloseAccount"]["Resource"].endswith("organizations:closeAccount")
    reaching_close = [
        name
        for name, s in states.items()
        if "CloseAccount" in (s.get("Next"), s.get("Default"), *(c.get("Next") for c in s.get("Choices", [])))
    ]
    assert reaching_close == ["ApproverNamed?"]  # no other path leads to CloseAccount


def test_closure_grant_is_tag_conditioned(synth: Synthesized) -> None:
    statements = [
        s
        for logical_id, policy in synth.of_type("AWS::IAM::Policy").items()
        if logical_id.startswith("OrganizationAccountClosureOrganizationsPolicy")
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["CloseManagedAccountsOnly"]["Action"] == "organizations:CloseAccount"
    assert by_sid["CloseManagedAccountsOnly"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}
    }
    assert synth.template.to_json()["Outputs"]["AccountClosureStateMachineArn"]["Value"]["Ref"].startswith(
        "OrganizationAccountClosure"
    )
