"""The guardians' infrastructure: the approval step's grants, Cerberus' CloudTrail watch and the audit's reads."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from aws_agent.guardians.watch import event_pattern

from .functions import AgentFunctions
from .messaging import AgentMessaging
from .nag import acknowledge, acknowledge_indexes, wildcard
from .state import AgentState

# SecurityAudit (run by Execute): read-only calls only. None of these supports resource-level permissions
# except the S3 bucket reads, which are scoped to buckets.
AUDIT_ACTIONS = [
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVolumes",
    "rds:DescribeDBInstances",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "guardduty:ListDetectors",
    "guardduty:GetDetector",
]
AUDIT_BUCKET_ACTIONS = ["s3:GetBucketAcl", "s3:GetBucketPolicy", "s3:GetBucketLocation"]
_INDEX_REASON = (
    "The L2 table grant covers the table's GSIs via '<table arn>/index/*'; the guard queries by-account-type "
    "(quotas and budget) and the wildcard is limited to this one table."
)


class AgentGuardians(Construct):
    """RequestApproval's grants, the watch rule + function + Findings table, and the SecurityAudit policy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: AgentFunctions,
        state: AgentState,
        messaging: AgentMessaging,
    ) -> None:
        super().__init__(scope, construct_id)
        approval, watch, guard = functions["approval"], functions["watch"], functions["guard"]
        # RequestApproval stores the token on the task and announces ApprovalRequested.
        state.tasks.grant_read_write_data(approval)
        messaging.bus.grant_put_events_to(approval)
        # The guard counts the account's managed resources (quotas, budget) through the by-account-type index.
        state.resources.grant_read_data(guard)
        for function in (approval, guard):
            acknowledge_indexes(function.role, [state.tasks, state.resources], _INDEX_REASON)

        self.findings = dynamodb.Table(
            self,
            "FindingsTable",
            partition_key=dynamodb.Attribute(name="finding_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.findings.grant_write_data(watch)
        messaging.bus.grant_put_events_to(watch)
        watch.add_environment("AGENT_FINDINGS_TABLE", self.findings.table_name)
        # CloudTrail delivers management events to the default bus of the account they happen in: one rule there for
        # this account, one on the agent's bus for the member accounts' (forwarded by infrastructure/member_forwarding).
        self.dead_letters = sqs.Queue(
            self,
            "WatchDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.dead_letters, {"AwsSolutions-SQS3": "This queue is itself the watch rule's dead-letter queue."}
        )
        self.rule = events.Rule(
            self,
            "CreationWatch",
            description="Cerberus: resource creations (CloudTrail) -> flag unmanaged or non-compliant ones",
            event_pattern=events.EventPattern(
                source=event_pattern()["source"],
                detail_type=event_pattern()["detail-type"],
                detail=event_pattern()["detail"],
            ),
            targets=[targets.LambdaFunction(watch, dead_letter_queue=self.dead_letters, retry_attempts=4)],
        )
        self.forwarded_rule = events.Rule(
            self,
            "ForwardedCreationWatch",
            description="Cerberus: member accounts' resource creations, forwarded to the agent's bus",
            event_bus=messaging.bus,
            event_pattern=events.EventPattern(
                source=event_pattern()["source"],
                detail_type=event_pattern()["detail-type"],
                detail=event_pattern()["detail"],
            ),
            targets=[targets.LambdaFunction(watch, dead_letter_queue=self.dead_letters, retry_attempts=4)],
        )

        self.audit_policy = iam.Policy(
            self,
            "SecurityAuditRead",
            statements=[
                iam.PolicyStatement(sid="AuditDescribe", actions=AUDIT_ACTIONS, resources=["*"]),
                iam.PolicyStatement(
                    sid="AuditBuckets", actions=AUDIT_BUCKET_ACTIONS, resources=[f"arn:{Aws.PARTITION}:s3:::*"]
                ),
            ],
            roles=[functions["execute"].role],  # type: ignore[list-item]
        )
        acknowledge(
            self.audit_policy,
            {
                wildcard("*"): "SecurityAudit's Describe/List/Get calls (EC2 security groups and volumes, RDS "
                "instances, CloudTrail trails, GuardDuty detectors) support no resource-level permissions; "
                "all are read-only.",
                wildcard(
                    "arn:<AWS::Partition>:s3:::*"
                ): "SecurityAudit reads the ACL, policy and location of every bucket it "
                "audits (read-only); the audited buckets are not known at deploy time.",
            },
        )
