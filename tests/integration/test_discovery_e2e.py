"""Discovery end to end on the embedded AWS: the deployed Distributed Map workflow reconciles a member account."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.e2e
APOLLO = "222222222222"


def _wait(execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(described)
        time.sleep(0.1)


def test_discovery_workflow_marks_deleted_terminated_and_records_unmanaged(local_agent: Any) -> None:
    from aws_agent.pipeline.runtime import runtime

    task_id = "e2e-disc-create"
    local_agent.submit(
        {
            "task_id": task_id,
            "task": {
                "task_type": "CreateResource",
                "resource_type": "S3Bucket",
                "account_name": "Apollo",
                "parameters": {"bucket_name": "e2e-disc-managed"},
            },
        }
    )
    assert local_agent.run([task_id], timeout=120)[task_id] == "Completed"
    apollo_s3 = local_agent.session(APOLLO).client("s3")
    apollo_s3.delete_bucket(Bucket="e2e-disc-managed")  # behind the agent's back
    apollo_s3.create_bucket(Bucket="e2e-disc-wild")
    local_agent.results()  # drop earlier events

    started = boto3.client("stepfunctions").start_execution(
        stateMachineArn=local_agent.outputs["DiscoveryStateMachineArn"],
        input=json.dumps({"targets": [{"account_id": APOLLO, "region": "us-east-1"}]}),
    )
    described = _wait(started["executionArn"])
    assert described["status"] == "SUCCEEDED", described

    key = f"{APOLLO}#us-east-1#S3Bucket#e2e-disc-managed"
    record = runtime().resources.get(key)
    assert record is not None and record["state"] == "Terminated"
    assert runtime().resources.get(f"discovered#{APOLLO}#us-east-1#S3Bucket#e2e-disc-wild") is not None
    drift = [e["detail"] for e in local_agent.results() if e["detail-type"] == "ResourceDriftDetected"]
    assert [(d["drift"], d["resource_id"]) for d in drift] == [("deleted", "e2e-disc-managed")]
