"""The multi-account features in the management stack: discovery workflow, directory and reconciliation grants."""

from __future__ import annotations

from aws_cdk import CfnOutput
from constructs import Construct

from aws_agent.config import AgentConfig

from .discovery import DiscoveryWorkflow, discovery_read_policy, organizations_read_policy
from .functions import AgentFunctions
from .messaging import AgentMessaging
from .nag import acknowledge, arn_of, wildcard
from .state import AgentState


class OrganizationFeatures(Construct):
    """Org-wide discovery on a schedule; DiscoverResources tasks reconcile from Execute; Analyze reads the directory."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: AgentFunctions,
        state: AgentState,
        messaging: AgentMessaging,
        config: AgentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.discovery = DiscoveryWorkflow(
            self,
            "Discovery",
            functions=functions.by_step,
            resources=state.resources,
            agents=state.agents,
            bus=messaging.bus,
            config=config.multi_account,
            member_role_name=config.member_role_name,
        )
        # DiscoverResources tasks reconcile in Execute: it writes the Resources/ServiceAgents records and emits drift.
        execute = functions["execute"]
        state.resources.grant_read_write_data(execute)
        state.agents.grant_read_write_data(execute)
        messaging.bus.grant_put_events_to(execute)
        discovery_read_policy(self, "ExecuteDiscoveryPolicy", [execute], config.member_role_name)
        if execute.role is not None:
            acknowledge(
                execute.role,
                {
                    wildcard(f"{arn_of(t)}/index/*"): "The L2 table grant covers that one table's indexes."
                    for t in (state.resources, state.agents)
                },
            )
        # Analyze and the discovery plan resolve account names and roles from AWS Organizations.
        organizations_read_policy(self, "AnalyzeOrganizationsPolicy", [functions["analyze"]])
        CfnOutput(
            scope,
            "DiscoveryStateMachineArn",
            value=self.discovery.state_machine.state_machine_arn,
        )
