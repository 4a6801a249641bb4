"""End to end on the embedded AWS for the edge providers: SNS, HTTP API and CloudFront through the whole pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

EDGE_TYPES = ["SNS", "ApiGateway", "CloudFrontDistribution"]
ACCOUNT = "123456789012"


@pytest.fixture
def edge_agent(local_agent: Any) -> Iterator[Any]:
    """The shared local agent, deployed with the edge types in its guard allow-list (as an operator would)."""
    with local_agent.configured(allowed_resource_types=sorted({"S3Bucket", *EDGE_TYPES})) as configured:
        yield configured


def _run(agent: Any, task_id: str, task: dict[str, Any]) -> dict[str, Any]:
    from aws_agent.pipeline.runtime import runtime

    agent.submit({"task_id": task_id, "task": task})
    status = agent.run([task_id], timeout=120)[task_id]
    assert status in ("Completed", "Failed"), status
    record = runtime().tasks.get(task_id)
    assert record is not None
    return dict(record)


def _records(key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from aws_agent.pipeline.runtime import runtime

    resource = runtime().resources.get(key)
    assert resource is not None, key
    agents = {a["name"]: a for a in runtime().resources.list_agents()}
    return dict(resource), dict(agents[key])


def test_sns_topic_is_created_recorded_and_deleted(edge_agent: Any) -> None:
    record = _run(
        edge_agent,
        "e2e-sns-1",
        {
            "task_type": "CreateResource",
            "resource_type": "SNS",
            "parameters": {"topic_name": "e2e-orders", "display_name": "Orders", "tags": {"Team": "shop"}},
        },
    )
    assert record["status"] == "Completed", record
    assert record["assigned_agent"] == "Kotler"
    sns = edge_agent.session().client("sns")
    arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:e2e-orders"
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Orders"
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert (tags["MiyabiManaged"], tags["MiyabiAgent"], tags["MiyabiTask"], tags["Team"]) == (
        "true",
        "Kotler",
        "e2e-sns-1",
        "shop",
    )
    key = f"{ACCOUNT}#us-east-1#SNS#e2e-orders"
    resource, agent = _records(key)
    assert resource["state"] == "Active" and resource["arn"] == arn and resource["owner_agent"] == "Kotler"
    assert agent["decision_maker"] == "Kotler" and agent["service_type"] == "SNS"

    deleted = _run(
        edge_agent,
        "e2e-sns-2",
        {"task_type": "DeleteResource", "resource_type": "SNS", "parameters": {"topic_name": "e2e-orders"}},
    )
    assert deleted["status"] == "Completed", deleted
    assert arn not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert _records(key)[0]["state"] == "Terminated"


def test_http_api_is_created_and_recorded(edge_agent: Any) -> None:
    record = _run(
        edge_agent,
        "e2e-api-1",
        {
            "task_type": "CreateResource",
            "resource_type": "ApiGateway",
            "parameters": {"api_name": "e2e-orders-api", "cors": {"allow_origins": ["https://shop.example"]}},
        },
    )
    assert record["status"] == "Completed", record
    api_id = record["resource_id"]
    api = edge_agent.session().client("apigatewayv2").get_api(ApiId=api_id)
    assert api["Name"] == "e2e-orders-api" and api["ProtocolType"] == "HTTP"
    assert api["CorsConfiguration"]["AllowOrigins"] == ["https://shop.example"]
    assert api["Tags"]["MiyabiManaged"] == "true" and api["Tags"]["MiyabiTask"] == "e2e-api-1"
    resource, agent = _records(f"{ACCOUNT}#us-east-1#ApiGateway#{api_id}")
    assert resource["state"] == "Active" and resource["metadata"]["api_type"] == "http"
    assert agent["service_type"] == "ApiGateway" and agent["state"] == "Active"


def test_cloudfront_distribution_is_created_and_deleted_through_the_wait_loop(edge_agent: Any) -> None:
    record = _run(
        edge_agent,
        "e2e-cdn-1",
        {
            "task_type": "CreateResource",
            "resource_type": "CloudFrontDistribution",
            "parameters": {"origin_domain": "e2e-assets.s3.us-east-1.amazonaws.com"},
        },
    )
    assert record["status"] == "Completed", record
    distribution_id = record["resource_id"]
    cf = edge_agent.session().client("cloudfront")
    distribution = cf.get_distribution(Id=distribution_id)["Distribution"]
    assert distribution["DistributionConfig"]["CallerReference"] == "e2e-cdn-1"
    resource, _ = _records(f"{ACCOUNT}#us-east-1#CloudFrontDistribution#{distribution_id}")
    # Created InProgress (not ready): only the wait loop's CheckStatus can have seen it Deployed.
    assert resource["state"] == "Active" and resource["metadata"]["distribution_status"] == "Deployed"

    # Delete: Execute disables it (not ready), the wait loop's CheckStatus deletes it once disabled and deployed.
    deleted = _run(
        edge_agent,
        "e2e-cdn-2",
        {
            "task_type": "DeleteResource",
            "resource_type": "CloudFrontDistribution",
            "parameters": {"distribution_id": distribution_id},
        },
    )
    assert deleted["status"] == "Completed", deleted
    listed = cf.list_distributions()["DistributionList"].get("Items", [])
    assert distribution_id not in [d["Id"] for d in listed]
    assert _records(f"{ACCOUNT}#us-east-1#CloudFrontDistribution#{distribution_id}")[0]["state"] == "Terminated"
