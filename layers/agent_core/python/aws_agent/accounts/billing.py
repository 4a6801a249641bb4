"""Consolidated billing: Cost Explorer by linked account, service and MiyabiAgent tag, cached ($0.01 a page)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError

from ..aws import translate
from ..events import AGENT_SOURCE
from ..registry import from_item, to_item
from .events import BILLING_REPORT_READY, BillingReport, CostLine

Period = Literal["month-to-date", "last-month"]
AGENT_TAG = "MiyabiAgent"
METRIC = "UnblendedCost"
CACHE_RUN_ID = "billing-cache"  # the CostReports table's partition for cached Cost Explorer reports
MAX_PAGES = 20  # a runaway NextPageToken loop must not cost more than $0.20


def period_bounds(period: Period, today: date) -> tuple[date, date]:
    """[start, end) of the period. Month to date on the 1st is the 1st itself (Cost Explorer needs start < end)."""
    first = today.replace(day=1)
    if period == "last-month":
        return (first - timedelta(days=1)).replace(day=1), first
    return first, max(today, first + timedelta(days=1))


def _pages(ce: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    token: str | None = None
    for _ in range(MAX_PAGES):
        try:
            page = ce.get_cost_and_usage(**request, **({"NextPageToken": token} if token else {}))
        except ClientError as exc:
            raise translate(exc, "cost explorer get_cost_and_usage") from exc
        yield page
        token = page.get("NextPageToken")
        if not token:
            return


def _grouped(ce: Any, start: date, end: date, group: dict[str, str]) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Amount per group key over the period (all result periods summed), and names from DimensionValueAttributes."""
    request = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": [METRIC],
        "GroupBy": [group],
    }
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    names: dict[str, str] = {}
    for page in _pages(ce, request):
        for result in page.get("ResultsByTime", []):
            for item in result.get("Groups", []):
                key = item["Keys"][0]
                amounts[key] += Decimal(item["Metrics"][METRIC]["Amount"])
        for attribute in page.get("DimensionValueAttributes", []):
            description = attribute.get("Attributes", {}).get("description")
            if description:
                names[attribute["Value"]] = description
    return amounts, names


def _lines(amounts: dict[str, Decimal], names: dict[str, str] | None = None) -> list[CostLine]:
    ordered = sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        CostLine(key=key, name=(names or {}).get(key, ""), amount=str(amount.quantize(Decimal("0.01"))))
        for key, amount in ordered
    ]


def _agent_key(tag_key: str) -> str:
    # Cost Explorer returns tag groups as "<key>$<value>"; an empty value is the untagged spend.
    value = tag_key.split("$", 1)[1] if "$" in tag_key else tag_key
    return value or "(untagged)"


def query_report(ce: Any, period: Period, today: date) -> BillingReport:
    """Three GetCostAndUsage queries (by LINKED_ACCOUNT, SERVICE and the MiyabiAgent tag) folded into one report."""
    start, end = period_bounds(period, today)
    accounts, names = _grouped(ce, start, end, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"})
    services, _ = _grouped(ce, start, end, {"Type": "DIMENSION", "Key": "SERVICE"})
    tagged, _ = _grouped(ce, start, end, {"Type": "TAG", "Key": AGENT_TAG})
    agents: dict[str, Decimal] = defaultdict(Decimal)
    for key, amount in tagged.items():
        agents[_agent_key(key)] += amount
    total = sum(accounts.values(), Decimal("0")) if accounts else sum(services.values(), Decimal("0"))
    return BillingReport(
        period=period,
        start=start.isoformat(),
        end=end.isoformat(),
        total=str(total.quantize(Decimal("0.01"))),
        by_account=_lines(accounts, names),
        by_service=_lines(services),
        by_agent=_lines(agents),
    )


class BillingCache:
    """Reports in the CostReports table (partition `billing-cache`), expiring with the table's TTL attribute."""

    def __init__(self, dynamodb: Any, table: str, hours: int) -> None:
        self.dynamodb, self.table, self.hours = dynamodb, table, hours

    def get(self, part: str) -> BillingReport | None:
        try:
            item = self.dynamodb.get_item(TableName=self.table, Key=to_item({"run_id": CACHE_RUN_ID, "part": part}))
        except ClientError as exc:
            raise translate(exc, "read the billing cache") from exc
        if "Item" not in item:
            return None
        found = from_item(item["Item"])
        if int(found.get("expires_at", 0)) <= time.time():  # TTL deletes lazily: expired items may still be read
            return None
        return BillingReport.model_validate({**json.loads(found["document"]), "cached": True})

    def put(self, part: str, report: BillingReport) -> None:
        item = {
            "run_id": CACHE_RUN_ID,
            "part": part,
            "document": report.model_dump_json(),
            "expires_at": int(time.time()) + self.hours * 3600,
        }
        try:
            self.dynamodb.put_item(TableName=self.table, Item=to_item(item))
        except ClientError as exc:
            raise translate(exc, "write the billing cache") from exc


def billing_report(
    ce: Any, period: Period, *, today: date | None = None, cache: BillingCache | None = None, refresh: bool = False
) -> BillingReport:
    """The report of the period, from the cache while it is fresh (no Cost Explorer charge), else queried and cached."""
    today = today or date.today()
    start, end = period_bounds(period, today)
    part = f"{period}#{start.isoformat()}#{end.isoformat()}"
    if cache is not None and not refresh:
        cached = cache.get(part)
        if cached is not None:
            return cached
    report = query_report(ce, period, today)
    if cache is not None:
        cache.put(part, report)
    return report


def publish_report(events: Any, bus: str, report: BillingReport) -> None:
    """BillingReportReady on the agent's bus."""
    entry = {"Source": AGENT_SOURCE, "DetailType": BILLING_REPORT_READY, "Detail": report.model_dump_json()}
    try:
        response = events.put_events(Entries=[{**entry, "EventBusName": bus}])
    except ClientError as exc:
        raise translate(exc, "emit BillingReportReady") from exc
    if response.get("FailedEntryCount"):
        raise translate(
            ClientError({"Error": {"Code": "PutEventsFailed", "Message": str(response["Entries"])}}, "PutEvents"),
            "emit BillingReportReady",
        )
