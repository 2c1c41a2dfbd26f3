"""Models of the digital-twin health and site maintenance routes (docs/twin.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RulHours(BaseModel):
    """Remaining useful life quantiles [h]; null = beyond the twin's forecast horizon."""

    q05: float | None
    q50: float | None
    q95: float | None


class HealthWindow(BaseModel):
    """The twin's suggested maintenance window [UNIX s]; closes at the predicted limit's 5 % quantile."""

    opens_at: float
    closes_at: float


class HealthState(BaseModel):
    """An estimated hidden state (e.g. thermal_gain [K/A^2]) with its standard deviation (null: none given)."""

    name: str
    value: float | None
    std: float | None


class ComponentHealthPublic(BaseModel):
    name: str
    health: float | None = Field(description="health index in [0, 1]: 1 = as commissioned, 0 = at its limit")
    confidence: float | None
    risk: float | None = Field(description="P(a limit is crossed within the risk horizon)")
    forecast_ready: bool = Field(description="false: not enough history for a forecast yet")
    rul_h: RulHours | None
    dominant_mode: str
    window: HealthWindow | None
    states: list[HealthState]
    reasons: list[str]


class HealthReportPublic(BaseModel):
    robot_id: str
    seq: int = Field(description="the report's sequence number in the robot's uplink (identifies it)")
    ts: float = Field(description="report time [UNIX s]")
    risk_horizon_h: float | None
    spoofed_sensors: list[str]
    components: list[ComponentHealthPublic]
    window: HealthWindow | None = Field(description="the earliest-closing window over all components")


class RobotHealthPublic(BaseModel):
    robot_id: str
    latest: HealthReportPublic | None
    history: list[HealthReportPublic] = Field(description="newest first")
    next_offset: int | None


class MaintenancePolicy(BaseModel):
    """A site's maintenance policy; hours of the day in UTC, the off-peak span may wrap midnight (22 -> 6)."""

    model_config = ConfigDict(extra="forbid")
    lead_time_h: float = Field(2.0, ge=0, le=720, description="a window ends this long before the predicted limit")
    duration_h: float = Field(2.0, gt=0, le=168, description="length of one service window")
    max_out: int = Field(1, ge=1, le=10_000, description="robots of the site out for maintenance at once, at most")
    off_peak_start_hour: int = Field(22, ge=0, le=23)
    off_peak_end_hour: int = Field(6, ge=0, le=24)

    @model_validator(mode="after")
    def _finite(self) -> MaintenancePolicy:
        if self.lead_time_h != self.lead_time_h or self.duration_h != self.duration_h:
            raise ValueError("lead_time_h and duration_h must be numbers")
        return self


class MaintenanceWindowPublic(BaseModel):
    robot_id: str
    component: str
    mode: str
    start: float = Field(description="UNIX s")
    end: float
    deadline: float = Field(description="predicted limit (the twin's RUL 5 % quantile) [UNIX s]")
    off_peak: bool
    report_seq: int = Field(description="sequence number of the robot's health report the deadline comes from")
    report_ts: float = Field(description="time of that report [UNIX s]")


class UnplacedPublic(BaseModel):
    robot_id: str
    component: str
    mode: str
    deadline: float
    reason: str
    report_seq: int = Field(description="sequence number of the robot's health report the deadline comes from")
    report_ts: float = Field(description="time of that report [UNIX s]")


class MaintenancePlanPublic(BaseModel):
    site_id: str
    generated_at: float
    policy: MaintenancePolicy
    policy_configured: bool = Field(description="false: the defaults (no policy stored for the site)")
    windows: list[MaintenanceWindowPublic] = Field(description="earliest deadline first")
    infeasible: list[UnplacedPublic]
    robots_reporting: int = Field(description="robots of the site with a health report")
