"""thrifty: budget-aware LLM agents.

from thrifty import Agent, ScriptedBackend
result = Agent(backend, tools=[...], strategy="tracker", limits="search=10,tokens=20000").run_sync("...")
"""

from typing import TYPE_CHECKING, Any

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
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.backends.sync import open_backend_sync
from thrifty.budget import BudgetExceeded, BudgetView, Ledger, LimitKind, Limits, PriceTable, Usage, parse_budget_spec
from thrifty.errors import (
    BackendError,
    ConfigError,
    ThriftyError,
    ToolError,
)
from thrifty.tools.base import FunctionTool, Tool, ToolResult, Toolset
from thrifty.tools.typed import TypedTool, tool

if TYPE_CHECKING:
    from thrifty.backends.openai_compat import OpenAICompatBackend

__version__ = "0.1.0"

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


def __getattr__(name: str) -> Any:
    """``OpenAICompatBackend`` loads the openai client on first use (see :mod:`thrifty.backends`)."""
    if name == "OpenAICompatBackend":
        from thrifty.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
