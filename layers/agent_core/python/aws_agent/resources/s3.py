"""S3 buckets: encrypted, private and tagged at creation; deleted only when managed and empty."""

from __future__ import annotations

import ipaddress
import mimetypes
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import AccessDenied, ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import (
    aws_error,
    operation_of,
    opt_bool,
    opt_str,
    partition_for,
    requested_tag_update,
    short_hash,
    simple_plan,
    tag_dict,
    tag_list,
)
from .base import TASK_TAG, ProviderContext, ResourceOutcome, ResourceProvider

MAX_UPLOAD_BYTES = 1024 * 1024
_NAME_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def validate_bucket_name(name: str) -> str:
    """S3's naming rules for general purpose buckets; TaskAnalysisError explains the first one broken."""
    problem = None
    if not 3 <= len(name) <= 63:
        problem = "must be 3 to 63 characters long"
    elif not _NAME_CHARS.match(name):
        problem = (
            "may hold only lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit"
        )
    elif ".." in name:
        problem = "must not contain two adjacent periods"
    elif name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        problem = "uses a prefix or suffix S3 reserves"
    else:
        try:
            ipaddress.IPv4Address(name)
            problem = "must not be formatted as an IP address"
        except ValueError:
            pass
    if problem:
        raise TaskAnalysisError(f"parameter 'bucket_name' {name!r} is not a valid S3 bucket name: it {problem}")
    return name


@dataclass(frozen=True)
class _CreateSettings:
    kms_key_id: str | None
    versioning: bool

    @property
    def algorithm(self) -> str:
        return "aws:kms" if self.kms_key_id else "AES256"


@dataclass(frozen=True)
class _Upload:
    key: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class _UpdateSettings:
    versioning: bool | None
    tags: dict[str, str]
    upload: _Upload | None


class S3BucketProvider(ResourceProvider):
    resource_type = AwsResourceType.S3_BUCKET

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        name = opt_str(ctx.params, "bucket_name", max_len=255)
        if name is None:
            if ctx.task.task_type is AwsTaskType.CREATE_RESOURCE:
                return self.derived_name(ctx)
            raise TaskAnalysisError("missing parameter 'bucket_name'")
        return validate_bucket_name(name)

    @staticmethod
    def derived_name(ctx: ProviderContext) -> str:
        """The name of a bucket created without `bucket_name`: deterministic, so a replayed task finds its bucket."""
        return f"miyabi-{ctx.task.account_id}-{short_hash(ctx.task.id)}"

    def _is_derived(self, ctx: ProviderContext, name: str) -> bool:
        return ctx.params.get("bucket_name") is None and name == self.derived_name(ctx)

    @staticmethod
    def _arn(ctx: ProviderContext, name: str) -> str:
        return f"arn:{partition_for(ctx.task.region)}:s3:::{name}"

    @staticmethod
    def _create_settings(ctx: ProviderContext) -> _CreateSettings:
        return _CreateSettings(
            kms_key_id=opt_str(ctx.params, "kms_key_id"),
            versioning=bool(opt_bool(ctx.params, "versioning")),
        )

    @staticmethod
    def _update_settings(ctx: ProviderContext) -> _UpdateSettings:
        settings = _UpdateSettings(
            versioning=opt_bool(ctx.params, "versioning"),
            tags=requested_tag_update(ctx.params),
            upload=_parse_upload(ctx.params.get("upload")),
        )
        if settings.versioning is None and not settings.tags and settings.upload is None:
            raise TaskAnalysisError(
                "an S3 bucket update needs at least one of the parameters: versioning, tags, upload"
            )
        return settings

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        s3 = ctx.client("s3")
        if operation == "discover":
            return simple_plan(ctx, None, ["s3:ListBuckets", "s3:GetBucketTagging"], region=ctx.task.region)
        name = self.resource_id(ctx)
        if operation == "create":
            settings = self._create_settings(ctx)
            parameters: dict[str, Any] = {
                "bucket_name": name,
                "region": ctx.task.region,
                "encryption": settings.algorithm,
                "kms_key_id": settings.kms_key_id,
                "versioning": settings.versioning,
                "public_access_block": dict(_PUBLIC_ACCESS_BLOCK),
                "tags": ctx.managed_tags(),
            }
            calls = ["s3:CreateBucket", "s3:PutBucketTagging", "s3:PutBucketEncryption", "s3:PutPublicAccessBlock"]
            if settings.versioning:
                calls.append("s3:PutBucketVersioning")
            if self._owned(ctx, s3, name):
                # Raises ResourceConflict unless this task created it (a replay only re-applies the settings).
                self._check_owner(ctx, s3, name)
                calls = [c for c in calls if c not in ("s3:CreateBucket", "s3:PutBucketTagging")]
                parameters["replay"] = True
            else:
                self._check_name_free(s3, name)
            return {"operation": operation, "resource_id": name, "calls": calls, "parameters": parameters}
        if operation == "update":
            update = self._update_settings(ctx)
            self.managed_status(ctx, name)
            calls = []
            parameters = {}
            if update.versioning is not None:
                calls.append("s3:PutBucketVersioning")
                parameters["versioning"] = update.versioning
            if update.tags:
                calls.append("s3:PutBucketTagging")
                parameters["tags"] = update.tags
            if update.upload is not None:
                calls.append("s3:PutObject")
                parameters["upload"] = {
                    "key": update.upload.key,
                    "size_bytes": len(update.upload.body),
                    "content_type": update.upload.content_type,
                }
            return {"operation": operation, "resource_id": name, "calls": calls, "parameters": parameters}
        # delete
        self.managed_status(ctx, name)
        self._require_empty(s3, name)
        return {"operation": operation, "resource_id": name, "calls": ["s3:DeleteBucket"], "parameters": {}}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        name = self.resource_id(ctx)
        settings = self._create_settings(ctx)
        s3 = ctx.client("s3")
        # CreateBucket in us-east-1 answers 200 for a bucket the account already owns, so ownership is checked first:
        # the agent must never take over (tag, re-encrypt) an existing bucket that another task or a human made.
        if self._owned(ctx, s3, name):
            return self._resume(ctx, s3, name, settings)
        tags = ctx.managed_tags()
        # Tagged at creation (S3 accepts Tags in CreateBucketConfiguration), so no bucket of the agent ever exists
        # without its MiyabiTask tag; the PutBucketTagging below is kept for endpoints that ignore creation tags.
        configuration: dict[str, Any] = {"Tags": tag_list(tags)}
        if ctx.task.region != "us-east-1":
            configuration["LocationConstraint"] = ctx.task.region
        request: dict[str, Any] = {"Bucket": name, "CreateBucketConfiguration": configuration}
        try:
            s3.create_bucket(**request)
        except ClientError as exc:
            code = error_code(exc)
            if code == "BucketAlreadyOwnedByYou":  # created concurrently (or in another region) by this account
                return self._resume(ctx, s3, name, settings)
            if code == "BucketAlreadyExists":
                raise ResourceConflict(
                    f"bucket name {name} is already taken by another AWS account (S3 bucket names are global); "
                    "choose another bucket_name"
                ) from exc
            raise aws_error(exc, f"create bucket {name}") from exc
        # Tag first: a bucket that carries its MiyabiTask tag can be resumed by a replay if a later step fails.
        self._tag_new_bucket(s3, name, tags)
        self._configure(s3, name, settings)
        return self.status(ctx, name)

    def _resume(self, ctx: ProviderContext, s3: Any, name: str, settings: _CreateSettings) -> ResourceOutcome:
        """The bucket exists in this account: a replay of this task (finish its configuration) or a conflict."""
        tags = self._check_owner(ctx, s3, name)
        wanted = {**tags, **ctx.managed_tags()}
        if wanted != tags:
            # An untagged bucket under this task's derived name (the first run failed before tagging), or tags lost.
            self._put_tags(s3, name, wanted)
        self._configure(s3, name, settings)
        return self.status(ctx, name)

    def _check_owner(self, ctx: ProviderContext, s3: Any, name: str) -> dict[str, str]:
        """Tags of an existing bucket of this account, or ResourceConflict unless it is this task's bucket."""
        tags = self._tags(s3, name)
        owner = tags.get(TASK_TAG)
        if owner == ctx.task.id:
            return tags
        if not tags and self._is_derived(ctx, name):
            # The name embeds a hash of this task's id: nobody else makes it. Safe to adopt.
            return tags
        if owner:
            raise ResourceConflict(f"bucket {name} already exists and belongs to task {owner}")
        raise ResourceConflict(
            f"bucket {name} already exists and is unmanaged (no {TASK_TAG} tag); choose another name"
        )

    def _configure(self, s3: Any, name: str, settings: _CreateSettings) -> None:
        """Encryption, public access block and versioning: idempotent puts, safe to repeat on a replay."""
        default: dict[str, str] = {"SSEAlgorithm": settings.algorithm}
        if settings.kms_key_id:
            default["KMSMasterKeyID"] = settings.kms_key_id
        try:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
                },
            )
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=dict(_PUBLIC_ACCESS_BLOCK))
            if settings.versioning:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        except ClientError as exc:
            raise aws_error(exc, f"configure bucket {name}", not_found=f"S3 bucket {name} does not exist") from exc

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        s3 = ctx.client("s3")
        try:
            head = s3.head_bucket(Bucket=resource_id)
        except ClientError as exc:
            if error_code(exc) in ("403", "Forbidden", "AccessDenied"):
                raise AccessDenied(
                    f"S3 bucket {resource_id} exists but account {ctx.task.account_id} cannot access it "
                    "(it may belong to another account)"
                ) from exc
            raise aws_error(
                exc, f"head bucket {resource_id}", not_found=f"S3 bucket {resource_id} does not exist"
            ) from exc
        region = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
            "x-amz-bucket-region"
        )
        tags = self._tags(s3, resource_id)
        try:
            versioning = s3.get_bucket_versioning(Bucket=resource_id).get("Status", "Disabled")
        except ClientError as exc:
            raise aws_error(exc, f"get versioning of bucket {resource_id}") from exc
        return ResourceOutcome(
            id=resource_id,
            arn=self._arn(ctx, resource_id),
            state=ResourceState.ACTIVE,
            ready=True,
            tags=tags,
            metadata={"bucket_name": resource_id, "region": region, "versioning": versioning},
        )

    # --- update -------------------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        settings = self._update_settings(ctx)
        self.managed_status(ctx, resource_id)
        s3 = ctx.client("s3")
        uploaded: dict[str, Any] | None = None
        try:
            if settings.versioning is not None:
                status = "Enabled" if settings.versioning else "Suspended"
                s3.put_bucket_versioning(Bucket=resource_id, VersioningConfiguration={"Status": status})
            if settings.upload is not None:
                upload = settings.upload
                response = s3.put_object(
                    Bucket=resource_id, Key=upload.key, Body=upload.body, ContentType=upload.content_type
                )
                uploaded = {
                    "key": upload.key,
                    "size_bytes": len(upload.body),
                    "etag": str(response.get("ETag", "")).strip('"'),
                    "version_id": response.get("VersionId"),
                }
        except ClientError as exc:
            raise aws_error(
                exc, f"update bucket {resource_id}", not_found=f"S3 bucket {resource_id} does not exist"
            ) from exc
        if settings.tags:
            self.tag(ctx, resource_id, settings.tags)
        outcome = self.status(ctx, resource_id)
        if uploaded is not None:
            outcome.metadata["uploaded"] = uploaded
        return outcome

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        s3 = ctx.client("s3")
        self._require_empty(s3, resource_id)
        try:
            s3.delete_bucket(Bucket=resource_id)
        except ClientError as exc:
            code = error_code(exc)
            if code == "BucketNotEmpty":
                raise ResourceConflict(
                    f"bucket {resource_id} still holds object versions or delete markers; empty it first "
                    "(the agent never deletes objects)"
                ) from exc
            if code != "NoSuchBucket":  # already gone: the goal is reached
                raise aws_error(exc, f"delete bucket {resource_id}") from exc
        return ResourceOutcome(
            id=resource_id,
            arn=outcome.arn,
            state=ResourceState.TERMINATED,
            ready=True,
            tags=outcome.tags,
            metadata={**outcome.metadata, "deleted": True},
        )

    @staticmethod
    def _require_empty(s3: Any, name: str) -> None:
        try:
            listing = s3.list_objects_v2(Bucket=name, MaxKeys=1000)
        except ClientError as exc:
            raise aws_error(
                exc, f"list objects of bucket {name}", not_found=f"S3 bucket {name} does not exist"
            ) from exc
        count = int(listing.get("KeyCount", 0))
        if count:
            shown = f"{count}+" if listing.get("IsTruncated") else str(count)
            raise ResourceConflict(
                f"bucket {name} is not empty ({shown} objects); empty it first or keep the bucket "
                "(the agent never deletes objects)"
            )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        s3 = ctx.client("s3")
        found: list[ResourceOutcome] = []
        try:
            for page in s3.get_paginator("list_buckets").paginate(BucketRegion=ctx.task.region):
                for bucket in page.get("Buckets", []):
                    name = bucket["Name"]
                    metadata: dict[str, Any] = {
                        "bucket_name": name,
                        "region": bucket.get("BucketRegion") or ctx.task.region,
                    }
                    if bucket.get("CreationDate") is not None:
                        metadata["creation_date"] = bucket["CreationDate"].isoformat()
                    try:
                        tags = self._tags(s3, name)
                    except ResourceNotFound:  # deleted since the listing
                        continue
                    except AccessDenied:  # a bucket policy may deny reading tags: still report the bucket
                        tags, metadata["tags_readable"] = {}, False
                    found.append(
                        ResourceOutcome(
                            id=name, arn=self._arn(ctx, name), state=ResourceState.ACTIVE, tags=tags, metadata=metadata
                        )
                    )
        except ClientError as exc:
            raise aws_error(exc, f"list buckets in {ctx.task.region}") from exc
        return found

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        s3 = ctx.client("s3")
        current = self._tags(s3, resource_id)
        merged = {**current, **tags}
        if merged != current:
            # PutBucketTagging replaces the whole set: merge first so other tags survive.
            self._put_tags(s3, resource_id, merged)

    # --- helpers ------------------------------------------------------------------------------------------------

    @staticmethod
    def _owned(ctx: ProviderContext, s3: Any, name: str) -> bool:
        """Whether this account owns a bucket of that name, in any region (ListBuckets lists only one's own)."""
        try:
            for page in s3.get_paginator("list_buckets").paginate(Prefix=name):
                if any(b["Name"] == name for b in page.get("Buckets", [])):
                    return True
        except ClientError as exc:
            raise aws_error(exc, f"list buckets of account {ctx.task.account_id}") from exc
        return False

    @staticmethod
    def _check_name_free(s3: Any, name: str) -> None:
        """For a bucket this account does not own: 404 means the name is free, anything else that it is taken."""
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return
            if error_code(exc) not in ("403", "Forbidden", "AccessDenied", "301", "PermanentRedirect"):
                raise aws_error(exc, f"check bucket name {name}") from exc
        raise ResourceConflict(
            f"bucket name {name} is already taken by another AWS account (S3 bucket names are global); "
            "choose another bucket_name"
        )

    @staticmethod
    def _tags(s3: Any, name: str) -> dict[str, str]:
        try:
            return tag_dict(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
        except ClientError as exc:
            if error_code(exc) == "NoSuchTagSet":
                return {}
            raise aws_error(exc, f"get tags of bucket {name}", not_found=f"S3 bucket {name} does not exist") from exc

    def _tag_new_bucket(self, s3: Any, name: str, tags: dict[str, str]) -> None:
        """Tag the bucket this create just made; if that fails for good, remove the (empty) bucket again.

        An untagged bucket under a name the task chose is indistinguishable from a human's, so a replay would have
        to refuse it: rather than leave it behind unrecorded, the create is undone and the error propagates (a
        transient one is retried by the state machine, which then creates the bucket afresh)."""
        try:
            self._put_tags(s3, name, tags)
        except Exception as tagging_error:
            try:
                s3.delete_bucket(Bucket=name)
            except ClientError as exc:
                raise ResourceConflict(
                    f"bucket {name} was created but could not be tagged ({tagging_error}) nor removed "
                    f"({error_code(exc)}); delete it or tag it {TASK_TAG}=<task id> by hand before a replay"
                ) from exc
            raise

    @staticmethod
    def _put_tags(s3: Any, name: str, tags: dict[str, str]) -> None:
        try:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
        except ClientError as exc:
            raise aws_error(exc, f"tag bucket {name}", not_found=f"S3 bucket {name} does not exist") from exc


def _parse_upload(value: Any) -> _Upload | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TaskAnalysisError(
            "parameter 'upload' must be an object with 'key', 'content' and optional 'content_type'"
        )
    key = value.get("key")
    content = value.get("content")
    if not isinstance(key, str) or not key or len(key.encode()) > 1024:
        raise TaskAnalysisError("parameter 'upload.key' must be a non-empty string of at most 1024 bytes")
    if not isinstance(content, str):
        raise TaskAnalysisError("parameter 'upload.content' must be a string")
    body = content.encode()
    if len(body) > MAX_UPLOAD_BYTES:
        raise TaskAnalysisError(
            f"parameter 'upload.content' is {len(body)} bytes; the agent uploads at most {MAX_UPLOAD_BYTES} bytes"
        )
    content_type = value.get("content_type")
    if content_type is None:
        guessed = mimetypes.guess_type(key)[0]
        content_type = guessed if guessed else "text/plain; charset=utf-8"
    elif not isinstance(content_type, str) or not content_type:
        raise TaskAnalysisError("parameter 'upload.content_type' must be a non-empty string")
    return _Upload(key=key, body=body, content_type=content_type)
