"""Which deployment the CLI talks to: a deployed stack's outputs, or names given as flags/environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3

from ..aws import RETRY_CONFIG
from ..registry import ResourceRepository, TaskRepository

OUTPUT_KEYS = ("TasksTableName", "ResourcesTableName", "AgentsTableName", "EventBusName")
_ENV = {
    "TasksTableName": "AGENT_TASKS_TABLE",
    "ResourcesTableName": "AGENT_RESOURCES_TABLE",
    "AgentsTableName": "AGENT_AGENTS_TABLE",
    "EventBusName": "AGENT_EVENT_BUS",
    "CostReportsTableName": "AGENT_COST_REPORTS_TABLE",
    "AccountLifecycleStateMachineArn": "AGENT_ACCOUNT_LIFECYCLE_STATE_MACHINE_ARN",
    "AccountClosureStateMachineArn": "AGENT_ACCOUNT_CLOSURE_STATE_MACHINE_ARN",
}


@dataclass
class Deployment:
    outputs: dict[str, str]

    @classmethod
    def from_stack(cls, stack_name: str) -> Deployment:
        """Environment variables win; otherwise read the CloudFormation stack's outputs (one call)."""
        outputs = {key: os.environ[env] for key, env in _ENV.items() if os.environ.get(env)}
        # Variables stand in for the stack when the four the commands need are all set.
        if len(outputs) < len(OUTPUT_KEYS):
            cfn = boto3.client("cloudformation", config=RETRY_CONFIG)
            stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])} | outputs
        return cls(outputs)

    def client(self, service: str) -> Any:
        return boto3.client(service, config=RETRY_CONFIG)

    @property
    def tasks(self) -> TaskRepository:
        return TaskRepository(self.client("dynamodb"), self.outputs["TasksTableName"])

    @property
    def resources(self) -> ResourceRepository:
        return ResourceRepository(
            self.client("dynamodb"), self.outputs["ResourcesTableName"], self.outputs["AgentsTableName"]
        )
