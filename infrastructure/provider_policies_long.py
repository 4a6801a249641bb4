"""Least privilege for the long-running providers (RDS, Aurora, DynamoDB, CloudFormation): one managed policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .nag import acknowledge, rendered, wildcard
from .settings import managed_condition

# The role a CloudFormation task may hand to CloudFormation (RoleARN): the stack's resources are then made with that
# role's permissions, not the agent's. Created by the member-account bootstrap like MiyabiAgentRole.
CLOUDFORMATION_ROLE_NAME = "MiyabiCloudFormationExecutionRole"


class LongRunningProviderPolicy(Construct):
    """A managed policy (inline policies are capped at 10 KB per role) for the steps that act on AWS resources."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Iterable[lambda_.Function] = (),
        roles: Sequence[iam.IRole] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        arn = f"arn:{Aws.PARTITION}"
        account = Aws.ACCOUNT_ID
        db = f"{arn}:rds:*:{account}:db:*"
        cluster = f"{arn}:rds:*:{account}:cluster:*"
        snapshots = [f"{arn}:rds:*:{account}:snapshot:*", f"{arn}:rds:*:{account}:cluster-snapshot:*"]
        rds_secret = f"{arn}:secretsmanager:*:{account}:secret:rds!*"
        table = f"{arn}:dynamodb:*:{account}:table/*"
        stack = f"{arn}:cloudformation:*:{account}:stack/*"
        change_set = f"{arn}:cloudformation:*:{account}:changeSet/*"
        cfn_role = f"{arn}:iam::*:role/{CLOUDFORMATION_ROLE_NAME}"
        statements = [
            # --- RDS and Aurora ---
            iam.PolicyStatement(
                sid="RdsCreateTaggedOnly",
                actions=["rds:CreateDBInstance", "rds:CreateDBCluster", "rds:AddTagsToResource"],
                resources=[db, cluster],
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="RdsChangeManagedOnly",
                actions=[
                    "rds:ModifyDBInstance",
                    "rds:DeleteDBInstance",
                    "rds:DeleteDBCluster",
                    "rds:AddTagsToResource",
                    "rds:CreateDBSnapshot",  # the final snapshot of a delete
                    "rds:CreateDBClusterSnapshot",
                ],
                resources=[db, cluster],
                conditions=managed_condition("aws:ResourceTag"),
            ),
            # The final snapshot is new (no tags to condition on); taking one destroys nothing.
            iam.PolicyStatement(
                sid="RdsFinalSnapshots",
                actions=["rds:CreateDBSnapshot", "rds:CreateDBClusterSnapshot", "rds:AddTagsToResource"],
                resources=snapshots,
            ),
            iam.PolicyStatement(
                sid="RdsRead",
                actions=[
                    "rds:DescribeDBInstances",
                    "rds:DescribeDBClusters",
                    "rds:DescribeEvents",
                    "rds:DescribeDBSnapshots",  # a replayed delete finds its final snapshot
                    "rds:DescribeDBClusterSnapshots",
                ],
                resources=["*"],
            ),
            # ManageMasterUserPassword: RDS creates the password secret (always named rds!...) as the caller.
            iam.PolicyStatement(
                sid="RdsMasterPasswordSecret",
                actions=["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
                resources=[rds_secret],
            ),
            # --- DynamoDB ---
            iam.PolicyStatement(
                sid="DynamoDbCreateTaggedOnly",
                actions=["dynamodb:CreateTable", "dynamodb:TagResource"],
                resources=[table],
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="DynamoDbChangeManagedOnly",
                actions=["dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:TagResource"],
                resources=[table],
                conditions=managed_condition("aws:ResourceTag"),
            ),
            iam.PolicyStatement(
                sid="DynamoDbRead",
                actions=["dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"],
                resources=[table],
            ),
            iam.PolicyStatement(sid="DynamoDbList", actions=["dynamodb:ListTables"], resources=["*"]),
            # --- CloudFormation ---
            iam.PolicyStatement(
                sid="CfnCreateTaggedOnly",
                actions=["cloudformation:CreateStack", "cloudformation:TagResource"],
                resources=[stack],
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="CfnChangeManagedOnly",
                actions=[
                    "cloudformation:UpdateStack",
                    "cloudformation:DeleteStack",
                    "cloudformation:CreateChangeSet",
                    "cloudformation:ExecuteChangeSet",
                    "cloudformation:DetectStackDrift",
                    "cloudformation:TagResource",
                ],
                resources=[stack],
                conditions=managed_condition("aws:ResourceTag"),
            ),
            iam.PolicyStatement(
                sid="CfnRead",
                actions=[
                    "cloudformation:DescribeStacks",
                    "cloudformation:DescribeStackEvents",
                    "cloudformation:DescribeChangeSet",
                ],
                resources=[stack, change_set],
            ),
            iam.PolicyStatement(
                sid="CfnReadAny",
                actions=[
                    "cloudformation:DescribeStacks",  # without a name: discovery
                    "cloudformation:ValidateTemplate",
                    "cloudformation:ListStacks",  # a replayed delete finds the deleted stack
                    "cloudformation:DescribeStackDriftDetectionStatus",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CfnPassExecutionRole",
                actions=["iam:PassRole"],
                resources=[cfn_role],
                conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            ),
        ]
        roles = [*roles, *(fn.role for fn in functions if fn.role is not None)]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="AWS Agent: RDS, Aurora, DynamoDB and CloudFormation providers (tag-scoped changes)",
            statements=statements,
            roles=roles,
        )
        acknowledge(
            self.policy,
            {
                wildcard("*"): "Read-only calls without resource-level permissions or listing every resource: "
                "rds:Describe* (instances, clusters, events, snapshots), dynamodb:ListTables, "
                "cloudformation:DescribeStacks/ListStacks (all stacks), ValidateTemplate, "
                "DescribeStackDriftDetectionStatus.",
                wildcard(rendered(db)): "DB instances of this account; creation needs the MiyabiManaged=true request "
                "tag and every change or delete the MiyabiManaged=true resource tag (conditions).",
                wildcard(rendered(cluster)): "Aurora clusters of this account; creation needs the MiyabiManaged=true "
                "request tag and every change or delete the MiyabiManaged=true resource tag (conditions).",
                wildcard(rendered(snapshots[0])): "The final snapshot a managed DB instance's delete takes; its "
                "name is chosen per task. Creating a snapshot destroys nothing.",
                wildcard(rendered(snapshots[1])): "The final snapshot a managed Aurora cluster's delete takes; its "
                "name is chosen per task. Creating a snapshot destroys nothing.",
                wildcard(rendered(rds_secret)): "RDS names the master-password secret it creates rds!<id>; only "
                "that prefix, only CreateSecret/TagResource (ManageMasterUserPassword).",
                wildcard(rendered(table)): "Table names are chosen per task; creation needs the MiyabiManaged=true "
                "request tag, changes and deletes the MiyabiManaged=true resource tag; reads are describe-only.",
                wildcard(rendered(stack)): "Stack names are chosen per task; creation needs the MiyabiManaged=true "
                "request tag, updates, change sets, drift detection and deletes the resource tag.",
                wildcard(rendered(change_set)): "Read-only: DescribeChangeSet of the change sets the agent creates.",
                wildcard(rendered(cfn_role)): "PassRole of the one CloudFormation execution role name in any member "
                "account, only to cloudformation.amazonaws.com.",
            },
        )
