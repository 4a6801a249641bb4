"""CloudFormation stacks (CDK-synthesized templates included): create, change-set updates, drift detection, delete."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ..aws import error_code
from ..errors import AwsCallFailed, ResourceConflict, ResourceNotFound, TaskAnalysisError
from ..model import AwsResourceType, AwsTaskType, ResourceState
from ._common import (
    aws_error,
    check_owner,
    find_existing,
    named_id,
    operation_of,
    opt_bool,
    opt_str,
    opt_str_list,
    opt_str_map,
    requested_tag_update,
    short_hash,
    simple_plan,
    tag_dict,
    tag_list,
)
from ._net import paged
from .base import ProviderContext, ResourceOutcome, ResourceProvider

_STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
MAX_TEMPLATE_BODY = 51_200  # CloudFormation's limit for TemplateBody; larger templates go through S3
CAPABILITIES = frozenset({"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"})
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")

_IN_FLIGHT = {
    AwsTaskType.CREATE_RESOURCE: ResourceState.CREATING,
    AwsTaskType.UPDATE_RESOURCE: ResourceState.UPDATING,
    AwsTaskType.DELETE_RESOURCE: ResourceState.DELETING,
}
# Statuses in which the stack's last operation failed: Failed, with StackStatusReason.
FAILED_STATUSES = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_FAILED",
        "ROLLBACK_COMPLETE",
        "DELETE_FAILED",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_FAILED",
        "IMPORT_ROLLBACK_FAILED",
    }
)
# The stack works, but an update rolled back: that failed the update task only.
_ROLLED_BACK_UPDATE = frozenset({"UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"})


def client_token(operation: str, task_id: str) -> str:
    """CloudFormation's idempotency token (<= 128 of [a-zA-Z0-9-]): a replayed call is recognised, not repeated."""
    return f"miyabi-{operation}-{short_hash(task_id, 40)}"


def change_set_name(task_id: str) -> str:
    """One change set per update task: a replay or a later status check finds the same one."""
    return f"miyabi-{short_hash(task_id, 24)}"


def status_of(stack_status: str, task_type: AwsTaskType, reason: str) -> tuple[ResourceState, bool, str | None]:
    """StackStatus -> (record state, ready, failure reason)."""
    if stack_status == "DELETE_COMPLETE":
        return ResourceState.TERMINATED, True, None
    if stack_status == "DELETE_IN_PROGRESS":
        return ResourceState.DELETING, False, None
    if stack_status.endswith("_IN_PROGRESS"):
        return _IN_FLIGHT.get(task_type, ResourceState.UPDATING), False, None
    if stack_status in FAILED_STATUSES or (
        stack_status in _ROLLED_BACK_UPDATE and task_type is AwsTaskType.UPDATE_RESOURCE
    ):
        return ResourceState.FAILED, True, f"stack is {stack_status}: {reason or 'no reason given'}"
    return ResourceState.ACTIVE, True, None


class CloudFormationStackProvider(ResourceProvider):
    resource_type = AwsResourceType.CLOUDFORMATION_STACK
    poll_seconds: ClassVar[int] = 15
    deadline_seconds: ClassVar[int] = 60 * 60

    # --- ids and parameters -------------------------------------------------------------------------------------

    def resource_id(self, ctx: ProviderContext) -> str:
        return named_id(
            ctx,
            "stack_name",
            max_len=128,
            pattern=_STACK_NAME,
            invalid="is not a stack name (a letter, then up to 127 letters, digits, -)",
            default=f"miyabi-{short_hash(ctx.task.account_id + ctx.task.id)}",
        )

    @staticmethod
    def _template(ctx: ProviderContext, *, required: bool) -> dict[str, str]:
        """TemplateBody (from `template`: a dict such as a CDK-synthesized template, or its text) or TemplateURL."""
        template = ctx.params.get("template")
        url = opt_str(ctx.params, "template_url", max_len=1024)
        if template is not None and url is not None:
            raise TaskAnalysisError("give either parameter 'template' or 'template_url', not both")
        if url is not None:
            if not url.startswith("https://"):
                raise TaskAnalysisError("parameter 'template_url' must be an https:// URL of a template in S3")
            return {"TemplateURL": url}
        if template is None:
            if required:
                raise TaskAnalysisError("missing parameter 'template' (template body) or 'template_url' (S3 URL)")
            return {}
        if isinstance(template, dict):
            if not isinstance(template.get("Resources"), dict) or not template["Resources"]:
                raise TaskAnalysisError("parameter 'template' has no 'Resources': it is not a CloudFormation template")
            body = json.dumps(template, separators=(",", ":"))
        elif isinstance(template, str) and template.strip():
            body = template
        else:
            raise TaskAnalysisError("parameter 'template' must be a template object or its JSON/YAML text")
        size = len(body.encode())
        if size > MAX_TEMPLATE_BODY:
            raise TaskAnalysisError(
                f"parameter 'template' is {size} bytes; CloudFormation takes at most {MAX_TEMPLATE_BODY} bytes "
                "inline: upload it to S3 and pass 'template_url'"
            )
        return {"TemplateBody": body}

    @staticmethod
    def _stack_parameters(ctx: ProviderContext) -> list[dict[str, str]] | None:
        values = opt_str_map(ctx.params, "stack_parameters")
        if values is None:
            return None
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]

    @staticmethod
    def _capabilities(ctx: ProviderContext) -> list[str]:
        capabilities = opt_str_list(ctx.params, "capabilities") or []
        unknown = sorted(set(capabilities) - CAPABILITIES)
        if unknown:
            raise TaskAnalysisError(
                f"parameter 'capabilities' has unknown values {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(CAPABILITIES))}"
            )
        return capabilities

    @staticmethod
    def _role_arn(ctx: ProviderContext) -> str | None:
        """The service role CloudFormation acts with (RoleARN): without it, the stack may only do what the agent may."""
        role = opt_str(ctx.params, "role_arn", max_len=2048)
        if role is not None and not _ROLE_ARN.match(role):
            raise TaskAnalysisError(f"parameter 'role_arn' {role!r} is not an IAM role ARN")
        return role

    def _access(self, ctx: ProviderContext) -> dict[str, Any]:
        """Capabilities and RoleARN for a create or a change set, those the task gives."""
        access = {"Capabilities": self._capabilities(ctx), "RoleARN": self._role_arn(ctx)}
        return {k: v for k, v in access.items() if v}

    def _create_request(self, ctx: ProviderContext, name: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "StackName": name,
            **self._template(ctx, required=True),
            # Stack tags propagate to every resource the stack creates that supports tags.
            "Tags": tag_list(ctx.managed_tags()),
            "ClientRequestToken": client_token("create", ctx.task.id),
        }
        parameters = self._stack_parameters(ctx)
        if parameters:
            request["Parameters"] = parameters
        request.update(self._access(ctx))
        if opt_bool(ctx.params, "termination_protection"):
            request["EnableTerminationProtection"] = True
        return request

    # --- plan ---------------------------------------------------------------------------------------------------

    def plan(self, ctx: ProviderContext) -> dict[str, Any]:
        operation = operation_of(ctx)
        if operation == "discover":
            return simple_plan(ctx, None, ["cloudformation:DescribeStacks"])
        name = self.resource_id(ctx)
        cfn = ctx.client("cloudformation")
        if operation == "create":
            request = self._create_request(ctx, name)
            existing = self._existing(ctx, name)
            if existing is not None:
                self._check_owner(ctx, existing)
            elif "TemplateBody" in request:
                self._validate(cfn, request["TemplateBody"])
            shown = {k: v for k, v in request.items() if k not in ("Tags", "TemplateBody")}
            create_calls = [] if existing else ["cloudformation:CreateStack"]
            return {"operation": operation, "resource_id": name, "calls": create_calls, "parameters": shown}
        outcome = self._plain_status(ctx, name)
        self.require_managed(outcome)
        if operation == "delete":
            return {
                "operation": operation,
                "resource_id": name,
                "calls": ["cloudformation:DeleteStack"],
                "parameters": {},
            }
        template, parameters, drift, tags = self._update_settings(ctx)
        calls: list[str] = []
        if template or parameters is not None:
            calls += ["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"]
        if drift:
            calls.append("cloudformation:DetectStackDrift")
        if tags:
            calls.append("cloudformation:UpdateStack")
        shown = {"change_set": change_set_name(ctx.task.id), "detect_drift": drift, "tags": tags}
        if "TemplateBody" in template:
            self._validate(cfn, template["TemplateBody"])
        return {"operation": operation, "resource_id": name, "calls": calls, "parameters": shown}

    @staticmethod
    def _validate(cfn: Any, body: str) -> None:
        try:
            cfn.validate_template(TemplateBody=body)
        except ClientError as exc:
            if error_code(exc) == "ValidationError":
                raise TaskAnalysisError(f"the template is not valid: {exc.response['Error'].get('Message')}") from exc
            raise aws_error(exc, "validate the template") from exc

    # --- create -------------------------------------------------------------------------------------------------

    def create(self, ctx: ProviderContext) -> ResourceOutcome:
        name = self.resource_id(ctx)
        request = self._create_request(ctx, name)
        existing = self._existing(ctx, name)
        if existing is not None:
            return self._check_owner(ctx, existing)
        try:
            ctx.client("cloudformation").create_stack(**request)
        except ClientError as exc:
            if error_code(exc) == "AlreadyExistsException":
                return self._check_owner(ctx, self.status(ctx, name))
            if error_code(exc) == "ValidationError":
                raise TaskAnalysisError(
                    f"CloudFormation rejected stack {name}: {exc.response['Error'].get('Message')}"
                ) from exc
            raise aws_error(exc, f"create stack {name}") from exc
        outcome = self.status(ctx, name)
        if outcome.state is ResourceState.FAILED or not outcome.ready:
            return outcome
        # Done already (an emulator, or an empty change): the wait loop's first check confirms it.
        return outcome.model_copy(update={"ready": False, "state": ResourceState.CREATING})

    def _existing(self, ctx: ProviderContext, name: str) -> ResourceOutcome | None:
        return find_existing(self._plain_status, ctx, name)

    @staticmethod
    def _check_owner(ctx: ProviderContext, outcome: ResourceOutcome) -> ResourceOutcome:
        return check_owner(ctx, outcome, "stack", "stack_name")

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        """The stack's state; for an update task it also moves the update along (change set, drift detection)."""
        outcome = self._plain_status(ctx, resource_id)
        if ctx.task.task_type is AwsTaskType.UPDATE_RESOURCE:
            pending = self._change_set_phase(ctx, resource_id, outcome)
            if pending is not None:
                return pending
        previous = ctx.previous.metadata if ctx.previous is not None else {}
        for key in ("change_set", "drift_detection_id"):
            if key in previous:
                outcome.metadata.setdefault(key, previous[key])
        if outcome.ready and outcome.state is ResourceState.ACTIVE and previous.get("drift_detection_id"):
            return self._drift_phase(ctx, outcome, str(previous["drift_detection_id"]))
        return outcome

    def _describe(self, ctx: ProviderContext, name: str) -> dict[str, Any]:
        try:
            stacks = ctx.client("cloudformation").describe_stacks(StackName=name).get("Stacks", [])
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                raise ResourceNotFound(f"CloudFormation stack {name} does not exist") from exc
            raise aws_error(exc, f"describe stack {name}") from exc
        if not stacks:
            raise ResourceNotFound(f"CloudFormation stack {name} does not exist")
        stack: dict[str, Any] = stacks[0]
        return stack

    def _plain_status(self, ctx: ProviderContext, name: str) -> ResourceOutcome:
        return self._outcome(ctx, self._describe(ctx, name))

    def _outcome(self, ctx: ProviderContext, stack: dict[str, Any]) -> ResourceOutcome:
        stack_status = str(stack.get("StackStatus", ""))
        reason = str(stack.get("StackStatusReason") or "")
        failed = stack_status in FAILED_STATUSES or stack_status in _ROLLED_BACK_UPDATE
        if failed:
            reason = self._first_failure(ctx, stack["StackId"]) or reason
        state, ready, failure = status_of(stack_status, ctx.task.task_type, reason)
        drift = stack.get("DriftInformation") or {}
        metadata: dict[str, Any] = {
            "stack_name": stack["StackName"],
            "stack_status": stack_status,
            "outputs": {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", []) if "OutputKey" in o},
            "drift_status": drift.get("StackDriftStatus", "NOT_CHECKED"),
        }
        if reason:
            metadata["stack_status_reason"] = reason[:1000]
        if failure:
            metadata["reason"] = failure[:1000]
        return ResourceOutcome(
            id=stack["StackName"],
            arn=stack["StackId"],
            state=state,
            ready=ready,
            tags=tag_dict(stack.get("Tags")),
            metadata=metadata,
        )

    @staticmethod
    def _first_failure(ctx: ProviderContext, stack_id: str) -> str | None:
        """The resource failure that started a rollback: more useful than the stack's own reason."""
        try:
            events = ctx.client("cloudformation").describe_stack_events(StackName=stack_id).get("StackEvents", [])
        except ClientError:  # best effort: the stack's own reason still explains the failure
            return None
        failures = [
            e for e in events if str(e.get("ResourceStatus", "")).endswith("_FAILED") and e.get("ResourceStatusReason")
        ]
        if not failures:
            return None
        first = failures[-1]  # events are newest first
        return f"{first.get('LogicalResourceId')} ({first.get('ResourceType')}): {first['ResourceStatusReason']}"

    def _change_set_phase(self, ctx: ProviderContext, name: str, base: ResourceOutcome) -> ResourceOutcome | None:
        """The update's change set: not yet computed (wait), computed (execute it, wait), empty (done), failed."""
        cfn = ctx.client("cloudformation")
        change_set = change_set_name(ctx.task.id)
        try:
            described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        except ClientError as exc:
            if error_code(exc) in ("ChangeSetNotFound", "ChangeSetNotFoundException", "ValidationError"):
                return None  # this update has no change set (tags or drift only), or it was executed and cleaned up
            raise aws_error(exc, f"describe change set {change_set}") from exc
        status = described.get("Status")
        execution = described.get("ExecutionStatus")
        base.metadata["change_set"] = change_set
        base.metadata["change_set_status"] = status
        base.metadata["changes"] = len(described.get("Changes", []))
        if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            return base.model_copy(update={"state": ResourceState.UPDATING, "ready": False})
        if status == "FAILED":
            reason = str(described.get("StatusReason") or "")
            if any(marker in reason for marker in _NO_CHANGES):
                base.metadata["no_changes"] = True
                return base  # nothing to change: the update is a no-op success
            return base.model_copy(
                update={
                    "state": ResourceState.FAILED,
                    "ready": True,
                    "metadata": {**base.metadata, "reason": f"change set {change_set} failed: {reason}"},
                }
            )
        if execution == "AVAILABLE":
            try:
                cfn.execute_change_set(
                    StackName=name, ChangeSetName=change_set, ClientRequestToken=client_token("execute", ctx.task.id)
                )
            except ClientError as exc:
                raise aws_error(exc, f"execute change set {change_set} on {name}") from exc
            return base.model_copy(update={"state": ResourceState.UPDATING, "ready": False})
        return None  # executing or executed: the stack's status tells the rest

    def _drift_phase(self, ctx: ProviderContext, outcome: ResourceOutcome, detection_id: str) -> ResourceOutcome:
        cfn = ctx.client("cloudformation")
        try:
            detection = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        except ClientError as exc:
            raise aws_error(exc, f"read drift detection {detection_id}") from exc
        status = detection.get("DetectionStatus")
        outcome.metadata["drift_detection_id"] = detection_id
        outcome.metadata["drift_detection_status"] = status
        if status == "DETECTION_IN_PROGRESS":
            return outcome.model_copy(update={"ready": False, "state": ResourceState.UPDATING})
        if status == "DETECTION_FAILED" and not detection.get("StackDriftStatus"):
            raise AwsCallFailed(
                f"drift detection of stack {outcome.id} failed: {detection.get('DetectionStatusReason', '')}"
            )
        # DETECTION_FAILED with a drift status: some resources could not be checked; the reason says which.
        outcome.metadata["drift_status"] = detection.get("StackDriftStatus", "UNKNOWN")
        outcome.metadata["drifted_resources"] = detection.get("DriftedStackResourceCount", 0)
        if detection.get("DetectionStatusReason"):
            outcome.metadata["drift_detection_reason"] = str(detection["DetectionStatusReason"])[:1000]
        return outcome

    # --- update -------------------------------------------------------------------------------------------------

    def _update_settings(
        self, ctx: ProviderContext
    ) -> tuple[dict[str, str], list[dict[str, str]] | None, bool, dict[str, str]]:
        template = self._template(ctx, required=False)
        parameters = self._stack_parameters(ctx)
        drift = bool(opt_bool(ctx.params, "detect_drift"))
        tags = requested_tag_update(ctx.params)
        changing = bool(template) or parameters is not None
        if drift and (changing or tags):
            raise TaskAnalysisError("drift detection ('detect_drift') is its own update task: send changes separately")
        if changing and tags:
            raise TaskAnalysisError("send a template/parameter change and a tag change as two update tasks")
        if not (changing or drift or tags):
            raise TaskAnalysisError(
                "a CloudFormationStack update needs 'template', 'template_url', 'stack_parameters', 'tags' or "
                "'detect_drift'"
            )
        return template, parameters, drift, tags

    def update(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        outcome = self._plain_status(ctx, resource_id)
        self.require_managed(outcome)
        template, parameters, drift, tags = self._update_settings(ctx)
        cfn = ctx.client("cloudformation")
        if drift:
            if not outcome.ready:
                raise ResourceConflict(f"stack {resource_id} is {outcome.metadata['stack_status']}; retry later")
            try:
                detection_id = cfn.detect_stack_drift(StackName=resource_id)["StackDriftDetectionId"]
            except ClientError as exc:
                raise aws_error(exc, f"detect drift of stack {resource_id}") from exc
            outcome.metadata["drift_detection_id"] = detection_id
            return outcome.model_copy(update={"ready": False, "state": ResourceState.UPDATING})
        if tags:
            self.tag(ctx, resource_id, tags)
            return self._in_flight(self._plain_status(ctx, resource_id))
        request: dict[str, Any] = {
            "StackName": resource_id,
            "ChangeSetName": change_set_name(ctx.task.id),
            "ChangeSetType": "UPDATE",
            "ClientToken": client_token("changeset", ctx.task.id),
            **(template or {"UsePreviousTemplate": True}),
        }
        if parameters is not None:
            request["Parameters"] = parameters
        elif "TemplateBody" not in template and "TemplateURL" not in template:
            request["Parameters"] = self._previous_parameters(cfn, resource_id)
        request.update(self._access(ctx))
        try:
            cfn.create_change_set(**request)
        except ClientError as exc:
            if error_code(exc) != "AlreadyExistsException":  # a replay: the status check carries it on
                raise aws_error(exc, f"create change set on stack {resource_id}") from exc
        return self._in_flight(self.status(ctx, resource_id))

    @staticmethod
    def _in_flight(outcome: ResourceOutcome) -> ResourceOutcome:
        """Right after a mutating call: the wait loop's first status check decides (unless it already failed)."""
        if outcome.state is ResourceState.FAILED or not outcome.ready or outcome.metadata.get("no_changes"):
            return outcome
        return outcome.model_copy(update={"ready": False, "state": ResourceState.UPDATING})

    @staticmethod
    def _previous_parameters(cfn: Any, name: str) -> list[dict[str, Any]]:
        try:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as exc:
            raise aws_error(exc, f"describe stack {name}") from exc
        return [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in stack.get("Parameters", [])]

    # --- delete -------------------------------------------------------------------------------------------------

    def delete(self, ctx: ProviderContext, resource_id: str) -> ResourceOutcome:
        try:
            outcome = self._plain_status(ctx, resource_id)
        except ResourceNotFound:
            return self._deleted(ctx, resource_id)
        self.require_managed(outcome)
        if outcome.metadata["stack_status"] == "DELETE_IN_PROGRESS":
            return outcome
        try:
            ctx.client("cloudformation").delete_stack(
                StackName=outcome.arn, ClientRequestToken=client_token("delete", ctx.task.id)
            )
        except ClientError as exc:
            raise aws_error(exc, f"delete stack {resource_id}") from exc
        return outcome.model_copy(update={"state": ResourceState.DELETING, "ready": False})

    def _deleted(self, ctx: ProviderContext, name: str) -> ResourceOutcome:
        """A delete replayed after the stack is gone: done when the latest stack of that name was managed."""
        cfn = ctx.client("cloudformation")
        summaries = paged(
            cfn,
            "list_stacks",
            "StackSummaries",
            f"list deleted stacks named {name}",
            StackStatusFilter=["DELETE_COMPLETE"],
        )
        deleted = [s for s in summaries if s.get("StackName") == name]
        if not deleted:
            raise ResourceNotFound(f"CloudFormation stack {name} does not exist")
        latest = max(deleted, key=lambda s: s.get("DeletionTime") or s["CreationTime"])
        # A deleted stack is still described by its id (for 90 days), tags included.
        outcome = self._outcome(ctx, self._describe(ctx, latest["StackId"]))
        self.require_managed(outcome)
        return outcome.model_copy(update={"state": ResourceState.TERMINATED, "ready": True})

    # --- discover and tag ---------------------------------------------------------------------------------------

    def discover(self, ctx: ProviderContext) -> list[ResourceOutcome]:
        stacks = paged(
            ctx.client("cloudformation"), "describe_stacks", "Stacks", f"describe stacks in {ctx.task.region}"
        )
        # Nested stacks are parts of their root stack, not stacks of their own to manage.
        return [self._outcome(ctx, s) for s in stacks if not s.get("ParentId")]

    def tag(self, ctx: ProviderContext, resource_id: str, tags: dict[str, str]) -> None:
        """Stack tags change only through UpdateStack (same template and parameters); a no-op when nothing changes."""
        stack = self._describe(ctx, resource_id)
        current = tag_dict(stack.get("Tags"))
        merged = {**current, **tags}
        if merged == current:
            return
        request: dict[str, Any] = {
            "StackName": stack["StackId"],
            "UsePreviousTemplate": True,
            "Parameters": [
                {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in stack.get("Parameters", [])
            ],
            "Tags": tag_list(merged),
        }
        if stack.get("Capabilities"):
            request["Capabilities"] = stack["Capabilities"]
        try:
            ctx.client("cloudformation").update_stack(**request)
        except ClientError as exc:
            if any(marker in str(exc) for marker in _NO_CHANGES):
                return
            raise aws_error(exc, f"tag stack {resource_id}") from exc
