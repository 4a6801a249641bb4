"""The member-account role the agent assumes, as a stack: deployed by hand, or to every OU by a StackSet."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import Aws, CfnParameter, Fn, Stack
from aws_cdk import aws_cloudformation as cfn
from aws_cdk import aws_iam as iam
from constructs import Construct

from aws_agent.config import AgentConfig

from .baseline_policy import baseline_acknowledgements, baseline_statements
from .nag import acknowledge, wildcard
from .settings import STACK_NAME

MEMBER_ROLE_STACK_NAME = "MiyabiMemberRole"
AGENT_ACCOUNT_CONTEXT = "aws-agent:agent-account"  # deploy MiyabiMemberRole by hand: the management account
AGENT_PRINCIPALS_CONTEXT = "aws-agent:agent-principals"  # optional: role ARN patterns allowed to assume
MEMBER_OUS_CONTEXT = "aws-agent:member-ous"  # the StackSet's target OUs (ids, list or comma-separated)
STACK_SET_NAME = "MiyabiMemberRole"
# Reads without resource-level permissions that discovery and cost optimization make here through this one role.
MEMBER_READS = ("tag:GetResources", "cloudwatch:GetMetricData", "rds:DescribeDBInstances", "rds:ListTagsForResource")


def context_list(scope: Construct, key: str) -> list[str]:
    raw = scope.node.try_get_context(key)
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.startswith("[") else raw.split(",")
    return [str(v).strip() for v in raw if str(v).strip()]


class MemberRoleStack(Stack):
    """`MiyabiAgentRole` (trusting only the agent's execution roles) and the Lambda execution role, in one account.

    Parameters: AgentAccountId (the management account) and AgentPrincipalArns (ARN patterns of the agent's Lambda
    roles there, matched with ArnLike on aws:PrincipalArn). The account principal alone would let any role of the
    management account in; the condition narrows it to the agent's own roles.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AgentConfig,
        agent_account: str | None = None,
        agent_principals: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        account = CfnParameter(
            self,
            "AgentAccountId",
            type="String",
            allowed_pattern=r"^\d{12}$",
            description="The management account where the AWS Agent runs",
            default=agent_account or None,
        )
        default_principals = list(agent_principals) or (
            [f"arn:aws:iam::{agent_account}:role/{STACK_NAME}-*"] if agent_account else []
        )
        principals = CfnParameter(
            self,
            "AgentPrincipalArns",
            type="CommaDelimitedList",
            description="ARNs (wildcards allowed) of the agent's execution roles that may assume this role",
            default=",".join(default_principals) or None,
        )
        conditions: dict[str, Any] = {"ArnLike": {"aws:PrincipalArn": principals.value_as_list}}
        external_id = config.multi_account.member_role_external_id
        if external_id:
            conditions["StringEquals"] = {"sts:ExternalId": external_id}
        self.role = iam.Role(
            self,
            "AgentRole",
            role_name=config.member_role_name,
            description="Assumed by the AWS Agent from the management account (tag-scoped changes only)",
            assumed_by=iam.AccountPrincipal(account.value_as_string).with_conditions(conditions),
            max_session_duration=cdk.Duration.hours(1),
        )
        self.execution_role = iam.Role(
            self,
            "LambdaExecutionRole",
            role_name=config.lambda_execution_role_name,
            description="The role functions created by the AWS Agent run as",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        logs = f"arn:{Aws.PARTITION}:logs:*:{Aws.ACCOUNT_ID}:log-group:/aws/lambda/*"
        self.execution_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[logs, f"{logs}:*"],
            )
        )
        self.policy = iam.Policy(
            self, "AgentPolicy", statements=member_statements(config.lambda_execution_role_name), roles=[self.role]
        )
        self._acknowledge(config)
        self._operations(config)

    def _operations(self, config: AgentConfig) -> None:
        """The same provider, health and audit permissions the agent's own roles hold, here for this account's
        resources (the agent reaches them through this role): managed policies, as in the agent's stack."""
        from .guardians import AUDIT_ACTIONS, AUDIT_BUCKET_ACTIONS
        from .health import health_statements
        from .provider_policies_edge import EdgeProviderPolicies
        from .provider_policies_long import LongRunningProviderPolicy
        from .provider_policies_net import NetProviderPolicies

        roles = [self.role]
        LongRunningProviderPolicy(self, "LongRunningProviders", roles=roles)
        EdgeProviderPolicies(self, "EdgeProviders", roles=roles)
        NetProviderPolicies(self, "NetProviders", roles=roles)
        alarms, status, heal = health_statements(config.health.alarm_prefix)
        audit = [
            iam.PolicyStatement(sid="AuditDescribe", actions=AUDIT_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                sid="AuditBuckets", actions=AUDIT_BUCKET_ACTIONS, resources=[f"arn:{Aws.PARTITION}:s3:::*"]
            ),
        ]
        health_and_audit = iam.ManagedPolicy(
            self,
            "HealthAndAudit",
            description="AWS Agent: the agent's alarms, direct status reads, heal actions (tag-scoped), audit reads",
            statements=[*alarms, *status, *heal, *audit],
            roles=roles,
        )
        own = "arn:<AWS::Partition>"
        acknowledge(
            health_and_audit,
            {
                wildcard("*"): "Read-only lookups without resource-level permissions: direct status "
                "(DescribeInstanceStatus, DescribeDBInstances, ...), heal reads and SecurityAudit's describes.",
                wildcard(f"{own}:cloudwatch:*:<AWS::AccountId>:alarm:{config.health.alarm_prefix}/*"): "The "
                "agent's own alarms only, named '<prefix>/<account>/<type>/<id>/<metric>'.",
                wildcard(f"{own}:s3:::*"): "Read-only: bucket status and the audit's ACL/policy/location reads.",
                **{
                    wildcard(r.replace(f"arn:{Aws.PARTITION}", own).replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")): (
                        "Read-only status, or a heal action only on resources tagged MiyabiManaged=true (condition)."
                    )
                    for statement in (*status, *heal)
                    for r in statement.resources
                    if "*" in r and r != "*"
                },
            },
        )

    def _acknowledge(self, config: AgentConfig) -> None:
        acknowledge(
            self.policy,
            {
                **baseline_acknowledgements(config.lambda_execution_role_name, execution_role_account=Aws.ACCOUNT_ID),
                wildcard("*"): "Describe/List/Get calls (ec2:Describe*, s3:ListAllMyBuckets, lambda:ListFunctions, "
                "tag:GetResources, cloudwatch:GetMetricData, rds:Describe*) support no resource-level permissions; "
                "ec2:RunInstances/CreateTags act on resources that do not exist yet.",
            },
        )
        acknowledge(
            self.execution_role,
            {
                wildcard("arn:<AWS::Partition>:logs:*:<AWS::AccountId>:log-group:/aws/lambda/*"): "Functions the "
                "agent creates write their own log groups, whose names are chosen per task.",
                wildcard("arn:<AWS::Partition>:logs:*:<AWS::AccountId>:log-group:/aws/lambda/*:*"): "Their streams.",
            },
        )


def member_statements(lambda_execution_role_name: str) -> list[iam.PolicyStatement]:
    """Least privilege in a member account: the agent's baseline statements (the execution role of this account),
    plus the reads discovery and cost optimization need here."""
    return baseline_statements(
        lambda_execution_role_name, execution_role_account=Aws.ACCOUNT_ID, extra_reads=MEMBER_READS
    )


def member_role_template(config: AgentConfig) -> dict[str, Any]:
    """The member stack's template, as its StackSet deploys it."""
    return raw_template(MemberRoleStack, MEMBER_ROLE_STACK_NAME, config)


def raw_template(stack_type: type[Stack], name: str, config: AgentConfig) -> dict[str, Any]:
    """A member-account stack's template, synthesized on its own (no bootstrap resources: StackSets deploy it raw)."""
    app = cdk.App()
    stack = stack_type(  # type: ignore[call-arg]
        app, name, config=config, synthesizer=cdk.BootstraplessSynthesizer(), analytics_reporting=False
    )
    return dict(app.synth().get_stack_by_name(stack.stack_name).template)


class MemberRoleStackSet(Construct):
    """A service-managed StackSet: the member stack in every account of the target OUs, new accounts included."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AgentConfig,
        organizational_unit_ids: Sequence[str],
        agent_role_arns: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.stack_set = service_managed_stack_set(
            self,
            name=STACK_SET_NAME,
            description="AWS Agent member role (MiyabiAgentRole) and Lambda execution role",
            template=member_role_template(config),
            capabilities=["CAPABILITY_NAMED_IAM"],
            parameters={"AgentAccountId": Aws.ACCOUNT_ID, "AgentPrincipalArns": Fn.join(",", list(agent_role_arns))},
            organizational_unit_ids=organizational_unit_ids,
            regions=[Aws.REGION],  # IAM is global: one region (the agent's) is enough for every account
        )


def service_managed_stack_set(
    scope: Construct,
    *,
    name: str,
    description: str,
    template: dict[str, Any],
    capabilities: list[str],
    parameters: dict[str, str],
    organizational_unit_ids: Sequence[str],
    regions: Sequence[str],
) -> cfn.CfnStackSet:
    """`<scope>/StackSet`: a template in every account of the OUs and regions, deployed to new accounts as they join
    (automatic deployment) and removed from accounts that leave; 25 % of accounts at a time, 10 % may fail."""
    return cfn.CfnStackSet(
        scope,
        "StackSet",
        stack_set_name=name,
        description=description,
        permission_model="SERVICE_MANAGED",
        auto_deployment=cfn.CfnStackSet.AutoDeploymentProperty(enabled=True, retain_stacks_on_account_removal=False),
        capabilities=capabilities,
        managed_execution={"Active": True},
        operation_preferences=cfn.CfnStackSet.OperationPreferencesProperty(
            failure_tolerance_percentage=10, max_concurrent_percentage=25, region_concurrency_type="PARALLEL"
        ),
        parameters=[
            cfn.CfnStackSet.ParameterProperty(parameter_key=k, parameter_value=v) for k, v in parameters.items()
        ],
        stack_instances_group=[
            cfn.CfnStackSet.StackInstancesProperty(
                deployment_targets=cfn.CfnStackSet.DeploymentTargetsProperty(
                    organizational_unit_ids=list(organizational_unit_ids)
                ),
                regions=list(regions),
            )
        ],
        # Compact JSON: StackSets take at most 51,200 bytes inline.
        template_body=json.dumps(template, separators=(",", ":")),
    )
