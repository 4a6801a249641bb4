"""The task pipeline: a Standard Step Functions state machine over the step functions."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .workflows import acknowledge_role, invoke_step, logged_state_machine, retry_transient

FAILURE_ERROR = "AwsTaskFailed"
CANCELLED_ERROR = "AwsTaskCancelled"
APPROVAL_REJECTED = "ApprovalRejected"  # aws_agent.approvals.REJECTED_ERROR: what `aws-agent reject` sends


def max_approval_seconds(scope: Construct) -> int:
    """The approval timeout of this deployment's policies (validated at synth: a bad policy fails the synth)."""
    from aws_agent.guardians.policy import load_policies

    from .settings import agent_config

    return load_policies(agent_config(scope)[1]).approvals.timeout_seconds


def _payload(*fields: str) -> sfn.TaskInput | None:
    """`{"<field>.$": "$.<field>", ...}`; no fields means the whole state.

    The whole state is passed by leaving Parameters out: with `payload_response_only=True` CDK renders
    `TaskInput.from_json_path_at("$")` as `"Parameters": "$"`, which is not valid ASL (Parameters must be an
    object), while a Task state without Parameters hands its whole input to the function.
    """
    if not fields:
        return None
    return sfn.TaskInput.from_object({field: sfn.JsonPath.object_at(f"$.{field}") for field in fields})


class AgentPipeline(Construct):
    """Analyze → Guard → Execute → wait until ready → Tag/Register → Complete; any failure → RecordFailure."""

    def __init__(self, scope: Construct, construct_id: str, *, functions: Mapping[str, lambda_.IFunction]) -> None:
        super().__init__(scope, construct_id)
        self._functions = functions
        self._invoked: set[str] = set()
        # Where every step's Catch goes: record the failure (retried, never caught itself), then fail the run.
        self._on_failure = self._invoke("RecordFailure", "fail", _payload(), "$.failure").next(
            sfn.Fail(self, "TaskFailed", error=FAILURE_ERROR, cause="The task failed; its record holds the reason")
        )

        analyze = self._step("Analyze", "analyze", _payload(), "$.task")
        guard = self._step("Guard", "guard", _payload("task"), "$.guard")
        execute = self._step("Execute", "execute", _payload("task"), "$.execution")
        check_status = self._step("CheckStatus", "status", _payload("task", "execution"), "$.execution")
        tag = self._step("Tag", "tag", _payload("task", "execution"), "$.tagging")
        register = self._step("Register", "register", _payload("task", "execution"), "$.registration")
        complete = self._step("Complete", "complete", _payload(), "$.outcome")
        complete.next(sfn.Succeed(self, "TaskCompleted"))
        tag.next(register)
        register.next(complete)

        next_step = (
            sfn.Choice(self, "NextStep")
            .when(_equals("$.execution.next", "tag"), tag)
            .when(_equals("$.execution.next", "register"), register)
            .otherwise(complete)
        )
        resource_ready = sfn.Choice(self, "ResourceReady?")
        wait = sfn.Wait(self, "WaitForResource", time=sfn.WaitTime.seconds_path("$.execution.poll_seconds"))
        resource_ready.when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.execution.ready"),
                sfn.Condition.boolean_equals("$.execution.ready", False),
            ),
            wait.next(check_status).next(resource_ready),
        ).otherwise(next_step)

        execute.next(resource_ready)
        definition = analyze.next(guard).next(self._approval_gate(execute))
        self.state_machine = logged_state_machine(
            self,
            definition,
            comment="AWS Agent task pipeline",
            # Above the longest provider deadline (Aurora: 90 min of status checks) plus the steps around it, plus the
            # longest a task may wait for a human's approval.
            timeout=Duration.seconds(3 * 3600 + max_approval_seconds(scope)),
        )
        acknowledge_role(self.state_machine, {step: self._functions[step] for step in sorted(self._invoked)})

    def _approval_gate(self, execute: sfn.IChainable) -> sfn.Choice:
        """Guard said needs-approval → wait for a human with a task token; yes → Execute, no or no answer → Cancelled.

        The RequestApproval function stores the token on the task record and emits ApprovalRequested; `aws-agent
        approve|reject` sends SendTaskSuccess / SendTaskFailure(ApprovalRejected). The wait is bounded by the
        Guard's `approval.timeout_seconds` (policies: approvals.timeout_seconds), read at run time.
        """
        self._invoked.add("approval")
        request = tasks.LambdaInvoke(
            self,
            "RequestApproval",
            lambda_function=self._functions["approval"],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "task": sfn.JsonPath.object_at("$.task"),
                    "guard": sfn.JsonPath.object_at("$.guard"),
                    "event": sfn.JsonPath.object_at("$.event"),
                    "token": sfn.JsonPath.task_token,
                }
            ),
            task_timeout=sfn.Timeout.at("$.guard.approval.timeout_seconds"),
            retry_on_service_exceptions=False,
            result_path="$.approval",
        )
        retry_transient(request)
        # Rejected or timed out: the task ends Cancelled (RecordFailure sees `cancelled` and records it so).
        cancelled = (
            sfn.Pass(self, "MarkCancelled", result=sfn.Result.from_boolean(True), result_path="$.cancelled")
            .next(self._invoke("RecordCancellation", "fail", _payload(), "$.failure"))
            .next(sfn.Fail(self, "TaskCancelled", error=CANCELLED_ERROR, cause="No approval: see the task record"))
        )
        request.add_catch(cancelled, errors=[APPROVAL_REJECTED, sfn.Errors.TIMEOUT], result_path="$.error")
        request.add_catch(self._on_failure, errors=[sfn.Errors.ALL], result_path="$.error")
        request.next(execute)
        return (
            sfn.Choice(self, "NeedsApproval?")
            .when(_equals("$.guard.decision", "needs-approval"), request)
            .otherwise(execute)
        )

    def _invoke(
        self, state_name: str, step: str, payload: sfn.TaskInput | None, result_path: str
    ) -> tasks.LambdaInvoke:
        self._invoked.add(step)
        return invoke_step(self, state_name, self._functions[step], payload, result_path)

    def _step(self, state_name: str, step: str, payload: sfn.TaskInput | None, result_path: str) -> tasks.LambdaInvoke:
        """A pipeline step: retried like every Lambda step, any other error recorded by RecordFailure."""
        task = self._invoke(state_name, step, payload, result_path)
        task.add_catch(self._on_failure, errors=[sfn.Errors.ALL], result_path="$.error")
        return task


def _equals(path: str, value: str) -> sfn.Condition:
    """`path == value`, false (not a runtime error) when the field is missing."""
    return sfn.Condition.and_(sfn.Condition.is_present(path), sfn.Condition.string_equals(path, value))
