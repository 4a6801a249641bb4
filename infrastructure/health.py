"""Health: the alarm-state rule → health function, the scheduled health sweep, their permissions, and the dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from aws_agent.config import AgentConfig

from .nag import acknowledge, wildcard
from .permissions import grant_table
from .settings import TAG_KEY, TAG_VALUE
from .state import AgentState

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
METRICS_NAMESPACE = "AwsAgent"  # Powertools' namespace (aws_agent.observability), with dimension service=aws-agent
SERVICE = "aws-agent"
# Who touches alarms: registration (create/delete), the sweep and HealthCheck tasks (repair), the router (none).
ALARM_STEPS = ("register", "execute", "health_sweep")
STATUS_STEPS = ("execute", "health_sweep")  # direct status reads
# The approval metrics the guardians' approval flow emits (issue 5, other half); shown as they arrive.
APPROVAL_METRICS = ("ApprovalsRequested", "ApprovalsApproved", "ApprovalsRejected")


def alarm_event_pattern(prefix: str) -> events.EventPattern:
    """State changes of the agent's own alarms only (named `<prefix>/<account>/<type>/<id>/<metric>`)."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=[ALARM_STATE_CHANGE],
        detail={"alarmName": events.Match.prefix(f"{prefix}/")},
    )


class HealthMonitoring(Construct):
    """Alarm state changes (own account: default bus; member accounts: forwarded to the agent's bus) → health
    function; a schedule → health sweep; least-privilege policies; the operations dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        state: AgentState,
        bus: events.IEventBus,
        config: AgentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        health, sweep = functions["health"], functions["health_sweep"]
        prefix = config.health.alarm_prefix
        target = targets.LambdaFunction(health, retry_attempts=4, max_event_age=Duration.hours(2))
        # CloudWatch sends its own alarms' state changes to the default bus of the alarm's account; member
        # accounts forward theirs (a rule in each member account, see README) to the agent's bus.
        self.alarm_rule = events.Rule(
            self,
            "AlarmStateRule",
            description="The agent's alarms changing state (this account) -> health function",
            event_pattern=alarm_event_pattern(prefix),
            targets=[target],
        )
        self.forwarded_alarm_rule = events.Rule(
            self,
            "ForwardedAlarmStateRule",
            description="The agent's alarms changing state (member accounts, forwarded) -> health function",
            event_bus=bus,
            event_pattern=alarm_event_pattern(prefix),
            targets=[target],
        )
        self.sweep_schedule = events.Rule(
            self,
            "SweepSchedule",
            description="Scheduled health sweep: alarms present (repaired), direct status, coverage",
            schedule=events.Schedule.expression(config.health.sweep_schedule),
            targets=[targets.LambdaFunction(sweep, retry_attempts=2)],
        )
        self._grants(functions, state, bus)
        self._policies(functions, prefix, config.member_role_name)
        self.dashboard = self._dashboard()

    def _grants(self, functions: Mapping[str, lambda_.Function], state: AgentState, bus: events.IEventBus) -> None:
        health, sweep = functions["health"], functions["health_sweep"]
        grant_table(health, state.resources, write=False)
        grant_table(health, state.agents, write=True)  # alarm states, health, heal counters
        grant_table(sweep, state.resources, write=False)
        grant_table(sweep, state.agents, write=False)  # service agents by health, for the dashboard
        bus.grant_put_events_to(health)  # ServiceAgentHealthChanged, HealEscalated

    def _policies(self, functions: Mapping[str, lambda_.Function], prefix: str, member_role_name: str) -> None:
        member_role = f"arn:{Aws.PARTITION}:iam::*:role/{member_role_name}"
        alarm_statements, status_statements, heal_statements = health_statements(prefix)
        for statements in (alarm_statements, heal_statements):  # the resources may live in a member account
            statements.append(
                iam.PolicyStatement(sid="AssumeMemberAccountRole", actions=["sts:AssumeRole"], resources=[member_role])
            )
        own = f"arn:{Aws.PARTITION}"
        self.alarm_policy = _policy(self, "AlarmPolicy", alarm_statements, [functions[s] for s in ALARM_STEPS])
        self.status_policy = _policy(self, "StatusPolicy", status_statements, [functions[s] for s in STATUS_STEPS])
        self.heal_policy = _policy(self, "HealPolicy", heal_statements, [functions["health"]])
        nag_alarms = f"arn:<AWS::Partition>:cloudwatch:*:<AWS::AccountId>:alarm:{prefix}/*"
        nag_role = f"arn:<AWS::Partition>:iam::*:role/{member_role_name}"
        acknowledge(
            self.alarm_policy,
            {
                wildcard(nag_alarms): "The agent's own alarms only: every alarm it creates is named "
                f"'{prefix}/<account>/<type>/<id>/<metric>' (any region of this account).",
                wildcard(nag_role): "The spec's cross-account model: assume the one MiyabiAgentRole name in each "
                "member account, where the resource's alarms live.",
            },
        )
        acknowledge(
            self.status_policy,
            {
                wildcard("*"): "DescribeInstanceStatus, DescribeVolumeStatus, DescribeDBInstances and DescribeStacks "
                "are read-only lookups of resources whose ids come from the Resources table.",
                **{
                    wildcard(r.replace(own, "arn:<AWS::Partition>").replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")): (
                        "Read-only status of a managed resource of this account (any region), by the id recorded "
                        "at registration."
                    )
                    for r in status_statements[1].resources
                },
            },
        )
        acknowledge(
            self.heal_policy,
            {
                wildcard("*"): "Read-only: tags and versions of the resource to heal (checked for "
                "MiyabiManaged=true before any action).",
                **{
                    wildcard(r.replace(own, "arn:<AWS::Partition>").replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")): (
                        "Heal actions on resources of this account, only when tagged MiyabiManaged=true (condition)."
                    )
                    for r in heal_statements[1].resources
                },
                wildcard(nag_role): "Heal resources in member accounts through the one MiyabiAgentRole name.",
            },
        )

    def _dashboard(self) -> cloudwatch.Dashboard:
        def metric(name: str, statistic: str = "Sum", label: str | None = None) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": SERVICE},
                statistic=statistic,
                period=Duration.minutes(5),
                label=label or name,
            )

        def graph(title: str, metrics: list[cloudwatch.IMetric], width: int = 8) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=width, height=6)

        health_states = ("Healthy", "Degraded", "Unhealthy", "Unknown")
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.days(1))
        dashboard.add_widgets(
            graph("Tasks by status",
                  [metric("TasksCompleted", label="Completed"), metric("TasksFailed", label="Failed")]),
            graph("Failures", [metric("TasksFailed", label="Failed tasks"), metric("HealEscalations")]),
            graph("Service agents by health",
                  [metric(f"ServiceAgents{s}", "Maximum", s) for s in health_states]),
        )  # fmt: skip
        dashboard.add_widgets(
            graph("Health-check coverage (%)", [metric("HealthCheckCoverage", "Minimum", "Coverage")]),
            graph("Health changes and heals",
                  [*(metric(f"HealthChangedTo{s}", label=f"-> {s}") for s in health_states),
                   metric("HealAttempts"), metric("HealthAlarmsRepaired", label="Alarms repaired")]),
            graph("Approvals waiting (requested vs decided)", [metric(m) for m in APPROVAL_METRICS]),
        )  # fmt: skip
        dashboard.add_widgets(
            graph("Optimization savings (USD / month)",
                  [metric("OptimizationSavings", "Maximum", "Saved by actions"),
                   metric("OptimizationPotentialSavings", "Maximum", "Potential (recommendations)")], width=24),
        )  # fmt: skip
        return dashboard


def _policy(
    scope: Construct, construct_id: str, statements: list[iam.PolicyStatement], functions: list[lambda_.Function]
) -> iam.Policy:
    roles = [fn.role for fn in functions if fn.role is not None]
    return iam.Policy(scope, construct_id, statements=statements, roles=roles)


def health_statements(
    prefix: str,
) -> tuple[list[iam.PolicyStatement], list[iam.PolicyStatement], list[iam.PolicyStatement]]:
    """(alarms, direct status, heal) statements of the account where the resources live: the agent's or a member's."""
    own = f"arn:{Aws.PARTITION}"
    alarms = f"{own}:cloudwatch:*:{Aws.ACCOUNT_ID}:alarm:{prefix}/*"
    managed = {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": TAG_VALUE}}
    alarm_statements = [
        iam.PolicyStatement(
            sid="AgentAlarmsOnly",
            actions=[
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource",
            ],
            resources=[alarms],
        ),
    ]
    status_statements = [
        iam.PolicyStatement(
            sid="DirectStatusReads",
            actions=[
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeVolumeStatus",
                "rds:DescribeDBInstances",
                "cloudformation:DescribeStacks",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="DirectStatusReadsScoped",
            actions=["lambda:GetFunction", "dynamodb:DescribeTable", "sns:GetTopicAttributes", "s3:ListBucket",
                     "route53:GetHostedZone"],
            resources=[
                f"{own}:lambda:*:{Aws.ACCOUNT_ID}:function:*",
                f"{own}:dynamodb:*:{Aws.ACCOUNT_ID}:table/*",
                f"{own}:sns:*:{Aws.ACCOUNT_ID}:*",
                f"{own}:s3:::*",
                f"{own}:route53:::hostedzone/*",
            ],
        ),
    ]  # fmt: skip
    heal_statements = [
        iam.PolicyStatement(
            sid="HealReads",
            actions=["ec2:DescribeInstances", "rds:DescribeDBInstances", "rds:ListTagsForResource",
                     "ecs:DescribeServices", "lambda:GetFunction", "lambda:GetAlias",
                     "lambda:ListVersionsByFunction"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="HealManagedResourcesOnly",
            actions=["ec2:RebootInstances", "rds:RebootDBInstance", "ecs:UpdateService", "lambda:UpdateAlias"],
            resources=[
                f"{own}:ec2:*:{Aws.ACCOUNT_ID}:instance/*",
                f"{own}:rds:*:{Aws.ACCOUNT_ID}:db:*",
                f"{own}:ecs:*:{Aws.ACCOUNT_ID}:service/*",
                f"{own}:lambda:*:{Aws.ACCOUNT_ID}:function:*",
            ],
            conditions=managed,
        ),
    ]  # fmt: skip
    return alarm_statements, status_statements, heal_statements
