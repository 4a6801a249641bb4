"""The cost-optimization workflow: plan targets → Distributed Map over account x region → report; on a schedule."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from aws_agent.config import OptimizationConfig

from .nag import acknowledge, acknowledge_indexes, wildcard, wildcard_action
from .settings import TAG_KEY, TAG_VALUE
from .workflows import (
    acknowledge_map_runs,
    acknowledge_role,
    invoke_step,
    logged_state_machine,
    over_targets,
    plan_step,
    scheduled,
)

OPTIMIZATION_STEPS = ("optimize_plan", "optimize_target", "optimize_report")


class OptimizationWorkflow(Construct):
    """PlanTargets → SweepTargets (Distributed Map, one Lambda per account x region) → Report → CostReportReady."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        reports: dynamodb.Table,
        config: OptimizationConfig,
        member_role_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        plan = plan_step(self, "PlanTargets", functions["optimize_plan"])
        # Each item stores its result in the reports table.
        sweep = over_targets(
            self,
            "SweepTargets",
            "SweepTarget",
            functions["optimize_target"],
            max_concurrency=config.concurrency,
            passed=["options"],
        )
        report = invoke_step(self, "Report", functions["optimize_report"], None, "$.report")
        self.state_machine = logged_state_machine(
            self,
            plan.next(sweep).next(report),
            comment="AWS Agent cost optimization over every account x region",
            timeout=Duration.hours(2),
        )
        self.schedule = scheduled(
            self,
            self.state_machine,
            expression=config.schedule,
            description="Scheduled cost-optimization sweep (acts on managed resources only, within caps)",
        )
        reports.grant_write_data(functions["optimize_target"])
        reports.grant_read_write_data(functions["optimize_report"])
        self._sweep_policy(functions["optimize_target"], member_role_name)
        self._acknowledge(functions, reports)

    def _sweep_policy(self, function: lambda_.Function, member_role_name: str) -> None:
        own = f"arn:{Aws.PARTITION}"
        statements = [
            iam.PolicyStatement(
                sid="ReadFleet",
                actions=[
                    "ec2:Describe*",
                    "cloudwatch:GetMetricData",
                    "s3:ListAllMyBuckets",
                    "rds:DescribeDBInstances",
                    "rds:ListTagsForResource",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(sid="ReadBucketTags", actions=["s3:GetBucketTagging"], resources=[f"{own}:s3:::*"]),
            iam.PolicyStatement(
                sid="StopManagedInstancesOnly",
                actions=["ec2:StopInstances"],
                resources=[f"{own}:ec2:*:{Aws.ACCOUNT_ID}:instance/*"],
                conditions={"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": TAG_VALUE}},
            ),
            iam.PolicyStatement(
                sid="AssumeMemberAccountRole",
                actions=["sts:AssumeRole"],
                resources=[f"{own}:iam::*:role/{member_role_name}"],
            ),
        ]
        assert function.role is not None
        self.sweep_policy = iam.Policy(self, "SweepPolicy", statements=statements, roles=[function.role])

    def _acknowledge(self, functions: Mapping[str, lambda_.Function], reports: dynamodb.Table) -> None:
        acknowledge(
            self.sweep_policy,
            {
                wildcard("*"): "Describe*, GetMetricData, ListAllMyBuckets and DescribeDBInstances are read-only "
                "and support no resource-level permissions (they list the fleet being swept).",
                wildcard_action("ec2:Describe*"): "Read-only: instances, volumes and addresses of the fleet.",
                wildcard("arn:<AWS::Partition>:s3:::*"): "Read-only: the opt-out tag of every bucket swept.",
                wildcard("arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:instance/*"): "Any instance of this "
                "account, but only when tagged MiyabiManaged=true (condition).",
                wildcard("arn:<AWS::Partition>:iam::*:role/MiyabiAgentRole"): "The spec's cross-account model: "
                "assume the one MiyabiAgentRole name in each member account.",
            },
        )
        for step in ("optimize_target", "optimize_report"):
            acknowledge_indexes(functions[step].role, [reports])
        acknowledge_role(self.state_machine, {step: functions[step] for step in OPTIMIZATION_STEPS})
        acknowledge_map_runs(self.state_machine)
