"""Model backends: the protocol, the OpenAI-compatible client, the embedded server, the scripted fake.

``OpenAICompatBackend`` is imported on first use (PEP 562): the openai client costs ~0.3 s of
import, which commands that never talk to a model (``thrifty --help``) skip.
"""

from typing import TYPE_CHECKING, Any

from thrifty.backends.base import Backend, ChatRequest, Completion, Message, TokenCount, ToolCall, ToolSpec
from thrifty.backends.profiles import ModelProfile, profile_for
from thrifty.backends.scripted import ScriptedBackend, tool_call

if TYPE_CHECKING:
    from thrifty.backends.openai_compat import OpenAICompatBackend

__all__ = [
    "Backend",
    "ChatRequest",
    "Completion",
    "Message",
    "ModelProfile",
    "OpenAICompatBackend",
    "ScriptedBackend",
    "TokenCount",
    "ToolCall",
    "ToolSpec",
    "profile_for",
    "tool_call",
]


def __getattr__(name: str) -> Any:
    if name == "OpenAICompatBackend":
        from thrifty.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
