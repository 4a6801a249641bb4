"""Consolidated billing: Cost Explorer by linked account, service and MiyabiAgent tag, cached ($0.01 a page)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, cast

from botocore.exceptions import ClientError

from ..aws import translate
from ..basics import utc_now
from ..errors import InvalidTaskEvent
from ..events import AGENT_SOURCE
from ..registry import from_item, to_item
from .events import BILLING_REPORT_READY, BillingReport, CostLine

if TYPE_CHECKING:
    from ..model import AwsTask
    from ..pipeline.runtime import Runtime

Period = Literal["month-to-date", "last-month"]
PERIODS: tuple[Period, ...] = ("month-to-date", "last-month")
AGENT_TAG = "MiyabiAgent"
METRIC = "UnblendedCost"
CACHE_RUN_ID = "billing-cache"  # the CostReports table's partition for cached Cost Explorer reports
MAX_PAGES = 20  # a runaway NextPageToken loop must not cost more than $0.20
QUERIES = ("LINKED_ACCOUNT", "SERVICE", f"TAG:{AGENT_TAG}")  # one GetCostAndUsage (one page or more) each
PAGE_PRICE = Decimal("0.01")  # USD per paginated GetCostAndUsage request
CE_REGION = "us-east-1"  # Cost Explorer has one endpoint, whatever region the agent runs in
TOP_LINES = 10  # lines per dimension in a task's result: Step Functions state stays a few KiB at any fleet size


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


def cache_part(period: Period, today: date) -> str:
    """The cache item's sort key: the period and its bounds, so a new day (month to date) is a new report."""
    start, end = period_bounds(period, today)
    return f"{period}#{start.isoformat()}#{end.isoformat()}"


def billing_report(
    ce: Any, period: Period, *, today: date | None = None, cache: BillingCache | None = None, refresh: bool = False
) -> BillingReport:
    """The report of the period, from the cache while it is fresh (no Cost Explorer charge), else queried and cached."""
    today = today or date.today()
    part = cache_part(period, today)
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


# --- the AnalyzeBilling task -------------------------------------------------------------------------------------


def billing_parameters(parameters: Mapping[str, Any]) -> tuple[Period, bool]:
    """AnalyzeBilling's parameters: `period` (month-to-date, the default, or last-month) and `refresh` (bypass the
    cache); anything else is refused with the allowed values, at Analyze, before the task reaches Guard."""
    period = parameters.get("period", "month-to-date")
    if period not in PERIODS:
        raise InvalidTaskEvent(f"AnalyzeBilling period {str(period)[:32]!r} is not one of {', '.join(PERIODS)}")
    refresh = parameters.get("refresh", False)
    if not isinstance(refresh, bool):
        raise InvalidTaskEvent(f"AnalyzeBilling refresh must be true or false, got {str(refresh)[:32]!r}")
    return cast(Period, period), refresh


def _task_cache(rt: Runtime) -> BillingCache | None:
    table = rt.settings.cost_reports_table
    if not table:  # the stack always sets it; a bare runtime (no table) queries every time
        return None
    return BillingCache(rt.dynamodb, table, hours=rt.settings.config.multi_account.billing_cache_hours)


def _plan(cache: BillingCache | None, period: Period, refresh: bool, today: date) -> dict[str, Any]:
    """What a real run would do: a cache read (DynamoDB, free) decides whether Cost Explorer would be paid at all."""
    start, end = period_bounds(period, today)
    if cache is None:
        state = "disabled"
    elif refresh:
        state = "refresh"
    else:
        state = "hit" if cache.get(cache_part(period, today)) is not None else "miss"
    queries = [] if state == "hit" else list(QUERIES)
    return {
        "period": period,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "cache": state,
        "queries": queries,
        # Each query is one page unless Cost Explorer paginates; MAX_PAGES bounds a query.
        "ce_requests_min": len(queries),
        "ce_requests_max": len(queries) * MAX_PAGES,
        "estimated_cost_usd": str(len(queries) * PAGE_PRICE),
        "publishes": BILLING_REPORT_READY,  # a real run announces the report, from the cache or not
    }


def _summary(report: BillingReport, ce_requests: int) -> dict[str, Any]:
    """The report in a few KiB: totals, counts and the top lines of each dimension (the event has all of them)."""
    return {
        "period": report.period,
        "start": report.start,
        "end": report.end,
        "currency": report.currency,
        "total": report.total,
        "cached": report.cached,
        "ce_requests": ce_requests,
        "ce_cost_usd": str(ce_requests * PAGE_PRICE),
        "counts": {
            "accounts": len(report.by_account),
            "services": len(report.by_service),
            "agents": len(report.by_agent),
        },
        "top": {
            name: [line.model_dump() for line in lines[:TOP_LINES]]
            for name, lines in (
                ("by_account", report.by_account),
                ("by_service", report.by_service),
                ("by_agent", report.by_agent),
            )
        },
    }


def billing_task(rt: Runtime, task: AwsTask) -> dict[str, Any]:
    """Execute's AnalyzeBilling: the organization's consolidated report from the agent's (management) account's Cost
    Explorer, read from the CostReports cache while fresh, announced as BillingReportReady; read-only, done at once.

    The result (into AwsTaskCompleted's `result`) is a summary; the full report travels in the event. A dry run reads
    the cache only and says what it would query and pay."""
    period, refresh = billing_parameters(task.parameters)
    today = utc_now().date()
    cache = _task_cache(rt)
    if task.dry_run:
        plan = _plan(cache, period, refresh, today)
        return {"operation": "analyze-billing", "dry_run": True, "plan": plan, "ready": True, "next": "complete"}
    ce = rt.client("ce", region=CE_REGION)
    calls: list[str] = []
    ce.meta.events.register("before-call.ce.GetCostAndUsage", lambda **_: calls.append("page"))
    report = billing_report(ce, period, today=today, cache=cache, refresh=refresh)
    # The event names the task (the cached document does not: another task may have cached it).
    publish_report(rt.events, rt.settings.event_bus, report.model_copy(update={"task_id": task.id}))
    summary = _summary(report, len(calls))
    if task.account_id != rt.agent_account_id:  # a task naming a member account: its line, beside the whole bill
        line = next((x for x in report.by_account if x.key == task.account_id), None)
        summary["account"] = (line or CostLine(key=task.account_id, amount="0.00")).model_dump()
    rt.tasks.annotate(
        task.id,
        {"billing": {k: summary[k] for k in ("period", "start", "end", "total", "cached", "ce_requests", "counts")}},
    )
    return {"operation": "analyze-billing", "dry_run": False, **summary, "ready": True, "next": "complete"}
