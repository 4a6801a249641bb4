"""What the agent's Step Functions workflows share: a logged, traced state machine, its schedule, its nag notes."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .nag import acknowledge, arn_of, executions_of, wildcard

TRACING_AND_LOGS = {wildcard("*"): "X-Ray and CloudWatch Logs delivery support no resource-level permissions."}


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
    findings = dict(TRACING_AND_LOGS)
    for step, function in (invoked or {}).items():
        findings[wildcard(f"{arn_of(function)}:*")] = (
            f"Invoke any version/alias of the {step} function, and only that function."
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
