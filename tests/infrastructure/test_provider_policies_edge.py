"""The edge providers' managed policies in the synthesized template: attached to the resource steps, tag-scoped."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .conftest import Synthesized

MANAGED = {"StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}}
REQUESTED = {"StringEquals": {"aws:RequestTag/MiyabiManaged": "true"}}


def _policies(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.of_type("AWS::IAM::ManagedPolicy").items() if k.startswith("EdgeProviders")}


def _statements(synth: Synthesized) -> list[dict[str, Any]]:
    return [s for p in _policies(synth).values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _granting(synth: Synthesized, action: str) -> list[dict[str, Any]]:
    return [s for s in _statements(synth) if action in _actions(s)]


def _role_of(synth: Synthesized, step: str) -> str:
    return str(synth.resources[synth.logical_id_of(step)]["Properties"]["Role"]["Fn::GetAtt"][0])


def _rendered(document: dict[str, Any]) -> str:
    """The policy as IAM stores it (no whitespace), with tokens replaced by the longest real values."""
    text = json.dumps(document, separators=(",", ":"))
    text = text.replace('{"Ref":"AWS::Partition"}', '"aws-us-gov"').replace(
        '{"Ref":"AWS::AccountId"}', '"123456789012"'
    )
    return re.sub(
        r'\{"Fn::Join":\["",\[(.*?)\]\]\}', lambda m: '"' + m.group(1).replace('"', "").replace(",", "") + '"', text
    )


def test_two_managed_policies_attached_to_exactly_the_resource_steps(synth: Synthesized) -> None:
    policies = _policies(synth)
    assert len(policies) == 2
    expected = sorted({_role_of(synth, step) for step in ("execute", "status", "tag")})
    for policy in policies.values():
        assert sorted(r["Ref"] for r in policy["Properties"]["Roles"]) == expected


def test_each_policy_fits_a_managed_policy(synth: Synthesized) -> None:
    for logical_id, policy in _policies(synth).items():
        size = len(_rendered(policy["Properties"]["PolicyDocument"]))
        assert size < 6144, f"{logical_id} is {size} characters"


def test_no_statement_allows_every_action(synth: Synthesized) -> None:
    for statement in _statements(synth):
        assert "*" not in _actions(statement)
        assert not any(a.endswith(":*") for a in _actions(statement))
        assert statement["Effect"] == "Allow"


@pytest.mark.parametrize(
    "action",
    [
        "sns:SetTopicAttributes",
        "sns:DeleteTopic",
        "apigateway:PATCH",
        "apigateway:DELETE",
        "ecs:UpdateService",
        "ecs:DeleteService",
        "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution",
        "lambda:PublishVersion",
        "lambda:EnableReplication",
        "lambda:DisableReplication",
    ],
)
def test_mutations_need_the_managed_resource_tag(synth: Synthesized, action: str) -> None:
    granting = _granting(synth, action)
    assert granting, action
    assert all(s.get("Condition") == MANAGED for s in granting), action


@pytest.mark.parametrize(
    "action", ["sns:CreateTopic", "ecs:CreateCluster", "ecs:CreateService", "cloudfront:CreateDistribution"]
)
def test_creation_needs_the_managed_request_tag(synth: Synthesized, action: str) -> None:
    granting = _granting(synth, action)
    assert granting and all(s.get("Condition") == REQUESTED for s in granting), action


def test_api_creation_is_tag_conditioned_and_tagging_is_limited_to_tag_paths(synth: Synthesized) -> None:
    for statement in _granting(synth, "apigateway:POST"):
        resources = json.dumps(statement["Resource"])
        if statement.get("Condition") != REQUESTED:
            assert "::/tags/*" in resources and "/apis" not in resources, statement


@pytest.mark.parametrize("action", ["sns:TagResource", "ecs:TagResource", "cloudfront:TagResource"])
def test_tagging_needs_the_managed_tag_in_the_request_or_on_the_resource(synth: Synthesized, action: str) -> None:
    conditions = [s.get("Condition") for s in _granting(synth, action)]
    assert sorted(json.dumps(c) for c in conditions) == sorted(json.dumps(c) for c in (MANAGED, REQUESTED))


def test_route53_has_no_tag_condition_keys_so_it_is_limited_to_hosted_zones(synth: Synthesized) -> None:
    (statement,) = _granting(synth, "route53:DeleteHostedZone")
    assert "Condition" not in statement
    assert json.dumps(statement["Resource"]).endswith(':route53:::hostedzone/*"]]}')


def test_pass_role_and_service_linked_roles_are_service_scoped(synth: Synthesized) -> None:
    (pass_role,) = _granting(synth, "iam:PassRole")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    (linked,) = _granting(synth, "iam:CreateServiceLinkedRole")
    assert sorted(linked["Condition"]["StringEquals"]["iam:AWSServiceName"]) == [
        "ecs.amazonaws.com",
        "logger.cloudfront.amazonaws.com",
        "replicator.lambda.amazonaws.com",
    ]


@pytest.mark.parametrize("step", ["intake", "analyze", "guard", "register", "complete", "fail"])
def test_other_steps_get_none_of_it(synth: Synthesized, step: str) -> None:
    role = _role_of(synth, step)
    for policy in _policies(synth).values():
        assert role not in [r["Ref"] for r in policy["Properties"]["Roles"]]


def test_cdk_nag_still_reports_nothing_unacknowledged(synth: Synthesized) -> None:
    assert synth.validation_error is None, (synth.outdir / "validation-report.json").read_text()
