"""Task definitions for goal_rl and the registry that names them.

Importing this package is cheap: it loads only the registry (standard library). The
built-in tasks ``trajectory``, ``button_food`` and ``walker`` are registered by import
path and their modules are imported only when :func:`make_task` builds them.

Example::

    from goal_rl.tasks import list_tasks, make_task
    for info in list_tasks():
        print(info.name, info.kind, info.description)
    task = make_task("button_food", n_rec="300")
"""

from goal_rl.tasks.registry import (
    ENTRY_POINT_GROUP,
    TaskInfo,
    apply_overrides,
    list_tasks,
    make_task,
    parse_key_values,
    register_task,
    settings_factory,
    task_info,
    unregister_task,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "TaskInfo",
    "apply_overrides",
    "list_tasks",
    "make_task",
    "parse_key_values",
    "register_task",
    "settings_factory",
    "task_info",
    "unregister_task",
]
