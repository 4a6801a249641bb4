"""What the agent's Step Functions workflows share: retried Lambda steps, plan → Distributed Map, the logged and
traced state machine, its schedule and their cdk-nag acknowledgements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .nag import acknowledge, arn_of, executions_of, wildcard

# Retried by the state machine: our own TransientAwsError (throttling / 5xx that outlived botocore's retries)
# and the Lambda service's transient errors. Everything else is caught and recorded as the task's failure.
TRANSIENT_ERRORS = [
    "TransientAwsError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def retry_transient(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
    """Our one Retry policy for a Lambda step: TRANSIENT_ERRORS, 4 attempts, backoff from 2 s to 30 s, full jitter."""
    task.add_retry(
        errors=TRANSIENT_ERRORS,
        interval=Duration.seconds(2),
        max_attempts=4,
        backoff_rate=2,
        max_delay=Duration.seconds(30),
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def invoke_step(
    scope: Construct, state_name: str, function: lambda_.IFunction, payload: sfn.TaskInput | None, result_path: str
) -> tasks.LambdaInvoke:
    """A Lambda step whose result is the handler's raw output, retried on transient errors."""
    task = tasks.LambdaInvoke(
        scope,
        state_name,
        lambda_function=function,
        payload=payload,
        payload_response_only=True,
        retry_on_service_exceptions=False,  # one Retry policy, ours (retry_transient)
        result_path=result_path,
    )
    return retry_transient(task)


def plan_step(scope: Construct, state_name: str, function: lambda_.IFunction) -> tasks.LambdaInvoke:
    """A fleet workflow's first step: the plan function gets the run id (the execution's name) and the input; its
    output (the `targets`, and what the workers need) becomes the state."""
    run = {"run_id": sfn.JsonPath.string_at("$$.Execution.Name"), "input": sfn.JsonPath.entire_payload}
    return invoke_step(scope, state_name, function, sfn.TaskInput.from_object(run), "$")


def over_targets(
    scope: Construct,
    map_name: str,
    worker_name: str,
    worker: lambda_.IFunction,
    *,
    max_concurrency: int,
    passed: Sequence[str] = (),
) -> sfn.DistributedMap:
    """A Distributed Map over the plan's `$.targets`: one `worker` invocation per target with the run id, the target
    and the `passed` fields of the plan's output. Workers store their results themselves, so the Map's output is
    discarded: it stays small at any fleet size."""
    fan_out = sfn.DistributedMap(
        scope,
        map_name,
        items_path="$.targets",
        item_selector={
            "run_id": sfn.JsonPath.string_at("$.run_id"),
            **{field: sfn.JsonPath.object_at(f"$.{field}") for field in passed},
            "target": sfn.JsonPath.object_at("$$.Map.Item.Value"),
        },
        max_concurrency=max_concurrency,
        result_path=sfn.JsonPath.DISCARD,
    )
    fan_out.item_processor(invoke_step(scope, worker_name, worker, None, "$"))
    return fan_out


def logged_state_machine(
    scope: Construct, definition: sfn.IChainable, *, comment: str, timeout: Duration
) -> sfn.StateMachine:
    """A STANDARD state machine `<scope>/StateMachine`, X-Ray traced, logging to its own log group `<scope>/Logs`
    (kept a month). Every state transition is logged without the state itself: it carries issue bodies and task
    parameters; the records in DynamoDB are the audited copy of the data."""
    log_group = logs.LogGroup(scope, "Logs", retention=logs.RetentionDays.ONE_MONTH)
    return sfn.StateMachine(
        scope,
        "StateMachine",
        comment=comment,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )


def scheduled(scope: Construct, state_machine: sfn.IStateMachine, *, expression: str, description: str) -> events.Rule:
    """The rule `<scope>/Schedule` that starts the state machine with {"scheduled": true} on a schedule expression."""
    return events.Rule(
        scope,
        "Schedule",
        description=description,
        schedule=events.Schedule.expression(expression),
        targets=[targets.SfnStateMachine(state_machine, input=events.RuleTargetInput.from_object({"scheduled": True}))],
    )


def acknowledge_role(state_machine: sfn.StateMachine, invoked: Mapping[str, lambda_.IFunction] | None = None) -> None:
    """The state machine role's wildcards: tracing and log delivery, and any version/alias of each step function."""
    findings = {
        wildcard("*"): "X-Ray tracing (xray:PutTraceSegments, GetSamplingRules, ...) and CloudWatch Logs log delivery "
        "(logs:CreateLogDelivery, ...) support no resource-level permissions."
    }
    for step, function in (invoked or {}).items():
        findings[wildcard(f"{arn_of(function)}:*")] = (
            f"The L2 LambdaInvoke grant allows every version/alias of the {step} function (<arn>:*), "
            "and only that function."
        )
    acknowledge(state_machine.role, findings)


def acknowledge_map_runs(state_machine: sfn.StateMachine) -> None:
    """The Distributed Map's own policy manages the map runs of this state machine's executions only."""
    acknowledge(
        state_machine,
        {
            wildcard(executions_of(state_machine, suffix)): "Map runs of this state machine's own "
            "executions only (the Distributed Map's required policy)."
            for suffix in (":*", "/*:*")
        },
    )
