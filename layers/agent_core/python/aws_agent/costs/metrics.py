"""Batched CloudWatch reads: GetMetricData, at most 500 queries a call, NextToken followed; no call per resource."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_QUERIES_PER_CALL = 500  # the GetMetricData limit on MetricDataQueries
DAY_SECONDS = 86400


@dataclass(frozen=True)
class MetricQuery:
    """One metric statistic of one resource. `dimensions` are sent in the order given (see s3_* below)."""

    key: str  # the caller's handle for the answer, e.g. "ec2:i-0abc"
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int

    def as_query(self, query_id: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
                },
                "Period": self.period,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


def ec2_cpu_max(instance_id: str, days: int) -> MetricQuery:
    """Maximum CPUUtilization over the whole window: period = days x 86400, one datapoint."""
    return MetricQuery(
        f"ec2:{instance_id}", "AWS/EC2", "CPUUtilization", (("InstanceId", instance_id),), "Maximum", days * DAY_SECONDS
    )


def rds_cpu_max(db_instance_id: str, days: int) -> MetricQuery:
    """Maximum CPUUtilization of a DB instance over the whole window."""
    return MetricQuery(
        f"rds:{db_instance_id}",
        "AWS/RDS",
        "CPUUtilization",
        (("DBInstanceIdentifier", db_instance_id),),
        "Maximum",
        days * DAY_SECONDS,
    )


# S3 storage metrics are daily. Dimensions go in the order S3 (and moto) publish them: moto 5.2.5's GetMetricData
# compares sorted dimension lists with a broken sort key, so only that order matches on an unpatched moto; on AWS
# the order does not matter.
def s3_objects_max(bucket: str) -> MetricQuery:
    """Daily NumberOfObjects (all storage types) of a bucket."""
    dims = (("StorageType", "AllStorageTypes"), ("BucketName", bucket))
    return MetricQuery(f"s3objects:{bucket}", "AWS/S3", "NumberOfObjects", dims, "Maximum", DAY_SECONDS)


def s3_size_max(bucket: str) -> MetricQuery:
    """Daily BucketSizeBytes of a bucket's S3 Standard storage."""
    dims = (("StorageType", "StandardStorage"), ("BucketName", bucket))
    return MetricQuery(f"s3bytes:{bucket}", "AWS/S3", "BucketSizeBytes", dims, "Maximum", DAY_SECONDS)


def window(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[now - days, now], end rounded up to the next minute (CloudWatch times are minute-aligned)."""
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - timedelta(days=days), end


def chunks(items: Sequence[MetricQuery], size: int = MAX_QUERIES_PER_CALL) -> Iterable[Sequence[MetricQuery]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def get_metric_data(
    cloudwatch: Any, queries: Sequence[MetricQuery], start: datetime, end: datetime
) -> dict[str, list[float]]:
    """Values of every query (key -> datapoint values, empty when CloudWatch has none), in ceil(n/500) calls plus
    any NextToken pages."""
    unique = list({query.key: query for query in queries}.values())
    values: dict[str, list[float]] = {query.key: [] for query in unique}
    for batch in chunks(unique):
        ids = {f"q{index}": query.key for index, query in enumerate(batch)}
        request: dict[str, Any] = {
            "MetricDataQueries": [query.as_query(qid) for qid, query in zip(ids, batch, strict=True)],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampDescending",
        }
        while True:
            response = cloudwatch.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                key = ids.get(result.get("Id", ""))
                if key is not None:
                    values[key].extend(float(v) for v in result.get("Values", []))
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    return values


def maximum(values: Sequence[float]) -> float | None:
    """The largest datapoint, None when there is none."""
    return max(values) if values else None
