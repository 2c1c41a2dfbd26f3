"""Incident signatures (pure): the implementation lives in sigma_protocol.signature, shared with the robot's bridge
(its local learner labels the same 64-value vectors the cloud stores with each incident); re-exported here."""

from sigma_protocol.signature import DIMENSIONS, PER_CHANNEL, SIGNATURE_CHANNELS, signature, to_pgvector

__all__ = ["DIMENSIONS", "PER_CHANNEL", "SIGNATURE_CHANNELS", "signature", "to_pgvector"]
