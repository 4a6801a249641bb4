"""The multi-account features in the management stack: discovery workflow, directory and reconciliation grants."""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput, Duration
from constructs import Construct

from aws_agent.config import AgentConfig

from .account_closure import AccountClosureWorkflow
from .account_lifecycle import AccountLifecycleWorkflow
from .billing import billing_policy
from .discovery import DiscoveryWorkflow, discovery_read_policy, organizations_read_policy
from .functions import AgentFunctions
from .member_forwarding import ORGANIZATION_ID_CONTEXT, MemberForwarding
from .member_role import MEMBER_OUS_CONTEXT, MemberRoleStackSet, context_list
from .messaging import AgentMessaging
from .nag import acknowledge_indexes
from .pipeline import max_approval_seconds
from .state import AgentState

# The steps that act in member accounts: the member role trusts exactly their execution roles.
ASSUMING_STEPS = ("execute", "status", "tag", "optimize_target", "discover_target")


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
        acknowledge_indexes(execute.role, [state.resources, state.agents])
        # Analyze and the discovery plan resolve account names and roles from AWS Organizations.
        organizations_read_policy(self, "AnalyzeOrganizationsPolicy", [functions["analyze"]])
        billing_policy(self, "ExecuteBillingPolicy", [execute], reports=state.cost_reports)  # AnalyzeBilling tasks
        # The member role in every account of the given OUs (service-managed StackSet, new accounts included).
        ous = context_list(self, MEMBER_OUS_CONTEXT)
        if ous:
            roles = [functions[step].role for step in ASSUMING_STEPS]
            self.member_roles = MemberRoleStackSet(
                self,
                "MemberRoles",
                config=config,
                organizational_unit_ids=ous,
                agent_role_arns=[role.role_arn for role in roles if role is not None],
            )
            # Their alarm changes and creation calls, forwarded to this bus from every allowed region; the bus policy
            # needs the organization's id, so without it there is no forwarding (and a synth warning says so).
            organization_id = self.node.try_get_context(ORGANIZATION_ID_CONTEXT)
            if organization_id:
                self.member_forwarding = MemberForwarding(
                    self,
                    "MemberForwarding",
                    config=config,
                    bus=messaging.bus,
                    organizational_unit_ids=ous,
                    organization_id=str(organization_id),
                )
            else:
                Annotations.of(self).add_warning_v2(
                    "aws-agent:no-forwarding",
                    f"member accounts do not forward alarms and creation calls: set -c {ORGANIZATION_ID_CONTEXT}=o-…",
                )
        # Account creation: CreateAccount polled by the workflow's Wait loop (`aws-agent accounts create` starts it).
        self.account_lifecycle = AccountLifecycleWorkflow(
            self, "AccountLifecycle", bus=messaging.bus, role_tag=config.multi_account.account_role_tag
        )
        CfnOutput(
            scope,
            "AccountLifecycleStateMachineArn",
            value=self.account_lifecycle.state_machine.state_machine_arn,
        )
        # Account closure: only a managed account, only after a human approves (`aws-agent accounts close`).
        self.account_closure = AccountClosureWorkflow(
            self,
            "AccountClosure",
            bus=messaging.bus,
            approval_timeout=Duration.seconds(max_approval_seconds(self)),
        )
        CfnOutput(
            scope,
            "AccountClosureStateMachineArn",
            value=self.account_closure.state_machine.state_machine_arn,
        )
        CfnOutput(
            scope,
            "DiscoveryStateMachineArn",
            value=self.discovery.state_machine.state_machine_arn,
        )
