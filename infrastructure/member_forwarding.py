"""Member accounts forward their alarm changes and CloudTrail creation calls to the agent's bus (a StackSet per region).

CloudWatch and CloudTrail deliver events only to the default bus of the account and region they happen in. The health
router and Cerberus' watch listen on the agent's bus too, so one rule per member account x region, targeting that bus,
lets them see the whole organization. The agent's bus accepts only these AWS sources, only from the StackSet's OUs:
a member account can never send an AwsTaskRequested."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnParameter, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from aws_agent.config import AgentConfig
from aws_agent.guardians.watch import event_pattern as creation_calls

from .health import alarm_event_pattern
from .member_role import raw_template, service_managed_stack_set

MEMBER_FORWARDING_STACK_NAME = "MiyabiMemberForwarding"
ORGANIZATION_ID_CONTEXT = "aws-agent:organization-id"  # o-…: the bus policy is pinned to it
STACK_SET_NAME = "MiyabiMemberForwarding"
ALARM_SOURCE = "aws.cloudwatch"


def forwarded_sources() -> list[str]:
    """Every source a member account forwards: CloudWatch (alarms) and the services of the watched creation calls."""
    return sorted({ALARM_SOURCE, *creation_calls()["source"]})


def creation_calls_pattern() -> events.EventPattern:
    """Cerberus' watch pattern (aws_agent.guardians.watch), as a CDK pattern."""
    pattern = creation_calls()
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"])


class MemberForwardingStack(Stack):
    """Two rules on a member account's default bus, in one region, sending to the agent's bus with their own role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AgentConfig,
        agent_bus_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        bus_arn = CfnParameter(
            self,
            "AgentEventBusArn",
            type="String",
            allowed_pattern=r"^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/.+$",
            description="The AWS Agent's event bus in the management account",
            default=agent_bus_arn,
        )
        agent_bus = events.EventBus.from_event_bus_arn(self, "AgentBus", bus_arn.value_as_string)
        # EventBridge needs a role to put events on another account's bus; it may do exactly that and nothing else.
        self.role = iam.Role(
            self,
            "ForwardRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="EventBridge forwards alarm changes and creation calls to the AWS Agent's bus",
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[bus_arn.value_as_string]))
        self.alarm_rule = events.Rule(
            self,
            "ForwardAlarmStateChanges",
            description="The agent's alarms (miyabi/...) changing state -> the AWS Agent's bus (health router)",
            event_pattern=alarm_event_pattern(config.health.alarm_prefix),
            targets=[targets.EventBus(agent_bus, role=self.role)],
        )
        self.creation_rule = events.Rule(
            self,
            "ForwardCreationCalls",
            description="Resource creations (CloudTrail) -> the AWS Agent's bus (Cerberus' watch)",
            event_pattern=creation_calls_pattern(),
            targets=[targets.EventBus(agent_bus, role=self.role)],
        )


def member_forwarding_template(config: AgentConfig) -> dict[str, Any]:
    """The forwarding stack's template, as its StackSet deploys it."""
    return raw_template(MemberForwardingStack, MEMBER_FORWARDING_STACK_NAME, config)


class MemberForwarding(Construct):
    """The agent's side: a bus policy for the OUs' forwarded AWS events, and the StackSet putting the forwarding
    rules in every account of those OUs, in every allowed region (EventBridge is regional)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AgentConfig,
        bus: events.EventBus,
        organizational_unit_ids: Sequence[str],
        organization_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # aws:PrincipalOrgID / aws:PrincipalOrgPaths narrow the senders to accounts of this organization under the
        # StackSet's OUs (nested OUs included), events:source to the AWS sources forwarded: nothing else of a member
        # account reaches the bus.
        # Pinned to this organization: root ids are short and not unique across organizations.
        paths = [
            f"{organization_id}/r-*/*{ou}/*" if ou.startswith("ou-") else f"{organization_id}/{ou}/*"
            for ou in organizational_unit_ids
        ]
        bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="MemberAccountsForwardAwsEvents",
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                conditions={
                    "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": paths},
                    "StringEquals": {"aws:PrincipalOrgID": organization_id, "events:source": forwarded_sources()},
                },
            )
        )
        self.stack_set = service_managed_stack_set(
            self,
            name=STACK_SET_NAME,
            description="AWS Agent: member accounts forward alarm changes and creation calls to the agent's bus",
            template=member_forwarding_template(config),
            capabilities=["CAPABILITY_IAM"],
            parameters={"AgentEventBusArn": bus.event_bus_arn},
            organizational_unit_ids=organizational_unit_ids,
            regions=config.allowed_regions,  # EventBridge is regional: one pair of rules per region
        )
