"""Historical-agent assignment and autonomy levels, exactly as the specification's tables."""

from __future__ import annotations

from .model import AwsResourceType, HistoricalAgent

_T = AwsResourceType
_H = HistoricalAgent

DECISION_MAKERS: dict[AwsResourceType, HistoricalAgent] = {
    _T.EC2_INSTANCE: _H.BILL_GATES,
    _T.LAMBDA_FUNCTION: _H.BILL_GATES,
    _T.CLOUDFRONT_DISTRIBUTION: _H.STEVE_JOBS,
    _T.S3_BUCKET: _H.STEVE_JOBS,
    _T.AUTO_SCALING_GROUP: _H.NAPOLEON,
    _T.LOAD_BALANCER: _H.NAPOLEON,
    _T.LAMBDA_EDGE: _H.HANNIBAL,
    _T.CLOUDWATCH: _H.DRUCKER,
    _T.XRAY: _H.DRUCKER,
    _T.API_GATEWAY: _H.KOTLER,
    _T.SNS: _H.KOTLER,
    _T.RDS_INSTANCE: _H.NOGUCHI,
    _T.DYNAMODB_TABLE: _H.NOGUCHI,
}
DEFAULT_DECISION_MAKER = _H.BILL_GATES

AUTONOMY_LEVELS: dict[AwsResourceType, int] = {
    _T.LAMBDA_FUNCTION: 8,
    _T.EC2_INSTANCE: 6,
    _T.RDS_INSTANCE: 4,
}
DEFAULT_AUTONOMY = 5


def decision_maker_for(resource_type: AwsResourceType) -> HistoricalAgent:
    """The historical agent who owns a resource type ("anything else" falls to BillGates)."""
    return DECISION_MAKERS.get(resource_type, DEFAULT_DECISION_MAKER)


def autonomy_for(resource_type: AwsResourceType) -> int:
    """How much the agent may do to a resource of this type without a human (0-10)."""
    return AUTONOMY_LEVELS.get(resource_type, DEFAULT_AUTONOMY)
