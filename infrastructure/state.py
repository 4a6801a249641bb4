"""The agent's state: DynamoDB tables for tasks, managed resources and service agents."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class AgentState(Construct):
    """On-demand tables with point-in-time recovery, AWS-managed encryption, retained on stack deletion."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.tasks = self._table("TasksTable", "task_id", index=("by-status", "status", "created_at"))
        self.resources = self._table(
            "ResourcesTable", "resource_key", index=("by-account-type", "account_id", "type_id")
        )
        self.agents = self._table("ServiceAgentsTable", "name", index=("by-decision-maker", "decision_maker", "name"))
        # Cost optimization runs: one item per swept account x region and one for the report (expire after 90 days).
        self.cost_reports = dynamodb.Table(
            self,
            "CostReportsTable",
            partition_key=_string("run_id"),
            sort_key=_string("part"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute="expires_at",
        )

    def _table(self, construct_id: str, partition_key: str, *, index: tuple[str, str, str]) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            construct_id,
            partition_key=_string(partition_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        index_name, index_pk, index_sk = index
        table.add_global_secondary_index(
            index_name=index_name, partition_key=_string(index_pk), sort_key=_string(index_sk)
        )
        return table
