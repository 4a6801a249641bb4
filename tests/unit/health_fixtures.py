"""Shared fixtures of the health tests: the agent's tables, bus and an observer queue in moto, and a Runtime."""

from __future__ import annotations

import json
from typing import Any

import boto3

from aws_agent.config import AgentConfig, HealthConfig
from aws_agent.model import AwsResourceType, AwsTask, AwsTaskType, ResourceState
from aws_agent.pipeline.register import record
from aws_agent.pipeline.runtime import Runtime
from aws_agent.resources import ResourceOutcome
from aws_agent.settings import Settings

ACCOUNT = "123456789012"
MEMBER = "222222222222"
REGION = "us-east-1"
BUS = "agent-bus"


def _table(ddb: Any, name: str, key: str, index: tuple[str, str, str]) -> None:
    index_name, pk, sk = index
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in {key, pk, sk}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": index_name,
                "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def make_runtime(health: HealthConfig | None = None) -> Runtime:
    """The agent's state as the stack defines it (same keys and indexes), the bus, and an observer queue on it."""
    session = boto3.Session(region_name=REGION)
    ddb = session.client("dynamodb")
    _table(ddb, "tasks", "task_id", ("by-status", "status", "created_at"))
    _table(ddb, "resources", "resource_key", ("by-account-type", "account_id", "type_id"))
    _table(ddb, "agents", "name", ("by-decision-maker", "decision_maker", "name"))
    events = session.client("events")
    events.create_event_bus(Name=BUS)
    url = session.client("sqs").create_queue(QueueName="observer")["QueueUrl"]
    events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["miyabi.aws-agent"]}))
    events.put_targets(
        Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:observer"}]
    )
    settings = Settings(
        tasks_table="tasks",
        resources_table="resources",
        agents_table="agents",
        event_bus=BUS,
        agent_account_id=ACCOUNT,
        preset_config=AgentConfig(
            allowed_accounts=[MEMBER], health=health or HealthConfig(), allowed_resource_types=list(AwsResourceType)
        ),
    )
    rt = Runtime(settings)
    rt.observer_url = url  # type: ignore[attr-defined]
    return rt


def received(rt: Runtime) -> list[dict[str, Any]]:
    """Every event the agent put on its bus since the last call."""
    sqs = boto3.client("sqs", region_name=REGION)
    out = []
    while True:
        batch = sqs.receive_message(QueueUrl=rt.observer_url, MaxNumberOfMessages=10).get("Messages", [])  # type: ignore[attr-defined]
        if not batch:
            return out
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=rt.observer_url, ReceiptHandle=message["ReceiptHandle"])  # type: ignore[attr-defined]


def register(
    rt: Runtime,
    resource_type: AwsResourceType,
    resource_id: str,
    *,
    arn: str = "",
    account_id: str = ACCOUNT,
    state: ResourceState = ResourceState.ACTIVE,
    metadata: dict[str, Any] | None = None,
    task_id: str = "t-reg",
) -> dict[str, Any]:
    """Run the Register step's record() for a managed resource, as the pipeline does after Tag."""
    task = AwsTask(
        id=task_id,
        task_type=AwsTaskType.DELETE_RESOURCE if state is ResourceState.TERMINATED else AwsTaskType.CREATE_RESOURCE,
        resource_type=resource_type,
        account_id=account_id,
        region=REGION,
    )
    outcome = ResourceOutcome(
        id=resource_id,
        arn=arn or f"arn:aws:x:{REGION}:{account_id}:{resource_id}",
        state=state,
        tags={"MiyabiManaged": "true"},
        metadata=metadata or {},
    )
    return record(rt, task, outcome)


def alarm_names(account_session: boto3.Session | None = None, prefix: str = "miyabi/") -> dict[str, dict[str, Any]]:
    cloudwatch = (account_session or boto3.Session(region_name=REGION)).client("cloudwatch", region_name=REGION)
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return {a["AlarmName"]: a for a in alarms}


def member_session(account_id: str = MEMBER) -> boto3.Session:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/MiyabiAgentRole", RoleSessionName="test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def alarm_event(name: str, state: str, at: str, previous: str = "OK", account_id: str = ACCOUNT) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event exactly as EventBridge delivers it (AWS's documented sample shape)."""
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account_id,
        "time": at[:19] + "Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{account_id}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "configuration": {
                "description": "test alarm",
                "metrics": [
                    {
                        "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
                        "metricStat": {
                            "metric": {"dimensions": {"InstanceId": "i-12345678"}, "name": "CPUUtilization",
                                       "namespace": "AWS/EC2"},
                            "period": 300,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ],
            },
            "previousState": {
                "reason": "Threshold Crossed: 1 out of the last 1 datapoints was not greater than the threshold",
                "reasonData": "{}",
                "timestamp": "2019-10-02T17:04:40.985+0000",
                "value": previous,
            },
            "state": {
                "reason": f"Threshold Crossed: moved to {state}",
                "reasonData": "{}",
                "timestamp": at,
                "value": state,
            },
        },
    }  # fmt: skip
