"""GetMetricData batching: at most 500 queries a call, NextToken followed, one call per target for every check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from test_costs_fleet import AGENT_ACCOUNT, IDLE, REGION, make_bucket, options, put_cpu, run_instances, sessions

from aws_agent.aws import Target
from aws_agent.costs.checks import BucketDirectory
from aws_agent.costs.clients import Clients
from aws_agent.costs.metrics import MAX_QUERIES_PER_CALL, ec2_cpu_max, get_metric_data, s3_objects_max, window
from aws_agent.costs.sweep import scan_target


class FakeCloudWatch:
    """Answers in two pages per batch (NextToken), recording every request."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        queries = request["MetricDataQueries"]
        if "NextToken" not in request:
            return {"MetricDataResults": [{"Id": q["Id"], "Values": [1.0]} for q in queries], "NextToken": "page-2"}
        return {"MetricDataResults": [{"Id": q["Id"], "Values": [7.0]} for q in queries[:1]]}


def test_queries_are_chunked_at_500_and_next_token_is_followed() -> None:
    cloudwatch = FakeCloudWatch()
    queries = [ec2_cpu_max(f"i-{n:04d}", 14) for n in range(1001)]
    start, end = window(14)

    values = get_metric_data(cloudwatch, queries, start, end)

    sizes = [len(call["MetricDataQueries"]) for call in cloudwatch.calls]
    assert sizes == [500, 500, 500, 500, 1, 1]  # three batches, each with a second page
    assert all(size <= MAX_QUERIES_PER_CALL for size in sizes)
    assert values["ec2:i-0000"] == [1.0, 7.0] and values["ec2:i-0001"] == [1.0] and len(values) == 1001
    stat = cloudwatch.calls[0]["MetricDataQueries"][0]["MetricStat"]
    assert stat["Stat"] == "Maximum" and stat["Period"] == 14 * 86400  # one datapoint over the whole window


def test_window_ends_now_and_spans_the_days() -> None:
    start, end = window(14, datetime(2025, 6, 1, 12, 30, 15, tzinfo=UTC))
    assert end == datetime(2025, 6, 1, 12, 31, tzinfo=UTC) and (end - start).days == 14


@pytest.mark.usefixtures("mocked_aws")
def test_s3_storage_metrics_are_read_back_from_moto() -> None:
    make_bucket("three-objects", [1, 2, 3])
    cloudwatch = Clients(sessions()).client("cloudwatch", Target(AGENT_ACCOUNT, REGION))
    start, end = window(14)

    values = get_metric_data(cloudwatch, [s3_objects_max("three-objects")], start, end)

    assert values["s3objects:three-objects"] == [3.0]


@pytest.mark.usefixtures("mocked_aws")
def test_a_fleet_of_1200_instances_takes_at_most_three_get_metric_data_calls() -> None:
    instances = run_instances(1200)
    put_cpu(instances[:3], IDLE[:3])
    make_bucket("empty-bucket")
    target = Target(AGENT_ACCOUNT, REGION)
    clients = Clients(sessions())
    batches: list[int] = []
    clients.client("cloudwatch", target).meta.events.register(
        "before-parameter-build.cloudwatch.GetMetricData",
        lambda params, **_: batches.append(len(params["MetricDataQueries"])),
    )

    scan = scan_target(clients, target, options(), BucketDirectory())

    assert scan.instances == 1200 and not scan.errors
    assert len(batches) <= 3 and all(size <= MAX_QUERIES_PER_CALL for size in batches)
    assert sum(batches) == 1200 + 2  # every instance's CPU and the bucket's two storage metrics, nothing twice
    assert {f.resource_id for f in scan.findings} == {*instances[:3], "empty-bucket"}
    assert clients.requests(target)["cloudwatch.GetMetricData"] == len(batches)
