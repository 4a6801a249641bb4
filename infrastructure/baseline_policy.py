"""The spec's baseline EC2/S3/Lambda statements, tag-scoped: built once for the agent's roles and the member role."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from .nag import rendered, wildcard, wildcard_action
from .settings import managed_condition

_OWN = f"arn:{Aws.PARTITION}"
INSTANCES = f"{_OWN}:ec2:*:{Aws.ACCOUNT_ID}:instance/*"
FUNCTIONS = f"{_OWN}:lambda:*:{Aws.ACCOUNT_ID}:function:*"
BUCKETS = f"{_OWN}:s3:::*"
AMI_PARAMETERS = f"{_OWN}:ssm:*::parameter/aws/service/ami-*"


def execution_role_arn(lambda_execution_role_name: str, account: str) -> str:
    """The Lambda execution role the agent passes to the functions it creates, in `account` (`*`: any account)."""
    return f"{_OWN}:iam::{account}:role/{lambda_execution_role_name}"


def baseline_statements(
    lambda_execution_role_name: str, *, execution_role_account: str = "*", extra_reads: Sequence[str] = ()
) -> list[iam.PolicyStatement]:
    """Reads; creates carry the managed tag; changes need it where the service can check it.

    `execution_role_account` is `*` for the agent's own roles (they act in any member account) and this account
    for the member role; `extra_reads` are further read-only actions without resource-level permissions.
    """
    execution_role = execution_role_arn(lambda_execution_role_name, execution_role_account)
    return [
        iam.PolicyStatement(
            sid="Read",
            actions=["ec2:Describe*", "s3:ListAllMyBuckets", "lambda:ListFunctions", *extra_reads],
            resources=["*"],
        ),
        iam.PolicyStatement(sid="Ec2Launch", actions=["ec2:RunInstances", "ec2:CreateTags"], resources=["*"]),
        iam.PolicyStatement(
            sid="Ec2ManagedInstancesOnly",
            actions=[
                "ec2:StopInstances",
                "ec2:StartInstances",
                "ec2:RebootInstances",  # beyond the spec's list: the EC2 provider reboots on request
                "ec2:TerminateInstances",
                "ec2:ModifyInstanceAttribute",
            ],
            resources=[INSTANCES],
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
            resources=[BUCKETS],
        ),
        # S3 evaluates aws:ResourceTag on a bucket only when ABAC is enabled on it (PutBucketAbac), so a tag
        # condition here would deny every delete. The provider checks MiyabiManaged=true before deleting and
        # deletes only empty buckets (it never deletes objects).
        iam.PolicyStatement(sid="S3DeleteEmptyBuckets", actions=["s3:DeleteBucket"], resources=[BUCKETS]),
        iam.PolicyStatement(sid="S3PutObject", actions=["s3:PutObject"], resources=[f"{BUCKETS}/*"]),
        iam.PolicyStatement(
            sid="LambdaCreateTaggedOnly",
            actions=["lambda:CreateFunction", "lambda:TagResource"],
            resources=[FUNCTIONS],
            conditions=managed_condition("aws:RequestTag"),
        ),
        iam.PolicyStatement(
            sid="LambdaChangeManagedOnly",
            actions=["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction"],
            resources=[FUNCTIONS],
            conditions=managed_condition(),
        ),
        iam.PolicyStatement(sid="LambdaRead", actions=["lambda:GetFunction", "lambda:ListTags"], resources=[FUNCTIONS]),
        iam.PolicyStatement(
            sid="PassLambdaExecutionRole",
            actions=["iam:PassRole"],
            resources=[execution_role],
            conditions={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
        # Beyond the spec's list: the Lambda provider looks the execution role up before CreateFunction.
        iam.PolicyStatement(sid="ReadLambdaExecutionRole", actions=["iam:GetRole"], resources=[execution_role]),
        iam.PolicyStatement(sid="PublicAmiParameters", actions=["ssm:GetParameter"], resources=[AMI_PARAMETERS]),
    ]


def baseline_acknowledgements(lambda_execution_role_name: str, *, execution_role_account: str = "*") -> dict[str, str]:
    """cdk-nag's IAM5 findings of `baseline_statements` (same arguments), each with its reason."""
    reasons = {
        wildcard("*"): "ec2:RunInstances/CreateTags act on resources that do not exist yet (instance, volume, ENI); "
        "the Describe/List/Get reads (ec2:Describe*, s3:ListAllMyBuckets, lambda:ListFunctions, ...) support no "
        "resource-level permissions.",
        wildcard_action("ec2:Describe*"): "Read-only: the EC2 provider needs DescribeInstances, "
        "DescribeInstanceTypes and DescribeImages (and its waiters); every Describe action is read-only.",
        wildcard(rendered(INSTANCES)): "Any instance of this account, but only when tagged MiyabiManaged=true "
        "(condition).",
        wildcard(rendered(BUCKETS)): "Bucket names are chosen per task; S3 evaluates no tag conditions without "
        "ABAC, so the domain library refuses buckets not tagged MiyabiManaged=true (and deletes only empty ones).",
        wildcard(rendered(f"{BUCKETS}/*")): "PutObject into buckets the agent creates (names chosen per task).",
        wildcard(rendered(FUNCTIONS)): "Functions of this account; creation needs the MiyabiManaged=true request "
        "tag and every change needs the MiyabiManaged=true resource tag.",
        wildcard(rendered(AMI_PARAMETERS)): "AWS's public AMI-alias parameters (read-only) in any region the agent "
        "may launch into.",
    }
    if execution_role_account == "*":
        role = execution_role_arn(lambda_execution_role_name, execution_role_account)
        reasons[wildcard(rendered(role))] = (
            "GetRole/PassRole of the one execution role name in any member account; PassRole only to "
            "lambda.amazonaws.com."
        )
    return reasons
