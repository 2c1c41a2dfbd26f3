"""Sans-I/O core of the swarm mesh: messages, parameters, the election/membership state machine, replay window.

Nothing here imports rclpy or cyclonedds, opens a socket or reads a clock.
"""

from sigma_swarm.core.member import NEVER, Durable, Member, Output, Role, Roster, SwarmStatus
from sigma_swarm.core.messages import (
    MESSAGE_TYPES,
    HeartbeatAck,
    LeaderCommand,
    LeaderHeartbeat,
    MemberBroadcast,
    MemberHeartbeat,
    MemberReport,
    Message,
    PreVoteRequest,
    PreVoteResponse,
    Send,
    VoteRequest,
    VoteResponse,
)
from sigma_swarm.core.params import ConfigError, ElectionParams, build_params

__all__ = [
    "MESSAGE_TYPES", "NEVER", "ConfigError", "Durable", "ElectionParams", "HeartbeatAck", "LeaderCommand",
    "LeaderHeartbeat", "Member", "MemberBroadcast", "MemberHeartbeat", "MemberReport", "Message", "Output",
    "PreVoteRequest", "PreVoteResponse", "Role", "Roster", "Send", "SwarmStatus", "VoteRequest", "VoteResponse",
    "build_params",
]
