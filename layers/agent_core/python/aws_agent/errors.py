"""Errors of the pipeline: each class name is the Step Functions error name, each carries a stable code."""

from __future__ import annotations


class AgentError(Exception):
    """Base: a failure the task record and the AwsTaskFailed event explain to a human."""

    code = "InternalError"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTaskEvent(AgentError):
    code = "InvalidEvent"


class TaskAnalysisError(AgentError):
    code = "AnalysisFailed"


class UnsupportedResourceType(AgentError):
    code = "UnsupportedResourceType"


class UnsupportedOperation(AgentError):
    code = "UnsupportedOperation"


class GuardDenied(AgentError):
    code = "GuardDenied"


class ResourceNotFound(AgentError):
    code = "ResourceNotFound"


class ResourceNotManaged(AgentError):
    code = "ResourceNotManaged"


class ResourceConflict(AgentError):
    code = "ResourceConflict"


class DependencyViolation(AgentError):
    """A dependency is missing or not Active, dependents block a delete, or the dependency graph has a cycle."""

    code = "DependencyViolation"


class AwsCallFailed(AgentError):
    code = "AwsError"


class AccessDenied(AgentError):
    code = "AccessDenied"


class TransientAwsError(AgentError):
    """Throttling or a 5xx that outlived botocore's retries: the state machine retries the step."""

    code = "Throttled"
    retryable = True


ERROR_CODES: dict[str, str] = {cls.__name__: cls.code for cls in AgentError.__subclasses__()}
ERROR_CODES.update(
    {
        "States.Timeout": "Timeout",
        "States.TaskFailed": "InternalError",
        "States.Runtime": "InternalError",
        "States.DataLimitExceeded": "InvalidEvent",
        "Lambda.ServiceException": "InternalError",
        "Lambda.TooManyRequestsException": "Throttled",
    }
)


def code_for(error_name: str) -> str:
    """The machine-readable code for a Step Functions error name (unknown names are internal errors)."""
    return ERROR_CODES.get(error_name, "InternalError")
