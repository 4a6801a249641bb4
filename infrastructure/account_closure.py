"""The account-closure workflow: a managed account is closed only after a human approves (never automatically)."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from aws_agent.accounts.events import ACCOUNT_CLOSED, ACCOUNT_CLOSURE_FAILED, ACCOUNT_CLOSURE_REQUESTED
from aws_agent.approvals import REJECTED_ERROR
from aws_agent.events import AGENT_SOURCE

from .account_lifecycle import MANAGED_TAG
from .nag import acknowledge, rendered, wildcard
from .organizations_tasks import announce, sdk_call
from .workflows import acknowledge_role, logged_state_machine

FAILED_ERROR = "AccountClosureFailed"
NOT_APPROVED_ERROR = "AccountClosureNotApproved"


class AccountClosureWorkflow(Construct):
    """ValidRequest? → DescribeAccount → Active? → ReadTags → Managed? → RequestApproval (waits for a human's task
    token) → Approved? → CloseAccount → AccountClosed.

    An unmanaged account is refused before anyone is asked. A rejection or no answer within the approval timeout ends
    the run with AccountClosureFailed and nothing closed. Approving is `aws-agent accounts approve-close`, which reads
    the pending token from this execution's history and refuses the identity that asked."""

    def __init__(
        self, scope: Construct, construct_id: str, *, bus: events.IEventBus, approval_timeout: Duration
    ) -> None:
        super().__init__(scope, construct_id)
        failed = announce(
            self,
            "AnnounceClosureFailed",
            bus,
            ACCOUNT_CLOSURE_FAILED,
            {
                "account_id": sfn.JsonPath.string_at("$.account_id"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        ).next(sfn.Fail(self, "ClosureFailed", error=FAILED_ERROR, cause_path="$.error.Cause"))

        describe = sdk_call(
            self,
            "DescribeAccount",
            "describeAccount",
            {"AccountId.$": "$.account_id"},
            read_only=True,
            ResultSelector={"name.$": "$.Account.Name", "status.$": "$.Account.Status"},
            ResultPath="$.account",
        )
        read_tags = sdk_call(
            self,
            "ReadTags",
            "listTagsForResource",
            {"ResourceId.$": "$.account_id"},
            read_only=True,
            ResultPath="$.tags",
        )
        # Is {"Key": "MiyabiManaged", "Value": "true"} among the tags? (States.ArrayContains, no JSONPath filter:
        # filters differ between Step Functions and the embedded AWS.)
        wanted = sfn.Pass(
            self,
            "ManagedTag",
            result=sfn.Result.from_object({"Key": MANAGED_TAG, "Value": "true"}),
            result_path="$.wanted",
        )
        is_managed = sfn.Pass(
            self,
            "IsManaged",
            parameters={"managed.$": "States.ArrayContains($.tags.Tags, $.wanted)"},
            result_path="$.check",
        )
        request = tasks.EventBridgePutEvents(
            self,
            "RequestApproval",
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            entries=[
                tasks.EventBridgePutEventsEntry(
                    event_bus=bus,
                    source=AGENT_SOURCE,
                    detail_type=ACCOUNT_CLOSURE_REQUESTED,
                    detail=sfn.TaskInput.from_object(
                        {
                            "version": "1",
                            "account_id": sfn.JsonPath.string_at("$.account_id"),
                            "name": sfn.JsonPath.string_at("$.account.name"),
                            "requested_by": sfn.JsonPath.string_at("$.requested_by"),
                            "reason": sfn.JsonPath.string_at("$.reason"),
                            "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
                            "timeout_seconds": int(approval_timeout.to_seconds()),
                            "requested_at": sfn.JsonPath.string_at("$$.State.EnteredTime"),
                            "token": sfn.JsonPath.task_token,
                        }
                    ),
                )
            ],
            task_timeout=sfn.Timeout.duration(approval_timeout),
            result_path="$.approval",
        )
        not_approved = sfn.Pass(
            self,
            "NotApproved",
            parameters={
                "Error": NOT_APPROVED_ERROR,
                "Cause.$": "States.Format('not approved ({}): {}', $.rejection.Error, $.rejection.Cause)",
            },
            result_path="$.error",
        ).next(failed)
        request.add_catch(not_approved, errors=[REJECTED_ERROR, sfn.Errors.TIMEOUT], result_path="$.rejection")
        close = sdk_call(
            self, "CloseAccount", "closeAccount", {"AccountId.$": "$.account_id"}, ResultPath=sfn.JsonPath.DISCARD
        )
        closed = announce(
            self,
            "AnnounceAccountClosed",
            bus,
            ACCOUNT_CLOSED,
            {
                "account_id": sfn.JsonPath.string_at("$.account_id"),
                "name": sfn.JsonPath.string_at("$.account.name"),
                "requested_by": sfn.JsonPath.string_at("$.requested_by"),
                "approved_by": sfn.JsonPath.string_at("$.approval.approved_by"),
                "closed_at": sfn.JsonPath.string_at("$$.State.EnteredTime"),
            },
        )
        for step in (describe, read_tags, request, close):
            step.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.error")
        # Closed, but not announced: never reported as "nothing closed" (AccountClosureFailed).
        closed.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2)
        closed.add_catch(
            sfn.Fail(
                self,
                "ClosedNotAnnounced",
                error="AccountClosedNotAnnounced",
                cause="CloseAccount succeeded; the AccountClosed event could not be sent",
            ),
            errors=[sfn.Errors.ALL],
        )
        not_managed = sfn.Pass(
            self,
            "NotManaged",
            parameters={
                "Error": "NotManaged",
                "Cause.$": f"States.Format('account {{}} is not tagged {MANAGED_TAG}=true: the agent never closes "
                "an account it does not manage', $.account_id)",
            },
            result_path="$.error",
        ).next(failed)
        managed = (
            sfn.Choice(self, "Managed?")
            .when(sfn.Condition.boolean_equals("$.check.managed", True), request)
            .otherwise(not_managed)
        )
        # Only an answer that names its approver closes anything (`aws-agent accounts approve-close` sends one).
        no_approver = sfn.Pass(
            self,
            "NoApprover",
            parameters={"Error": "InvalidApproval", "Cause": "the approval did not name its approver (approved_by)"},
            result_path="$.error",
        ).next(failed)
        # Nested Choices: a comparison on a missing field is a runtime error, so presence is checked first.
        approved = (
            sfn.Choice(self, "Approved?")
            .when(
                sfn.Condition.is_present("$.approval.approved_by"),
                sfn.Choice(self, "ApproverNamed?")
                .when(sfn.Condition.is_string("$.approval.approved_by"), close)
                .otherwise(no_approver),
            )
            .otherwise(no_approver)
        )
        request.next(approved)
        close.next(closed).next(sfn.Succeed(self, "Closed"))
        # Only an ACTIVE account is put to a human (not one already SUSPENDED or PENDING_CLOSURE).
        not_active = sfn.Pass(
            self,
            "NotActive",
            parameters={
                "Error": "NotActive",
                "Cause.$": "States.Format('account {} is {}, not ACTIVE', $.account_id, $.account.status)",
            },
            result_path="$.error",
        ).next(failed)
        active = (
            sfn.Choice(self, "Active?")
            .when(sfn.Condition.string_equals("$.account.status", "ACTIVE"), read_tags)
            .otherwise(not_active)
        )
        describe.next(active)
        read_tags.next(wanted).next(is_managed).next(managed)
        invalid = sfn.Pass(
            self,
            "InvalidRequest",
            parameters={
                "account_id": "",
                "error": {
                    "Error": "InvalidRequest",
                    "Cause": "a closure request needs account_id, requested_by and reason (strings)",
                },
            },
        ).next(failed)
        fields = ("account_id", "requested_by", "reason")
        valid = (
            sfn.Choice(self, "ValidRequest?")
            .when(
                sfn.Condition.and_(*(sfn.Condition.is_present(f"$.{field}") for field in fields)),
                sfn.Choice(self, "WellFormed?")
                .when(sfn.Condition.and_(*(sfn.Condition.is_string(f"$.{field}") for field in fields)), describe)
                .otherwise(invalid),
            )
            .otherwise(invalid)
        )
        self.state_machine = logged_state_machine(
            self,
            valid,
            comment="AWS Agent account closure: only a managed account, only after a human approves",
            timeout=approval_timeout.plus(Duration.hours(1)),
        )
        self.policy = organizations_closure_policy(self, "OrganizationsPolicy", self.state_machine.role)
        acknowledge_role(self.state_machine)


def organizations_closure_policy(scope: Construct, construct_id: str, role: iam.IRole) -> iam.Policy:
    """Read accounts of this organization; close only those tagged MiyabiManaged=true."""
    accounts = f"arn:{Aws.PARTITION}:organizations::{Aws.ACCOUNT_ID}:account/o-*/*"
    policy = iam.Policy(
        scope,
        construct_id,
        statements=[
            iam.PolicyStatement(
                sid="ReadAccounts",
                actions=["organizations:DescribeAccount", "organizations:ListTagsForResource"],
                resources=[accounts],
            ),
            iam.PolicyStatement(
                sid="CloseManagedAccountsOnly",
                actions=["organizations:CloseAccount"],
                resources=[accounts],
                conditions={"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG}": "true"}},
            ),
        ],
        roles=[role],
    )
    acknowledge(
        policy,
        {
            wildcard(rendered(accounts)): "The accounts of the agent's own organization (ids unknown at deploy "
            "time); CloseAccount only on those tagged MiyabiManaged=true."
        },
    )
    return policy
