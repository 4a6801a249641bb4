"""Who may touch what: table/bus grants per step and the scoped policy for managing AWS resources."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .functions import AgentFunctions
from .messaging import AgentMessaging
from .nag import acknowledge, arn_of, rendered, wildcard, wildcard_action
from .settings import managed_condition
from .state import AgentState

RESOURCE_STEPS = ("execute", "status", "tag")
_INDEX_REASON = (
    "The L2 table grant covers the table's GSIs via '<table arn>/index/*'; the steps query them "
    "(by-status, by-account-type, by-decision-maker) and the wildcard is limited to this one table."
)


def grant_pipeline_access(functions: AgentFunctions, state: AgentState, messaging: AgentMessaging) -> None:
    """Least privilege on the agent's own state: each step gets only the tables and bus it uses."""
    for step in ("intake", "analyze", "guard", "complete", "fail"):
        _grant(functions[step], state.tasks, write=True)
    _grant(functions["register"], state.resources, write=True)
    _grant(functions["register"], state.agents, write=True)
    _grant(functions["register"], state.tasks, write=False)
    for step in RESOURCE_STEPS:
        _grant(functions[step], state.resources, write=False)
    # The wait loop's status check records a resource AWS reports Failed (state and AWS's reason) before failing.
    _grant(functions["status"], state.resources, write=True)
    _grant(functions["status"], state.agents, write=True)
    for step in ("complete", "fail"):
        messaging.bus.grant_put_events_to(functions[step])


def _grant(function: lambda_.Function, table: dynamodb.Table, *, write: bool) -> None:
    if write:
        table.grant_read_write_data(function)
    else:
        table.grant_read_data(function)
    if function.role is not None:
        acknowledge(function.role, {wildcard(f"{arn_of(table)}/index/*"): _INDEX_REASON})


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
        own = f"arn:{Aws.PARTITION}"
        instances = f"{own}:ec2:*:{Aws.ACCOUNT_ID}:instance/*"
        lambda_functions = f"{own}:lambda:*:{Aws.ACCOUNT_ID}:function:*"
        buckets = f"{own}:s3:::*"
        execution_role = f"{own}:iam::*:role/{lambda_execution_role_name}"
        statements = [
            iam.PolicyStatement(
                sid="Ec2LaunchAndDescribe",
                actions=["ec2:RunInstances", "ec2:CreateTags", "ec2:Describe*"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="Ec2ManagedInstancesOnly",
                actions=[
                    "ec2:StopInstances",
                    "ec2:StartInstances",
                    "ec2:RebootInstances",  # beyond the spec's list: the EC2 provider reboots on request
                    "ec2:TerminateInstances",
                    "ec2:ModifyInstanceAttribute",
                ],
                resources=[instances],
                conditions=managed_condition(),
            ),
            iam.PolicyStatement(
                sid="S3Buckets",
                actions=[
                    "s3:CreateBucket",
                    "s3:PutBucketTagging",
                    "s3:TagResource",  # beyond the spec's list: tags given to CreateBucket itself
                    "s3:GetBucketTagging",
                    "s3:PutEncryptionConfiguration",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:PutBucketVersioning",
                    "s3:GetBucketVersioning",  # beyond the spec's list: the S3 provider reads it back
                    "s3:ListBucket",
                    "s3:GetBucketLocation",
                ],
                resources=[buckets],
            ),
            # S3 evaluates aws:ResourceTag on a bucket only when ABAC is enabled on it (PutBucketAbac), so a tag
            # condition here would deny every delete. The provider checks MiyabiManaged=true before deleting and
            # deletes only empty buckets (it never deletes objects).
            iam.PolicyStatement(sid="S3DeleteEmptyBuckets", actions=["s3:DeleteBucket"], resources=[buckets]),
            iam.PolicyStatement(sid="S3PutObject", actions=["s3:PutObject"], resources=[f"{buckets}/*"]),
            iam.PolicyStatement(sid="S3ListBuckets", actions=["s3:ListAllMyBuckets"], resources=["*"]),
            iam.PolicyStatement(
                sid="LambdaCreateTaggedOnly",
                actions=["lambda:CreateFunction", "lambda:TagResource"],
                resources=[lambda_functions],
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="LambdaChangeManagedOnly",
                actions=["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction"],
                resources=[lambda_functions],
                conditions=managed_condition(),
            ),
            iam.PolicyStatement(
                sid="LambdaRead", actions=["lambda:GetFunction", "lambda:ListTags"], resources=[lambda_functions]
            ),
            iam.PolicyStatement(sid="LambdaList", actions=["lambda:ListFunctions"], resources=["*"]),
            iam.PolicyStatement(
                sid="PassLambdaExecutionRole",
                actions=["iam:PassRole"],
                resources=[execution_role],
                conditions={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            ),
            # Beyond the spec's list: the Lambda provider looks the execution role up before CreateFunction.
            iam.PolicyStatement(sid="ReadLambdaExecutionRole", actions=["iam:GetRole"], resources=[execution_role]),
            iam.PolicyStatement(
                sid="PublicAmiParameters",
                actions=["ssm:GetParameter"],
                resources=[f"{own}:ssm:*::parameter/aws/service/ami-*"],
            ),
            iam.PolicyStatement(
                sid="AssumeMemberAccountRole",
                actions=["sts:AssumeRole"],
                resources=[f"{own}:iam::*:role/{member_role_name}"],
            ),
        ]
        roles = [fn.role for fn in functions if fn.role is not None]
        self.policy = iam.Policy(self, "Policy", statements=statements, roles=roles)
        acknowledge(
            self.policy,
            {
                wildcard("*"): "ec2:RunInstances/CreateTags act on resources that do not exist yet (instance, "
                "volume, ENI); ec2:Describe*, s3:ListAllMyBuckets and lambda:ListFunctions support no "
                "resource-level permissions.",
                wildcard_action("ec2:Describe*"): "Read-only: the EC2 provider needs DescribeInstances, "
                "DescribeInstanceTypes and DescribeImages (and its waiters); every Describe action is read-only.",
                wildcard(rendered(instances)): "Any instance of this account, but only when tagged "
                "MiyabiManaged=true (condition).",
                wildcard(rendered(buckets)): "Bucket names are chosen per task; DeleteBucket is limited to "
                "MiyabiManaged=true buckets and the domain library refuses unmanaged ones.",
                wildcard(rendered(f"{buckets}/*")): "PutObject into buckets the agent creates (names chosen per task).",
                wildcard(rendered(lambda_functions)): "Functions of this account; creation needs the "
                "MiyabiManaged=true request tag and every change needs the MiyabiManaged=true resource tag.",
                wildcard(rendered(execution_role)): "GetRole/PassRole of the one execution role name in any "
                "member account; PassRole only to lambda.amazonaws.com.",
                wildcard(rendered(f"{own}:ssm:*::parameter/aws/service/ami-*")): "AWS's public AMI-alias "
                "parameters (read-only) in any region the agent may launch into.",
                wildcard(rendered(f"{own}:iam::*:role/{member_role_name}")): "The spec's cross-account model: "
                "assume the one MiyabiAgentRole name in each member account of the organization.",
            },
        )
