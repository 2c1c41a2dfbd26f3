"""A stored ``twin_health`` payload (sigma_protocol channel, sigma_twin's twin/health) read back as a report, and the
maintenance needs it implies. Pure: payload and event time in, plain dicts out (docs/twin.md)."""

from __future__ import annotations

from typing import Any

from sigma_cloud.core.maintenance_plan import HOUR, Need
from sigma_protocol.channels import NO_WINDOW, RUL_BEYOND_H, RUL_UNKNOWN


def _at(payload: dict, key: str, i: int, default: Any) -> Any:
    values = payload.get(key)
    return values[i] if isinstance(values, list) and i < len(values) else default


def _rul(hours: Any) -> float | None:
    """Hours, or None beyond the forecast horizon (RUL_BEYOND_H); RUL_UNKNOWN handled by the caller."""
    return None if not isinstance(hours, (int, float)) or hours >= RUL_BEYOND_H else float(hours)


def components(ts: float, payload: dict) -> list[dict[str, Any]]:
    """One dict per component: health, confidence, risk, RUL quantiles, window (absolute UNIX s), states, reasons."""
    name_field = payload.get("name")
    names = name_field if isinstance(name_field, list) else []
    states: dict[str, list[dict]] = {}
    for j, full in enumerate(payload.get("state_names") or []):
        comp, _, state = str(full).partition("/")
        std = _at(payload, "state_std", j, -1.0)
        states.setdefault(comp, []).append({"name": state, "value": _at(payload, "state_values", j, None),
                                            "std": std if isinstance(std, (int, float)) and std >= 0 else None})
    reasons: dict[str, list[str]] = {}
    for r in payload.get("reasons") or []:
        comp, _, why = str(r).partition(": ")
        reasons.setdefault(comp, []).append(why)
    out = []
    for i, name in enumerate(names):
        q = [_at(payload, k, i, RUL_UNKNOWN) for k in ("rul_q05", "rul_q50", "rul_q95")]
        ready = all(isinstance(v, (int, float)) and v != RUL_UNKNOWN for v in q)
        opens, closes = _at(payload, "window_opens", i, NO_WINDOW), _at(payload, "window_closes", i, NO_WINDOW)
        window = None
        if isinstance(opens, (int, float)) and isinstance(closes, (int, float)) and opens >= 0 and closes >= 0:
            window = {"opens_at": ts + opens * HOUR, "closes_at": ts + closes * HOUR}
        out.append({"name": name, "health": _at(payload, "health", i, None),
                    "confidence": _at(payload, "confidence", i, None), "risk": _at(payload, "risk", i, None),
                    "forecast_ready": ready,
                    "rul_h": {"q05": _rul(q[0]), "q50": _rul(q[1]), "q95": _rul(q[2])} if ready else None,
                    "dominant_mode": _at(payload, "dominant_mode", i, ""), "window": window,
                    "states": states.get(name, []), "reasons": reasons.get(name, [])})
    return out


def report(robot_id: str, ts: float, payload: dict) -> dict[str, Any]:
    """The robot's health report at event time ``ts`` [UNIX s]."""
    comps = components(ts, payload)
    windows = [c["window"] for c in comps if c["window"]]
    return {"robot_id": robot_id, "ts": ts, "risk_horizon_h": payload.get("risk_horizon"),
            "spoofed_sensors": list(payload.get("spoofed_sensors") or []), "components": comps,
            "window": min(windows, key=lambda w: w["closes_at"]) if windows else None}


def needs(robot_id: str, ts: float, payload: dict) -> list[Need]:
    """Maintenance needs: every component for which the twin planned a window (its risk reached the threshold). The
    deadline is the window's close (the predicted limit's 5 % quantile); the site's own lead time and duration place
    the service window, so the twin's suggested opening is not a constraint (only the report time is)."""
    return [Need(robot_id, c["name"], c["dominant_mode"] or "unknown", c["window"]["closes_at"], ts,
                 float(c["risk"] or 0.0))
            for c in components(ts, payload) if c["window"]]
