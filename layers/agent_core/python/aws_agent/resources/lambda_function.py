"""Lambda functions: created from inline source, an S3 object or a placeholder; tagged and published at creation."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ..aws import error_code
from ..errors import ResourceNotFound, TaskAnalysisError, TransientAwsError
from ..model import AwsResourceType, ResourceState
from ._common import (
    aws_error,
    check_owner,
    create_plan,
    find_existing,
    named_id,
    operation_of,
    opt_int,
    opt_str,
    opt_str_map,
    partition_for,
    requested_tag_update,
    short_hash,
    simple_plan,
)
from .base import ProviderContext, ResourceOutcome, ResourceProvider

_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_ENV_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
MAX_INLINE_CODE_BYTES = 256 * 1024
ARCHITECTURES = ("arm64", "x86_64")
DEFAULT_RUNTIME = "python3.12"
DEFAULT_HANDLER = "index.handler"

# What a function gets when its task carries no code: an issue such as "Deploy Lambda function for API endpoint"
# asks for the function, not for its logic. The placeholder answers 200 "ok" until an update task ships real code.
PLACEHOLDER_SOURCE = '''"""Placeholder deployed by the Miyabi AWS agent: the creating task carried no code."""


def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
'''

# Update keys that go to UpdateFunctionConfiguration, with the Lambda field each one sets.
_CONFIG_FIELDS = {
    "memory_size": "MemorySize",
    "timeout": "Timeout",
    "runtime": "Runtime",
    "handler": "Handler",
    "environment": "Environment",
    "description": "Description",
}


def zip_source(source: str) -> bytes:
    """A deployment package holding `source` as index.py; byte-for-byte stable, so a replay ships the same code."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("index.py", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, source)
    return buffer.getvalue()


@dataclass(frozen=True)
class _Code:
    """Where a function's code comes from: inline source (zipped here), an S3 object, or the placeholder."""

    source: str  # inline | s3 | placeholder
    zip_bytes: bytes | None = None
    s3_bucket: str | None = None
    s3_key: str | None = None
    s3_object_version: str | None = None

    def arguments(self) -> dict[str, Any]:
        """CreateFunction's Code / UpdateFunctionCode's arguments (the same keys)."""
        if self.zip_bytes is not None:
            return {"ZipFile": self.zip_bytes}
        arguments = {"S3Bucket": self.s3_bucket, "S3Key": self.s3_key}
        if self.s3_object_version:
            arguments["S3ObjectVersion"] = self.s3_object_version
        return arguments

    def describe(self) -> dict[str, Any]:
        if self.zip_bytes is not None:
            return {"code_source": self.source, "package_bytes": len(self.zip_bytes)}
        return {"code_source": "s3", "s3_bucket": self.s3_bucket, "s3_key": self.s3_key}


def _parse_code(params: dict[str, Any], *, placeholder: bool) -> _Code | None:
    source = params.get("code")
    s3_bucket = opt_str(params, "s3_bucket", max_len=63)
    s3_key = opt_str(params, "s3_key", max_len=1024)
    if source is not None and (s3_bucket or s3_key):
        raise TaskAnalysisError("give either parameter 'code' or 's3_bucket' + 's3_key', not both")
    if source is not None:
        if not isinstance(source, str) or not source.strip():
            raise TaskAnalysisError("parameter 'code' must be non-empty Python source text")
        size = len(source.encode())
        if size > MAX_INLINE_CODE_BYTES:
            raise TaskAnalysisError(
                f"parameter 'code' is {size} bytes; inline code is limited to {MAX_INLINE_CODE_BYTES} bytes "
                "(upload larger packages to S3 and pass s3_bucket + s3_key)"
            )
        return _Code(source="inline", zip_bytes=zip_source(source))
    if s3_bucket or s3_key:
        if not (s3_bucket and s3_key):
            raise TaskAnalysisError("parameters 's3_bucket' and 's3_key' go together: give both")
        return _Code(
            source="s3",
            s3_bucket=s3_bucket,
            s3_key=s3_key,
            s3_object_version=opt_str(params, "s3_object_version", max_len=1024),
        )
    return _Code(source="placeholder", zip_bytes=zip_source(PLACEHOLDER_SOURCE)) if placeholder else None


def _environment(params: dict[str, Any]) -> dict[str, str] | None:
    environment = opt_str_map(params, "environment")
    if environment is not None:
        bad = [k for k in environment if not _ENV_KEY.match(k)]
        if bad:
            raise TaskAnalysisError(f"parameter 'environment' has invalid variable names: {', '.join(sorted(bad))}")
    return environment


def _architecture(params: dict[str, Any]) -> str:
    value = params.get("architecture", params.get("architectures"))
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None:
        return "arm64"
    if value not in ARCHITECTURES:
        raise TaskAnalysisError(f"parameter 'architecture' must be one of {', '.join(ARCHITECTURES)}, got {value!r}")
    return str(value)


def _check_inline_fit(runtime: str, handler: str | None, code: _Code | None) -> None:
    """Inline source and the placeholder are Python zipped as index.py: the runtime and handler must match."""
    if code is None or code.zip_bytes is None:
        return
    if not runtime.startswith("python"):
        raise TaskAnalysisError(
            f"parameter 'runtime' {runtime!r}: inline code and the placeholder are Python; pass s3_bucket + s3_key "
            "for other runtimes"
        )
    if handler is not None and not handler.startswith("index."):
        raise TaskAnalysisError(
            f"parameter 'handler' {handler!r}: inline code is index.py, so the handler is index.<fn>"
        )


@dataclass(frozen=True)
class _CreateSpec:
    runtime: str
    handler: str
    memory_size: int
    timeout: int
    architecture: str
    environment: dict[str, str] | None
    description: str
    code: _Code

    def describe(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "handler": self.handler,
            "memory_size": self.memory_size,
            "timeout": self.timeout,
            "architecture": self.architecture,
            "environment_keys": sorted(self.environment or {}),
            **self.code.describe(),
        }


@dataclass(frozen=True)
class _UpdateSpec:
    configuration: dict[str, Any]
    code: _Code | None
    tags: dict[str, str]

    def calls(self) -> list[str]:
        calls = ["lambda:UpdateFunctionConfiguration"] if self.configuration else []
        calls += ["lambda:UpdateFunctionCode"] if self.code else []
        return calls + (["lambda:TagResource"] if self.tags else [])


class LambdaFunctionProvider(ResourceProvider):
    resource_type = AwsResourceType.LAMBDA_FUNCTION

    # Between a configuration update and a code update Lambda must finish the first (else ResourceConflictException).
    update_waiter_config: dict[str, int] = {"Delay": 2, "MaxAttempts": 60}

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        return named_id(
            ctx,
            "function_name",
            max_len=256,
            pattern=_FUNCTION_NAME,
            invalid="must be 1 to 64 letters, digits, hyphens or underscores",
            default=f"miyabi-{short_hash(ctx.task.id)}",
        )

    @staticmethod
    def _arn(ctx: ProviderContext, name: str) -> str:
        partition = partition_for(ctx.task.region)
        return f"arn:{partition}:lambda:{ctx.task.region}:{ctx.task.account_id}:function:{name}"

    @staticmethod
    def _create_spec(ctx: ProviderContext) -> _CreateSpec:
        params = ctx.params
        runtime = opt_str(params, "runtime", max_len=32) or DEFAULT_RUNTIME
        handler = opt_str(params, "handler", max_len=128) or DEFAULT_HANDLER
        code = _parse_code(params, placeholder=True)
        assert code is not None
        _check_inline_fit(runtime, handler, code)
        return _CreateSpec(
            runtime=runtime,
            handler=handler,
            memory_size=opt_int(params, "memory_size", low=128, high=10240) or 128,
            timeout=opt_int(params, "timeout", low=1, high=900) or 10,
            architecture=_architecture(params),
            environment=_environment(params),
            description=opt_str(params, "description", max_len=256)
            or f"Managed by the Miyabi AWS agent (task {ctx.task.id})",
            code=code,
        )

    @staticmethod
    def _update_spec(ctx: ProviderContext) -> _UpdateSpec:
        params = ctx.params
        values: dict[str, Any] = {
            "memory_size": opt_int(params, "memory_size", low=128, high=10240),
            "timeout": opt_int(params, "timeout", low=1, high=900),
            "runtime": opt_str(params, "runtime", max_len=32),
            "handler": opt_str(params, "handler", max_len=128),
            "description": opt_str(params, "description", max_len=256),
        }
        environment = _environment(params)
        if environment is not None:
            values["environment"] = {"Variables": environment}
        configuration = {_CONFIG_FIELDS[k]: v for k, v in values.items() if v is not None}
        code = _parse_code(params, placeholder=False)
        if code is not None:
            _check_inline_fit(values["runtime"] or DEFAULT_RUNTIME, values["handler"], code)
        tags = requested_tag_update(params)
        if not configuration and code is None and not tags:
            raise TaskAnalysisError(
                "a Lambda function update needs at least one of the parameters: "
                f"{', '.join(_CONFIG_FIELDS)}, code, s3_bucket + s3_key, tags"
            )
        return _UpdateSpec(configuration=configuration, code=code, tags=tags)

    def _role(self, ctx: ProviderContext) -> tuple[str, bool]:
        """The execution role ARN and whether it was verified to exist (only the default role is looked up)."""
        role_arn = opt_str(ctx.params, "role_arn", max_len=2048)
        if role_arn is not None:
            match = _ROLE_ARN.match(role_arn)
            if not match:
                raise TaskAnalysisError(f"parameter 'role_arn' {role_arn!r} is not an IAM role ARN")
            if match.group(1) != ctx.task.account_id:
                raise TaskAnalysisError(
                    f"parameter 'role_arn' is in account {match.group(1)}; a function's role must be in the "
                    f"function's account {ctx.task.account_id}"
                )
            return role_arn, False
        role_name = ctx.config.lambda_execution_role_name
        try:
            role = ctx.client("iam").get_role(RoleName=role_name)["Role"]
        except ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchEntity":
                raise ResourceNotFound(
                    f"Lambda execution role {role_name} does not exist in account {ctx.task.account_id}; "
                    "the member-account bootstrap creates it (or pass parameter 'role_arn')"
                ) from exc
            if code in ("AccessDenied", "AccessDeniedException"):
                # The member role may not read IAM: use the conventional ARN and let CreateFunction judge.
                partition = partition_for(ctx.task.region)
                return f"arn:{partition}:iam::{ctx.task.account_id}:role/{role_name}", False
            raise aws_error(exc, f"get role {role_name}") from exc
        return str(role["Arn"]), True

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["lambda:ListFunctions", "lambda:ListTags"], region=ctx.task.region)
        name = self.resource_id(ctx)
        if operation == "create":
            spec = self._create_spec(ctx)
            role_arn, _ = self._role(ctx)
            parameters = {"function_name": name, "role_arn": role_arn, **spec.describe(), "tags": ctx.managed_tags()}
            existing = find_existing(self.status, ctx, name)
            if existing is not None:
                self._check_owner(ctx, existing)
            return create_plan(ctx, name, existing, ["lambda:CreateFunction"], parameters)
        if operation == "update":
            update = self._update_spec(ctx)
            self.managed_status(ctx, name)
            parameters = {
                "configuration": {k: v for k, v in update.configuration.items() if k != "Environment"},
                "environment_keys": sorted(update.configuration.get("Environment", {}).get("Variables", {})),
                "tags": update.tags,
                **(update.code.describe() if update.code else {}),
            }
            return {"operation": operation, "resource_id": name, "calls": update.calls(), "parameters": parameters}
        self.managed_status(ctx, name)
        return {"operation": operation, "resource_id": name, "calls": ["lambda:DeleteFunction"], "parameters": {}}

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        name = self.resource_id(ctx)
        spec = self._create_spec(ctx)
        role_arn, verified = self._role(ctx)
        tags = ctx.managed_tags()
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": spec.runtime,
            "Role": role_arn,
            "Handler": spec.handler,
            "Code": spec.code.arguments(),
            "Description": spec.description,
            "MemorySize": spec.memory_size,
            "Timeout": spec.timeout,
            "Architectures": [spec.architecture],
            "Tags": tags,
            "Publish": True,
        }
        if spec.environment:
            request["Environment"] = {"Variables": spec.environment}
        try:
            response = ctx.client("lambda").create_function(**request)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ResourceConflictException":  # the function exists: this task's earlier run, or a conflict
                existing = self.status(ctx, name)
                self._check_owner(ctx, existing)
                return existing
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if verified and code == "InvalidParameterValueException" and "cannot be assumed" in message:
                # A role that exists but Lambda cannot assume yet: IAM is still propagating a fresh role. Retry.
                raise TransientAwsError(
                    f"create function {name}: role {role_arn} is not assumable yet: {message}"
                ) from exc
            raise aws_error(exc, f"create function {name}") from exc
        outcome = self._outcome(ctx, response, tags)
        outcome.metadata["code_source"] = spec.code.source
        return outcome

    @staticmethod
    def _check_owner(ctx: ProviderContext, existing: ResourceOutcome) -> None:
        check_owner(ctx, existing, "Lambda function", "function_name", untagged="is unmanaged", hint_owned=False)

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        lam = ctx.client("lambda")
        not_found = f"Lambda function {resource_id} does not exist in {ctx.task.account_id}/{ctx.task.region}"
        try:
            response = lam.get_function(FunctionName=resource_id)
            configuration = response["Configuration"]
            tags = response.get("Tags")
            if tags is None:
                tags = lam.list_tags(Resource=configuration["FunctionArn"]).get("Tags", {})
        except ClientError as exc:
            raise aws_error(exc, f"get function {resource_id}", not_found=not_found) from exc
        return self._outcome(ctx, configuration, dict(tags))

    def _outcome(self, ctx: ProviderContext, configuration: dict[str, Any], tags: dict[str, str]) -> ResourceOutcome:
        lambda_state = configuration.get("State")
        last_update = configuration.get("LastUpdateStatus")
        reason = None
        if lambda_state == "Pending":
            state, ready = ResourceState.CREATING, False
        elif lambda_state == "Failed":
            state, ready, reason = ResourceState.FAILED, True, configuration.get("StateReason")
        elif last_update == "InProgress":
            state, ready = ResourceState.UPDATING, False
        elif last_update == "Failed":
            state, ready, reason = ResourceState.FAILED, True, configuration.get("LastUpdateStatusReason")
        else:  # Active, Inactive (idle; wakes on invoke) or absent (ListFunctions omits it)
            state, ready = ResourceState.ACTIVE, True
        architectures = configuration.get("Architectures") or ["x86_64"]
        metadata: dict[str, Any] = {
            "function_name": configuration.get("FunctionName"),
            "runtime": configuration.get("Runtime"),
            "handler": configuration.get("Handler"),
            "memory_size": configuration.get("MemorySize"),
            "timeout": configuration.get("Timeout"),
            "architecture": architectures[0],
            "version": configuration.get("Version"),
            "code_size": configuration.get("CodeSize"),
            "code_sha256": configuration.get("CodeSha256"),
            "last_modified": configuration.get("LastModified"),
            "role": configuration.get("Role"),
            "package_type": configuration.get("PackageType"),
            "lambda_state": lambda_state,
            "last_update_status": last_update,
            # Keys only: environment values may hold secrets and metadata is stored and published.
            "environment_keys": sorted(configuration.get("Environment", {}).get("Variables", {})),
        }
        if reason:
            metadata["state_reason"] = reason
        name = str(configuration["FunctionName"])
        return ResourceOutcome(
            id=name,
            arn=self._arn(ctx, name),
            state=state,
            ready=ready,
            tags=tags,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    # --- update -------------------------------------------------------------------------------------------------

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        spec = self._update_spec(ctx)
        outcome = self.managed_status(ctx, resource_id)
        # Inline code must also fit the function as it is (a Node.js function or an app.handler cannot take index.py).
        _check_inline_fit(
            spec.configuration.get("Runtime") or str(outcome.metadata.get("runtime", "")),
            spec.configuration.get("Handler") or outcome.metadata.get("handler"),
            spec.code,
        )
        if not outcome.ready:
            raise TransientAwsError(
                f"Lambda function {resource_id} is {outcome.state.value}; update it once it settles"
            )
        lam = ctx.client("lambda")
        try:
            if spec.configuration:
                lam.update_function_configuration(FunctionName=resource_id, **spec.configuration)
                if spec.code is not None:
                    lam.get_waiter("function_updated").wait(
                        FunctionName=resource_id, WaiterConfig=self.update_waiter_config
                    )
            if spec.code is not None:
                lam.update_function_code(FunctionName=resource_id, Publish=True, **spec.code.arguments())
        except WaiterError as exc:
            raise TransientAwsError(
                f"Lambda function {resource_id} configuration update did not finish: {exc}"
            ) from exc
        except ClientError as exc:
            if error_code(exc) == "ResourceConflictException":  # another update is in progress
                raise TransientAwsError(f"update function {resource_id}: {exc}") from exc
            raise aws_error(
                exc, f"update function {resource_id}", not_found=f"Lambda function {resource_id} does not exist"
            ) from exc
        if spec.tags:
            self.tag(ctx, resource_id, spec.tags)
        return self.status(ctx, resource_id)

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self.managed_status(ctx, resource_id)
        try:
            ctx.client("lambda").delete_function(FunctionName=resource_id)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":  # already gone: the goal is reached
                raise aws_error(exc, f"delete function {resource_id}") from exc
        return outcome.model_copy(
            update={"state": ResourceState.TERMINATED, "ready": True, "metadata": {**outcome.metadata, "deleted": True}}
        )

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        lam = ctx.client("lambda")
        found: list[ResourceOutcome] = []
        try:
            for page in lam.get_paginator("list_functions").paginate():
                for configuration in page.get("Functions", []):
                    try:
                        tags = lam.list_tags(Resource=configuration["FunctionArn"]).get("Tags", {})
                    except ClientError as exc:
                        if error_code(exc) == "ResourceNotFoundException":  # deleted since the listing
                            continue
                        raise
                    found.append(self._outcome(ctx, configuration, dict(tags)))
        except ClientError as exc:
            raise aws_error(exc, f"list functions in {ctx.task.region}") from exc
        return found

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        if not tags:
            return
        try:
            ctx.client("lambda").tag_resource(Resource=self._arn(ctx, resource_id), Tags=tags)
        except ClientError as exc:
            raise aws_error(
                exc, f"tag function {resource_id}", not_found=f"Lambda function {resource_id} does not exist"
            ) from exc
