"""An execution environment's lifecycle, as one table of legal transitions."""

from __future__ import annotations

import enum


class EnvState(enum.StrEnum):
    STARTING = "starting"  # process launched, Init running
    IDLE = "idle"  # warm, parked in /next, in the pool
    SNAPSHOT = "snapshot"  # SnapStart: Init done, frozen in restore/next until restored
    BUSY = "busy"  # running one invocation
    STOPPING = "stopping"  # Shutdown phase: SIGTERM sent
    DEAD = "dead"


TRANSITIONS: dict[EnvState, frozenset[EnvState]] = {
    EnvState.STARTING: frozenset(
        {EnvState.IDLE, EnvState.BUSY, EnvState.SNAPSHOT, EnvState.STOPPING, EnvState.DEAD}
    ),
    EnvState.SNAPSHOT: frozenset({EnvState.IDLE, EnvState.STOPPING, EnvState.DEAD}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.STOPPING, EnvState.DEAD}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.STOPPING, EnvState.DEAD}),
    EnvState.STOPPING: frozenset({EnvState.DEAD}),
    EnvState.DEAD: frozenset(),
}


class IllegalTransitionError(RuntimeError):
    """A bug: the scheduler moved an environment along an edge the table forbids."""


def check_transition(current: EnvState, target: EnvState) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransitionError(f"environment cannot go from {current} to {target}")
