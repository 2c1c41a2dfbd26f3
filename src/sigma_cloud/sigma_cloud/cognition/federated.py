"""Federated learning of the robots' local anomaly model: the pure model, aggregation and shadow check live in
`sigma_protocol.federated` (robots run the shadow check with the same code); re-exported here for the cloud."""

from sigma_protocol.federated import (
    FLEET_DIM,
    MAX_MAGNITUDE,
    MIN_VARIANCE,
    NORMAL,
    ClassStats,
    Model,
    UpdateRefusedError,
    accuracy,
    aggregate,
    classify,
    fit,
    from_json,
    log_likelihood,
    shadow_check,
    to_json,
    validate,
)

__all__ = ["FLEET_DIM", "MAX_MAGNITUDE", "MIN_VARIANCE", "NORMAL", "ClassStats", "Model", "UpdateRefusedError",
           "accuracy", "aggregate", "classify", "fit", "from_json", "log_likelihood", "shadow_check", "to_json",
           "validate"]
