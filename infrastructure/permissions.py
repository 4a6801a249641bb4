"""Who may touch what: table/bus grants per step and the scoped policy for managing AWS resources."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .baseline_policy import baseline_acknowledgements, baseline_statements
from .functions import AgentFunctions
from .messaging import AgentMessaging
from .nag import acknowledge, acknowledge_indexes, rendered, wildcard
from .state import AgentState

RESOURCE_STEPS = ("execute", "status", "tag")


def grant_pipeline_access(functions: AgentFunctions, state: AgentState, messaging: AgentMessaging) -> None:
    """Least privilege on the agent's own state: each step gets only the tables and bus it uses."""
    for step in ("intake", "analyze", "guard", "complete", "fail"):
        grant_table(functions[step], state.tasks, write=True)
    grant_table(functions["register"], state.resources, write=True)
    grant_table(functions["register"], state.agents, write=True)
    grant_table(functions["register"], state.tasks, write=False)
    for step in RESOURCE_STEPS:
        grant_table(functions[step], state.resources, write=False)
    # The wait loop's status check records a resource AWS reports Failed (state and AWS's reason) before failing.
    grant_table(functions["status"], state.resources, write=True)
    grant_table(functions["status"], state.agents, write=True)
    for step in ("complete", "fail"):
        messaging.bus.grant_put_events_to(functions[step])


def grant_table(function: lambda_.Function, table: dynamodb.Table, *, write: bool) -> None:
    """Read (or read and write) one table, its index wildcard acknowledged."""
    if write:
        table.grant_read_write_data(function)
    else:
        table.grant_read_data(function)
    acknowledge_indexes(function.role, [table])


class ResourceManagementPolicy(Construct):
    """The baseline actions of the spec for the steps that create, poll and tag AWS resources, tag-scoped."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Iterable[lambda_.Function],
        member_role_name: str,
        lambda_execution_role_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        member_role = f"arn:{Aws.PARTITION}:iam::*:role/{member_role_name}"
        statements = [
            *baseline_statements(lambda_execution_role_name),
            iam.PolicyStatement(sid="AssumeMemberAccountRole", actions=["sts:AssumeRole"], resources=[member_role]),
        ]
        roles = [fn.role for fn in functions if fn.role is not None]
        self.policy = iam.Policy(self, "Policy", statements=statements, roles=roles)
        acknowledge(
            self.policy,
            {
                **baseline_acknowledgements(lambda_execution_role_name),
                wildcard(rendered(member_role)): "The spec's cross-account model: "
                "assume the one MiyabiAgentRole name in each member account of the organization.",
            },
        )
