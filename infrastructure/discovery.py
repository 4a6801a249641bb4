"""The org-wide discovery workflow: plan account x region → Distributed Map of discovery workers; on a schedule."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from aws_agent.config import MultiAccountConfig

from .nag import acknowledge, acknowledge_indexes, wildcard
from .workflows import acknowledge_map_runs, acknowledge_role, logged_state_machine, over_targets, plan_step, scheduled

DISCOVERY_STEPS = ("discover_plan", "discover_target")
# What a discovery worker reads in each account x region (the providers' describes and the Tagging API).
DISCOVERY_READ_ACTIONS = [
    "tag:GetResources",
    "ec2:DescribeInstances",
    "s3:ListAllMyBuckets",
    "lambda:ListFunctions",
]
ORGANIZATIONS_READ_ACTIONS = [
    "organizations:DescribeOrganization",
    "organizations:ListRoots",
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListTagsForResource",
]


class DiscoveryWorkflow(Construct):
    """PlanDiscovery → DiscoverTargets (Distributed Map, one Lambda per account x region), started by a schedule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        resources: dynamodb.Table,
        agents: dynamodb.Table,
        bus: events.IEventBus,
        config: MultiAccountConfig,
        member_role_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        plan = plan_step(self, "PlanDiscovery", functions["discover_plan"])
        # Workers write the Resources table and emit drift themselves.
        self.map = over_targets(
            self,
            "DiscoverTargets",
            "DiscoverTarget",
            functions["discover_target"],
            max_concurrency=config.discovery_concurrency,
        )
        self.state_machine = logged_state_machine(
            self,
            plan.next(self.map),
            comment="AWS Agent discovery and reconciliation over every account x region",
            timeout=Duration.hours(2),
        )
        self.schedule = scheduled(
            self,
            self.state_machine,
            expression=config.discovery_schedule,
            description="Scheduled org-wide discovery and reconciliation of the Resources table",
        )
        worker = functions["discover_target"]
        resources.grant_read_write_data(worker)
        agents.grant_read_write_data(worker)
        bus.grant_put_events_to(worker)
        self.read_policy = discovery_read_policy(self, "ReadPolicy", [worker], member_role_name)
        self.organizations_policy = organizations_read_policy(self, "OrganizationsPolicy", [functions["discover_plan"]])
        self.budgets_policy = budgets_policy(self, "BudgetsPolicy", functions["discover_plan"])
        self._acknowledge(functions, resources, agents)

    def _acknowledge(
        self, functions: Mapping[str, lambda_.Function], resources: dynamodb.Table, agents: dynamodb.Table
    ) -> None:
        acknowledge_indexes(functions["discover_target"].role, [resources, agents])
        acknowledge_role(self.state_machine, {step: functions[step] for step in DISCOVERY_STEPS})
        acknowledge_map_runs(self.state_machine)


def discovery_read_policy(
    scope: Construct, construct_id: str, functions: list[lambda_.Function], member_role_name: str
) -> iam.Policy:
    """Read the fleet in the agent's own account and assume the member role elsewhere."""
    own = f"arn:{Aws.PARTITION}"
    policy = iam.Policy(
        scope,
        construct_id,
        statements=[
            iam.PolicyStatement(sid="ListFleet", actions=DISCOVERY_READ_ACTIONS, resources=["*"]),
            iam.PolicyStatement(sid="ReadBucketTags", actions=["s3:GetBucketTagging"], resources=[f"{own}:s3:::*"]),
            iam.PolicyStatement(
                sid="ReadFunctionTags",
                actions=["lambda:ListTags"],
                resources=[f"{own}:lambda:*:{Aws.ACCOUNT_ID}:function:*"],
            ),
            iam.PolicyStatement(
                sid="AssumeMemberAccountRole",
                actions=["sts:AssumeRole"],
                resources=[f"{own}:iam::*:role/{member_role_name}"],
            ),
        ],
        roles=[f.role for f in functions if f.role is not None],
    )
    acknowledge(
        policy,
        {
            wildcard("*"): "tag:GetResources, ec2:DescribeInstances, s3:ListAllMyBuckets and lambda:ListFunctions "
            "are read-only listings that support no resource-level permissions.",
            wildcard("arn:<AWS::Partition>:s3:::*"): "Read-only: the tags of every bucket discovered.",
            wildcard("arn:<AWS::Partition>:lambda:*:<AWS::AccountId>:function:*"): "Read-only: the tags of "
            "every function discovered in this account.",
            wildcard(f"arn:<AWS::Partition>:iam::*:role/{member_role_name}"): "The spec's cross-account model: "
            "assume the one member role name in each member account.",
        },
    )
    return policy


def organizations_read_policy(scope: Construct, construct_id: str, functions: list[lambda_.Function]) -> iam.Policy:
    """Read the organization's accounts, OUs and account tags (the account directory)."""
    policy = iam.Policy(
        scope,
        construct_id,
        statements=[iam.PolicyStatement(sid="ReadOrganization", actions=ORGANIZATIONS_READ_ACTIONS, resources=["*"])],
        roles=[f.role for f in functions if f.role is not None],
    )
    acknowledge(
        policy,
        {
            wildcard("*"): "Organizations' Describe/List calls are read-only; ListRoots, ListAccounts and "
            "DescribeOrganization support no resource-level permissions.",
        },
    )
    return policy


def budgets_policy(scope: Construct, construct_id: str, function: lambda_.Function) -> iam.Policy:
    """Keep the per-account budgets (billing alerts) in place: read every budget, change only the agent's own."""
    budgets = f"arn:{Aws.PARTITION}:budgets::{Aws.ACCOUNT_ID}:budget"
    policy = iam.Policy(
        scope,
        construct_id,
        statements=[
            iam.PolicyStatement(sid="ViewBudgets", actions=["budgets:ViewBudget"], resources=[f"{budgets}/*"]),
            iam.PolicyStatement(
                sid="ModifyAgentBudgets", actions=["budgets:ModifyBudget"], resources=[f"{budgets}/miyabi-account-*"]
            ),
        ],
        roles=[function.role] if function.role is not None else [],
    )
    acknowledge(
        policy,
        {
            wildcard("arn:<AWS::Partition>:budgets::<AWS::AccountId>:budget/*"): "Read-only: DescribeBudgets lists "
            "the account's budgets to find the agent's own.",
            wildcard("arn:<AWS::Partition>:budgets::<AWS::AccountId>:budget/miyabi-account-*"): "Only the budgets "
            "the agent creates (one per member account, named miyabi-account-<id>).",
        },
    )
    return policy
