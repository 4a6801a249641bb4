"""End to end on the embedded AWS: long-running types go through the state machine's wait loop to Active or Failed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.e2e

LONG_RUNNING_TYPES = ("RdsInstance", "AuroraCluster", "DynamoDbTable", "CloudFormationStack")


@pytest.fixture
def long_running_allowed(local_agent: Any) -> Iterator[Any]:
    """The operator's allow-list with the long-running types added (the local stack allows S3/EC2/Lambda only)."""
    from aws_agent.model import AwsResourceType
    from aws_agent.pipeline.runtime import runtime

    config = runtime().settings.config
    original = list(config.allowed_resource_types)
    config.allowed_resource_types = original + [AwsResourceType(t) for t in LONG_RUNNING_TYPES]
    try:
        yield local_agent
    finally:
        config.allowed_resource_types = original


def _run(agent: Any, detail: dict[str, Any]) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    agent.submit(detail)
    statuses = agent.run([detail["task_id"]], timeout=120)
    assert statuses[detail["task_id"]] in ("Completed", "Failed"), statuses
    record = runtime().tasks.get(detail["task_id"])
    assert record is not None
    return record


def _states_entered(agent: Any, task_id: str) -> list[str]:
    """The state names the task's execution entered, in order (Step Functions' execution history)."""
    from aws_agent.basics import execution_name

    arn = agent.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":" + execution_name(task_id)
    sfn = boto3.client("stepfunctions")
    # The task's record turns terminal in RecordFailure/Complete, a state before the execution's end: read the
    # history once the execution has ended, or its last states may not be in it yet.
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _resource(key: str) -> dict[str, Any] | None:
    from aws_agent.pipeline.runtime import runtime

    return runtime().resources.get(key)


def test_rds_create_goes_through_the_wait_loop_to_active(long_running_allowed: Any) -> None:
    agent = long_running_allowed
    detail = {
        "task_id": "e2e-rds-1",
        "task": {
            "task_type": "CreateResource",
            "resource_type": "RdsInstance",
            "parameters": {"db_instance_identifier": "e2e-orders-db", "db_instance_class": "db.t4g.micro"},
        },
    }
    record = _run(agent, detail)
    assert record["status"] == "Completed", record
    states = _states_entered(agent, "e2e-rds-1")
    # moto reports the instance "available" at once; the provider still hands the first word to the wait loop,
    # so the run waits once and checks once before tagging and registering.
    assert states.count("WaitForResource") >= 1 and states.count("CheckStatus") >= 1, states
    assert states.index("Execute") < states.index("WaitForResource") < states.index("CheckStatus") < states.index("Tag")

    rds = agent.session().client("rds")
    instance = rds.describe_db_instances(DBInstanceIdentifier="e2e-orders-db")["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in instance["TagList"]}
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "e2e-rds-1"
    resource = _resource("123456789012#us-east-1#RdsInstance#e2e-orders-db")
    assert resource is not None and resource["state"] == "Active"
    assert resource["metadata"]["db_instance_status"] == "available"


def test_rds_reported_failed_is_recorded_failed_with_the_aws_reason(long_running_allowed: Any) -> None:
    from moto.rds.models import RDSBackend

    agent = long_running_allowed
    original = RDSBackend.create_db_instance

    def create_then_fail(self: Any, db_kwargs: dict[str, Any]) -> Any:
        database = original(self, db_kwargs)
        database.status = "incompatible-parameters"  # what RDS shows when a parameter group cannot be applied
        return database

    RDSBackend.create_db_instance = create_then_fail  # type: ignore[method-assign]
    try:
        record = _run(
            agent,
            {
                "task_id": "e2e-rds-bad",
                "task": {
                    "task_type": "CreateResource",
                    "resource_type": "RdsInstance",
                    "parameters": {"db_instance_identifier": "e2e-broken-db"},
                },
            },
        )
    finally:
        RDSBackend.create_db_instance = original  # type: ignore[method-assign]
    assert record["status"] == "Failed"
    assert record["error_code"] == "AwsError" and "incompatible-parameters" in record["error_message"]
    assert record["error_state"] == "CheckStatus"
    assert _states_entered(agent, "e2e-rds-bad")[-4:] == [
        "WaitForResource",
        "CheckStatus",
        "RecordFailure",
        "TaskFailed",
    ]
    resource = _resource("123456789012#us-east-1#RdsInstance#e2e-broken-db")
    assert resource is not None and resource["state"] == "Failed"
    assert "incompatible-parameters" in resource["metadata"]["reason"]


def test_cloudformation_task_deploys_a_template(long_running_allowed: Any) -> None:
    agent = long_running_allowed
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "e2e-stack-topic"}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "e2e-stack-bucket"}},
        },
        "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
    }
    detail = {
        "task_id": "e2e-cfn-1",
        "task": {
            "task_type": "CreateResource",
            "resource_type": "CloudFormationStack",
            "parameters": {"stack_name": "e2e-stack", "template": template},
        },
    }
    record = _run(agent, detail)
    assert record["status"] == "Completed", record
    assert "CheckStatus" in _states_entered(agent, "e2e-cfn-1")
    session = agent.session()
    topics = [t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]]
    assert any(arn.endswith(":e2e-stack-topic") for arn in topics)
    assert "e2e-stack-bucket" in [b["Name"] for b in session.client("s3").list_buckets()["Buckets"]]
    stack = session.client("cloudformation").describe_stacks(StackName="e2e-stack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["MiyabiManaged"] == "true"
    resource = _resource("123456789012#us-east-1#CloudFormationStack#e2e-stack")
    assert resource is not None and resource["state"] == "Active"
    assert resource["metadata"]["outputs"]["TopicArn"].endswith(":e2e-stack-topic")

    # An update through a change set, then delete: the stack and its resources are gone, the record Terminated.
    template["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "e2e-stack-queue"}}
    update = {
        "task_id": "e2e-cfn-2",
        "task": {
            "task_type": "UpdateResource",
            "resource_type": "CloudFormationStack",
            "parameters": {"stack_name": "e2e-stack", "template": json.dumps(template)},
        },
    }
    assert _run(agent, update)["status"] == "Completed"
    queues = session.client("sqs").list_queues().get("QueueUrls", [])
    assert any(q.endswith("/e2e-stack-queue") for q in queues)
    delete = {
        "task_id": "e2e-cfn-3",
        "task": {
            "task_type": "DeleteResource",
            "resource_type": "CloudFormationStack",
            "parameters": {"stack_name": "e2e-stack"},
        },
    }
    assert _run(agent, delete)["status"] == "Completed"
    topics = [t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]]
    assert not any(arn.endswith(":e2e-stack-topic") for arn in topics)
    resource = _resource("123456789012#us-east-1#CloudFormationStack#e2e-stack")
    assert resource is not None and resource["state"] == "Terminated"


def test_dynamodb_table_create_is_registered_active(long_running_allowed: Any) -> None:
    agent = long_running_allowed
    detail = {
        "task_id": "e2e-ddb-1",
        "task": {
            "task_type": "CreateResource",
            "resource_type": "DynamoDbTable",
            "parameters": {"table_name": "e2e-orders", "partition_key": "order_id", "billing_mode": "PAY_PER_REQUEST"},
        },
    }
    record = _run(agent, detail)
    assert record["status"] == "Completed", record
    resource = _resource("123456789012#us-east-1#DynamoDbTable#e2e-orders")
    assert resource is not None and resource["state"] == "Active"
    assert resource["metadata"]["billing_mode"] == "PAY_PER_REQUEST"
