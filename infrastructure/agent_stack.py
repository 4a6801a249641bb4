"""AgentStack: state, messaging, functions, permissions and the pipeline, wired together."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from .bedrock import grant_bedrock_analyzer
from .functions import AgentFunctions, timeout_of
from .guardians import AgentGuardians
from .health import HealthMonitoring
from .messaging import AgentMessaging
from .nag import acknowledge, executions_of, wildcard
from .optimization import OptimizationWorkflow
from .organization import OrganizationFeatures
from .permissions import RESOURCE_STEPS, ResourceManagementPolicy, grant_pipeline_access
from .pipeline import AgentPipeline
from .provider_policies_edge import EdgeProviderPolicies
from .provider_policies_long import LongRunningProviderPolicy
from .provider_policies_net import NetProviderPolicies
from .settings import agent_config, event_bus_name
from .state import AgentState

INTAKE_BATCH_SIZE = 10


class AgentStack(Stack):
    """The whole agent: EventBridge → SQS → intake → Step Functions pipeline over DynamoDB state."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config, parsed_config = agent_config(self)
        self.state = AgentState(self, "State")
        self.messaging = AgentMessaging(
            self, "Messaging", bus_name=event_bus_name(self), consumer_timeout=timeout_of("intake")
        )
        self.functions = AgentFunctions(
            self,
            "Functions",
            environment={
                "AGENT_TASKS_TABLE": self.state.tasks.table_name,
                "AGENT_RESOURCES_TABLE": self.state.resources.table_name,
                "AGENT_AGENTS_TABLE": self.state.agents.table_name,
                "AGENT_COST_REPORTS_TABLE": self.state.cost_reports.table_name,
                "AGENT_EVENT_BUS": self.messaging.bus.event_bus_name,
                "AGENT_CONFIG": json.dumps(config, separators=(",", ":")),
                "AGENT_ACCOUNT_ID": Aws.ACCOUNT_ID,
                "POWERTOOLS_SERVICE_NAME": "aws-agent",
                "POWERTOOLS_METRICS_NAMESPACE": "AwsAgent",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        grant_pipeline_access(self.functions, self.state, self.messaging)
        grant_bedrock_analyzer(self.functions["analyze"], parsed_config.bedrock, self.messaging.bus)
        ResourceManagementPolicy(
            self,
            "ResourceManagement",
            functions=[self.functions[step] for step in RESOURCE_STEPS],
            member_role_name=parsed_config.member_role_name,
            lambda_execution_role_name=parsed_config.lambda_execution_role_name,
        )
        EdgeProviderPolicies(self, "EdgeProviders", functions=[self.functions[step] for step in RESOURCE_STEPS])
        LongRunningProviderPolicy(self, "LongRunningProviders", functions=[self.functions[s] for s in RESOURCE_STEPS])
        NetProviderPolicies(self, "NetProviders", functions=self.functions, state=self.state)
        self.pipeline = AgentPipeline(self, "Pipeline", functions=self.functions.by_step)
        self.guardians = AgentGuardians(
            self, "Guardians", functions=self.functions, state=self.state, messaging=self.messaging
        )

        self.optimization = OptimizationWorkflow(
            self,
            "Optimization",
            functions=self.functions.by_step,
            reports=self.state.cost_reports,
            config=parsed_config.optimization,
            member_role_name=parsed_config.member_role_name,
        )
        self.messaging.bus.grant_put_events_to(self.functions["optimize_report"])
        # OptimizeCosts tasks: Execute starts the workflow, CheckStatus follows it to its end.
        optimization_machine = self.optimization.state_machine
        for step in ("execute", "status"):
            self.functions[step].add_environment(
                "AGENT_OPTIMIZATION_STATE_MACHINE_ARN", optimization_machine.state_machine_arn
            )
        optimization_machine.grant_start_execution(self.functions["execute"])
        optimization_machine.grant_read(self.functions["status"])
        acknowledge(
            self.functions["status"].role,  # type: ignore[arg-type]
            {
                wildcard(executions_of(optimization_machine)): "DescribeExecution on the optimization "
                "workflow's own executions only (the L2 grant_read)."
            },
        )

        self.organization = OrganizationFeatures(
            self,
            "Organization",
            functions=self.functions,
            state=self.state,
            messaging=self.messaging,
            config=parsed_config,
        )

        intake = self.functions["intake"]
        intake.add_environment("AGENT_STATE_MACHINE_ARN", self.pipeline.state_machine.state_machine_arn)
        self.pipeline.state_machine.grant_start_execution(intake)
        intake.add_event_source(
            event_sources.SqsEventSource(
                self.messaging.task_queue,
                batch_size=INTAKE_BATCH_SIZE,
                report_batch_item_failures=True,
                max_batching_window=Duration.seconds(1),
            )
        )
        self.health = HealthMonitoring(
            self,
            "Health",
            functions=self.functions.by_step,
            state=self.state,
            bus=self.messaging.bus,
            config=parsed_config,
        )
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            "TasksTableName": self.state.tasks.table_name,
            "ResourcesTableName": self.state.resources.table_name,
            "AgentsTableName": self.state.agents.table_name,
            "EventBusName": self.messaging.bus.event_bus_name,
            "TaskQueueUrl": self.messaging.task_queue.queue_url,
            "DeadLetterQueueUrl": self.messaging.dead_letter_queue.queue_url,
            "StateMachineArn": self.pipeline.state_machine.state_machine_arn,
            "OptimizationStateMachineArn": self.optimization.state_machine.state_machine_arn,
            "CostReportsTableName": self.state.cost_reports.table_name,
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
