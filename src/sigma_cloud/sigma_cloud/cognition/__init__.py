"""Fleet cognition, the Primary AI (docs/cognition.md): pure rules over a robot's scored telemetry, safety events,
latest state and tasks (`rules`, `memory`, `signature`, no I/O, time passed in) and the worker process that feeds them
from PostgreSQL and sends their decisions down the existing downlink (`worker`, `sigma-cloud cognition`)."""
