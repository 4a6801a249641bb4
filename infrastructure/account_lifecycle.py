"""The account-creation workflow: CreateAccount, polled by a Wait loop, moved to its OU, announced on the bus."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from aws_agent.accounts.events import ACCOUNT_CREATED, ACCOUNT_CREATION_FAILED
from aws_agent.basics import AccountRole

from .nag import acknowledge, rendered, wildcard
from .organizations_tasks import announce, sdk_call
from .workflows import acknowledge_role, logged_state_machine

POLL_SECONDS = 20  # Organizations creates an account in a few minutes; DescribeCreateAccountStatus is free
MAX_POLLS = 90  # thirty minutes of polls, inside the state machine's one-hour timeout
MANAGED_TAG = "MiyabiManaged"
FAILED_ERROR = "AccountCreationFailed"


class AccountLifecycleWorkflow(Construct):
    """CreateAccount → Wait ⇄ DescribeCreateAccountStatus → ListParents → MoveAccount → AccountCreated event.

    Any failure (AWS refused the request, Organizations reported FAILED, the polls ran out) sends
    AccountCreationFailed with the reason and fails the execution with it. Closing is another workflow, behind a
    human's approval (account_closure.py)."""

    def __init__(self, scope: Construct, construct_id: str, *, bus: events.IEventBus, role_tag: str) -> None:
        super().__init__(scope, construct_id)
        failed = self._on_failure(bus)
        status = "$.creation.CreateAccountStatus"
        start = sfn.Pass(self, "CountNoPolls", result=sfn.Result.from_object({"count": 0}), result_path="$.poll")
        # Until CreateAccount answers: the failure event always has a request status to report.
        not_started = sfn.Pass(
            self,
            "NotStarted",
            result=sfn.Result.from_object({"CreateAccountStatus": {"State": "NOT_STARTED"}}),
            result_path="$.creation",
        )
        create = sdk_call(
            self,
            "CreateAccount",
            "createAccount",
            {
                "AccountName.$": "$.name",
                "Email.$": "$.email",
                "Tags": [{"Key": role_tag, "Value.$": "$.role"}, {"Key": MANAGED_TAG, "Value": "true"}],
            },
            ResultPath="$.creation",
        )
        wait = sfn.Wait(self, "WaitForAccount", time=sfn.WaitTime.duration(Duration.seconds(POLL_SECONDS)))
        count = sfn.Pass(
            self,
            "CountPoll",
            parameters={"count.$": "States.MathAdd($.poll.count, 1)"},
            result_path="$.poll",
        )
        describe = sdk_call(
            self,
            "DescribeCreateAccountStatus",
            "describeCreateAccountStatus",
            {"CreateAccountRequestId.$": f"{status}.Id"},
            read_only=True,
            ResultPath="$.creation",
        )
        find_parent = sdk_call(
            self,
            "FindParent",
            "listParents",
            {"ChildId.$": f"{status}.AccountId"},
            # `$.Parents[0]` then `.Id` later: moto's interpreter (the embedded AWS) wraps `$.Parents[0].Id` in a list.
            ResultSelector={"first.$": "$.Parents[0]"},
            read_only=True,
            ResultPath="$.parent",
        )
        move = sdk_call(
            self,
            "MoveAccount",
            "moveAccount",
            {
                "AccountId.$": f"{status}.AccountId",
                "SourceParentId.$": "$.parent.first.Id",
                "DestinationParentId.$": "$.destination",
            },
            ResultPath=sfn.JsonPath.DISCARD,
        )
        announce_created = announce(
            self,
            "AnnounceAccountCreated",
            bus,
            ACCOUNT_CREATED,
            {
                "account_id": sfn.JsonPath.string_at(f"{status}.AccountId"),
                "name": sfn.JsonPath.string_at("$.name"),
                "role": sfn.JsonPath.string_at("$.role"),
                "request_id": sfn.JsonPath.string_at(f"{status}.Id"),
                "parent_id": sfn.JsonPath.string_at("$.placed_in"),
                "polls": sfn.JsonPath.number_at("$.poll.count"),
                "created_at": sfn.JsonPath.string_at("$$.State.EnteredTime"),
            },
        )
        done = sfn.Pass(
            self,
            "AccountReady",
            parameters={
                "account_id.$": f"{status}.AccountId",
                "name.$": "$.name",
                "role.$": "$.role",
                "parent_id.$": "$.placed_in",
                "request_id.$": f"{status}.Id",
                "polls.$": "$.poll.count",
            },
        )
        for step in (create, describe, find_parent, move, announce_created):
            step.add_catch(failed, errors=["States.ALL"], result_path="$.error")

        # `$.placed_in`: where the account is now (a Pass without parameters passes its InputPath on as its result).
        placed_in_destination = sfn.Pass(
            self, "PlacedInDestination", input_path="$.destination", result_path="$.placed_in"
        )
        placed_in_parent = sfn.Pass(self, "StaysInParent", input_path="$.parent.first.Id", result_path="$.placed_in")
        move.next(placed_in_destination)
        placed_in_destination.next(announce_created)
        placed_in_parent.next(announce_created)
        announce_created.next(done)
        needs_move = (
            sfn.Choice(self, "HasDestination?")
            .when(sfn.Condition.string_equals("$.destination", ""), placed_in_parent)
            .when(sfn.Condition.string_equals_json_path("$.destination", "$.parent.first.Id"), placed_in_parent)
            .otherwise(move)
        )
        find_parent.next(needs_move)
        ready = (
            sfn.Choice(self, "AccountReady?")
            .when(sfn.Condition.string_equals(f"{status}.State", "SUCCEEDED"), find_parent)
            .when(
                sfn.Condition.string_equals(f"{status}.State", "FAILED"),
                sfn.Pass(
                    self,
                    "ReportedFailed",
                    parameters={
                        "Error": "CreateAccountFailed",
                        "Cause.$": f"States.Format('Organizations reported FAILED: {{}}', {status}.FailureReason)",
                    },
                    result_path="$.error",
                ).next(failed),
            )
            .when(
                sfn.Condition.number_greater_than_equals("$.poll.count", MAX_POLLS),
                sfn.Pass(
                    self,
                    "PollsRanOut",
                    parameters={
                        "Error": "Timeout",
                        "Cause": f"the account request was still IN_PROGRESS after {MAX_POLLS} checks",
                    },
                    result_path="$.error",
                ).next(failed),
            )
            .otherwise(wait)
        )
        wait.next(count).next(describe).next(ready)
        self.state_machine = logged_state_machine(
            self,
            self._validated(failed, start.next(not_started).next(create).next(ready)),
            comment="AWS Agent account creation: CreateAccount, polled until Organizations is done, moved to its OU",
            timeout=Duration.hours(1),
        )
        self.policy = organizations_lifecycle_policy(self, "OrganizationsPolicy", self.state_machine.role, role_tag)
        acknowledge_role(self.state_machine)

    def _validated(self, failed: sfn.IChainable, then: sfn.IChainable) -> sfn.IChainable:
        """Check the request before anything is created (a bad destination found after CreateAccount would leave
        an account unplaced): name, email and a known role are strings, destination is an OU or root id or absent."""
        invalid = sfn.Pass(
            self,
            "InvalidRequest",
            parameters={
                "name": "",
                "role": "",
                "creation": {"CreateAccountStatus": {"State": "NOT_STARTED"}},
                "error": {
                    "Error": "InvalidRequest",
                    "Cause": "an account request needs name and email (strings), role (one of "
                    + ", ".join(r.value for r in AccountRole)
                    + ") and optionally destination (an ou-... or r-... id)",
                },
            },
        ).next(failed)
        # Nested Choices: a comparison on a missing field is a runtime error, so presence is checked first.
        no_destination = sfn.Pass(self, "NoDestination", result=sfn.Result.from_string(""), result_path="$.destination")
        no_destination.next(then)
        destination = (
            sfn.Choice(self, "DestinationGiven?")
            .when(
                sfn.Condition.not_(sfn.Condition.is_present("$.destination")),
                no_destination,
            )
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_matches("$.destination", "ou-*"),
                    sfn.Condition.string_matches("$.destination", "r-*"),
                ),
                then,
            )
            .otherwise(invalid)
        )
        well_formed = (
            sfn.Choice(self, "WellFormed?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_string("$.name"),
                    sfn.Condition.is_string("$.email"),
                    sfn.Condition.or_(*(sfn.Condition.string_equals("$.role", r.value) for r in AccountRole)),
                ),
                destination,
            )
            .otherwise(invalid)
        )
        return (
            sfn.Choice(self, "ValidRequest?")
            .when(
                sfn.Condition.and_(*(sfn.Condition.is_present(f"$.{field}") for field in ("name", "email", "role"))),
                well_formed,
            )
            .otherwise(invalid)
        )

    def _on_failure(self, bus: events.IEventBus) -> sfn.IChainable:
        """AccountCreationFailed on the bus (the request and AWS's reason), then the execution fails with it."""
        failed = announce(
            self,
            "AnnounceAccountCreationFailed",
            bus,
            ACCOUNT_CREATION_FAILED,
            {
                "name": sfn.JsonPath.string_at("$.name"),
                "role": sfn.JsonPath.string_at("$.role"),
                "request": sfn.JsonPath.object_at("$.creation.CreateAccountStatus"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
                "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
                "failed_at": sfn.JsonPath.string_at("$$.State.EnteredTime"),
            },
        )
        return failed.next(sfn.Fail(self, "CreationFailed", error=FAILED_ERROR, cause_path="$.error.Cause"))


def organizations_lifecycle_policy(scope: Construct, construct_id: str, role: iam.IRole, role_tag: str) -> iam.Policy:
    """Create accounts only with the managed tag and a role tag; move accounts within this organization only."""
    org = f"arn:{Aws.PARTITION}:organizations::{Aws.ACCOUNT_ID}"
    in_org = [f"{org}:account/o-*/*", f"{org}:ou/o-*/ou-*", f"{org}:root/o-*/r-*"]
    policy = iam.Policy(
        scope,
        construct_id,
        statements=[
            iam.PolicyStatement(
                sid="CreateManagedAccountsOnly",
                actions=["organizations:CreateAccount", "organizations:TagResource"],
                resources=["*"],
                conditions={
                    "StringEquals": {f"aws:RequestTag/{MANAGED_TAG}": "true"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": [MANAGED_TAG, role_tag]},
                },
            ),
            iam.PolicyStatement(
                sid="ReadAccountRequests", actions=["organizations:DescribeCreateAccountStatus"], resources=["*"]
            ),
            iam.PolicyStatement(
                sid="MoveWithinTheOrganization",
                actions=["organizations:ListParents", "organizations:MoveAccount"],
                resources=in_org,
            ),
        ],
        roles=[role],
    )
    acknowledge(
        policy,
        {
            wildcard("*"): "CreateAccount and DescribeCreateAccountStatus support no resource-level permissions; "
            "CreateAccount is conditioned on the MiyabiManaged=true request tag and the two tag keys.",
            **{
                wildcard(rendered(arn)): "The accounts, OUs and root of the agent's own organization "
                "(their ids are unknown at deploy time)."
                for arn in in_org
            },
        },
    )
    return policy
