"""EventBridge Scheduler: schedules fire on time and a one-time schedule fires once.

Gaps closed (`Schedules`): the emulator checks schedules every 10 seconds (now every second), and it
forgets which schedules fired when it restarts, so a one-time `at(...)` schedule fired again. Pinned
by `tests/contract/emulator/test_triggers.py` (`test_a_schedule_starts_an_execution_with_its_input`)
and `tests/contract/emulator/test_lifecycle.py` (`test_state_survives_a_restart`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.emulator.seam import replace, require, service, set_constant


class Schedules:
    """Schedules are checked every second (the emulator checks every 10), and which ones have fired
    is saved with the schedules, so a one-time `at(...)` schedule does not fire again after a restart."""

    TICK_SECONDS = 1

    def install(self) -> None:
        scheduler = service("scheduler")
        set_constant(scheduler, "_SCHEDULE_TICK_INTERVAL", self.TICK_SECONDS)
        require(scheduler, "_schedule_last_fired")
        replace(scheduler, "get_state", self._with_last_fired)
        replace(scheduler, "load_persisted_state", self._restore_last_fired)

    @staticmethod
    def _with_last_fired(original: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        def get_state() -> dict[str, Any]:
            state = original()
            fired = service("scheduler")._schedule_last_fired
            state["retrain_last_fired"] = [[*key, when] for key, when in list(fired.items())]
            return state

        return get_state

    @staticmethod
    def _restore_last_fired(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def load(data: Any) -> Any:
            result = original(data)
            fired = service("scheduler")._schedule_last_fired
            for *key, when in (data or {}).get("retrain_last_fired", []):
                fired[tuple(key)] = when
            return result

        return load
