"""AnalyzeBilling's grants: Cost Explorer reads and the report cache in the CostReports table, for Execute."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .nag import acknowledge, wildcard


def billing_policy(
    scope: Construct, construct_id: str, functions: list[lambda_.Function], *, reports: dynamodb.ITable
) -> iam.Policy:
    """ce:GetCostAndUsage (read-only, no resource-level permissions) and the billing cache's two item calls."""
    policy = iam.Policy(
        scope,
        construct_id,
        statements=[
            iam.PolicyStatement(sid="ReadCostAndUsage", actions=["ce:GetCostAndUsage"], resources=["*"]),
            # BillingCache reads and writes one item per period (partition `billing-cache`): no scan, no query.
            iam.PolicyStatement(
                sid="BillingReportCache",
                actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[reports.table_arn],
            ),
        ],
        roles=[f.role for f in functions if f.role is not None],
    )
    acknowledge(
        policy,
        {
            wildcard("*"): "ce:GetCostAndUsage is a read-only call that supports no resource-level permissions "
            "(Cost Explorer has no resource ARNs); every page it returns is cached to bound its $0.01 cost.",
        },
    )
    return policy
