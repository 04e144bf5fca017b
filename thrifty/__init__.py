"""thrifty: budget-aware LLM agents.

from thrifty import Agent, ScriptedBackend
result = Agent(backend, tools=[...], strategy="tracker", limits="search=10,tokens=20000").run_sync("...")

The public names load on first use (PEP 562): ``import thrifty``, which every ``thrifty`` command
runs first, costs no agent stack, pydantic or openai client, so ``thrifty --help`` starts in under
0.15 s (issue 15.8). :data:`_EXPORTS` says where each name lives; the imports under ``TYPE_CHECKING``
are the same names for mypy and IDEs, and a unit test holds the two and ``__all__`` together.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thrifty.agents.agent import Agent
    from thrifty.agents.controller import LoopConfig, RunContext
    from thrifty.agents.events import (
        BudgetCharged,
        Event,
        ModelCalled,
        RunFinished,
        RunStarted,
        StepStarted,
        ToolCalled,
    )
    from thrifty.agents.result import RunResult, StopReason, TrajectoryStep
    from thrifty.agents.strategies import Strategy, get_strategy
    from thrifty.backends import (
        Backend,
        ChatRequest,
        Completion,
        Message,
        ScriptedBackend,
        ToolCall,
        ToolSpec,
    )
    from thrifty.backends.openai_compat import OpenAICompatBackend
    from thrifty.backends.registry import BackendConfig, open_backend
    from thrifty.backends.sync import open_backend_sync
    from thrifty.budget import (
        BudgetExceeded,
        BudgetView,
        Ledger,
        LimitKind,
        Limits,
        PriceTable,
        Usage,
        parse_budget_spec,
    )
    from thrifty.errors import BackendError, ConfigError, ThriftyError, ToolError
    from thrifty.tools.base import FunctionTool, Tool, ToolResult, Toolset
    from thrifty.tools.typed import TypedTool, tool

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, ...]] = {
    "thrifty.agents.agent": ("Agent",),
    "thrifty.agents.controller": ("LoopConfig", "RunContext"),
    "thrifty.agents.events": (
        "BudgetCharged",
        "Event",
        "ModelCalled",
        "RunFinished",
        "RunStarted",
        "StepStarted",
        "ToolCalled",
    ),
    "thrifty.agents.result": ("RunResult", "StopReason", "TrajectoryStep"),
    "thrifty.agents.strategies": ("Strategy", "get_strategy"),
    "thrifty.backends": ("Backend", "ChatRequest", "Completion", "Message", "ScriptedBackend", "ToolCall", "ToolSpec"),
    "thrifty.backends.openai_compat": ("OpenAICompatBackend",),
    "thrifty.backends.registry": ("BackendConfig", "open_backend"),
    "thrifty.backends.sync": ("open_backend_sync",),
    "thrifty.budget": (
        "BudgetExceeded",
        "BudgetView",
        "Ledger",
        "LimitKind",
        "Limits",
        "PriceTable",
        "Usage",
        "parse_budget_spec",
    ),
    "thrifty.errors": ("BackendError", "ConfigError", "ThriftyError", "ToolError"),
    "thrifty.tools.base": ("FunctionTool", "Tool", "ToolResult", "Toolset"),
    "thrifty.tools.typed": ("TypedTool", "tool"),
}
"""Each module of the public API → the names it gives; the same as the imports under ``TYPE_CHECKING``."""

_HOMES: dict[str, str] = {name: module for module, names in _EXPORTS.items() for name in names}
"""Each public name → the module it is imported from on first use."""

__all__ = [
    "Agent",
    "Backend",
    "BackendConfig",
    "BackendError",
    "BudgetCharged",
    "BudgetExceeded",
    "BudgetView",
    "ChatRequest",
    "Completion",
    "ConfigError",
    "Event",
    "FunctionTool",
    "Ledger",
    "LimitKind",
    "Limits",
    "LoopConfig",
    "Message",
    "ModelCalled",
    "OpenAICompatBackend",
    "PriceTable",
    "RunContext",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "ScriptedBackend",
    "StepStarted",
    "StopReason",
    "Strategy",
    "ThriftyError",
    "Tool",
    "ToolCall",
    "ToolCalled",
    "ToolError",
    "ToolResult",
    "ToolSpec",
    "Toolset",
    "TrajectoryStep",
    "TypedTool",
    "Usage",
    "get_strategy",
    "open_backend",
    "open_backend_sync",
    "parse_budget_spec",
    "tool",
]


def __getattr__(name: str) -> object:
    """A public name, imported from its home module on first use and kept here for the next."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names too, loaded or not (for ``dir()``, completion in a REPL)."""
    return sorted({*globals(), *__all__})
