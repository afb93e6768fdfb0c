"""The process room: children in their own process groups started on one spawner thread
(spawn, child), the watchdog that kills them when the server dies, the task spawner.
"""

from __future__ import annotations

from counterpoint.engine.process.child import Child
from counterpoint.engine.process.spawn import MAX_LINE, child_env, kill_all_children, run_process
from counterpoint.engine.process.spawner import TaskSpawner

__all__ = ["MAX_LINE", "Child", "TaskSpawner", "child_env", "kill_all_children", "run_process"]
