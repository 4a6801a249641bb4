"""Helpers shared by the network, storage, scaling and monitoring providers: not-found codes, bounded waits, ids."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import ResourceNotFound, TransientAwsError
from ._common import aws_error, short_hash
from .base import ProviderContext

# AWS-assigned network ids that several providers take as parameters.
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SG_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")


def call(fn: Callable[..., Any], doing: str, *, missing: Iterable[str] = (), not_found: str = "", **kwargs: Any) -> Any:
    """Call one boto3 operation; codes in `missing` become ResourceNotFound(not_found), others are translated."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        if error_code(exc) in set(missing):
            raise ResourceNotFound(not_found or f"{doing}: not found") from exc
        raise aws_error(exc, doing) from exc


def paged(client: Any, operation: str, key: str, doing: str, **kwargs: Any) -> list[Any]:
    """Every item under `key` across the pages of one boto3 paginator; a ClientError is translated."""
    try:
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    except ClientError as exc:
        raise aws_error(exc, doing) from exc


def wait_until(check: Callable[[], bool], what: str, *, attempts: int, delay: float) -> None:
    """A short bounded wait inside one step (seconds, never minutes); TransientAwsError lets the state machine retry.

    Used only where one AWS call must finish before the next may be made in the same step (a mount target gone
    before its file system is deleted); everything longer is the state machine's wait loop.
    """
    for attempt in range(attempts):
        if check():
            return
        if attempt < attempts - 1:
            time.sleep(delay)
    raise TransientAwsError(f"{what} did not happen within {attempts * delay:.0f} s; the step is retried")


def name_for(ctx: ProviderContext, explicit: str | None, *, max_len: int, prefix: str = "miyabi-") -> str:
    """A deterministic resource name per task (a replay finds the same name), or the one the task gives."""
    if explicit:
        return explicit
    safe = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in ctx.task.id).strip("-").lower()
    name = f"{prefix}{safe}"
    if len(name) > max_len:  # keep it unique: a truncated id gets a hash of the whole id
        name = f"{name[: max_len - 9].rstrip('-')}-{short_hash(ctx.task.id, 8)}"
    return name
