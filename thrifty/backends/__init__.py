"""Model backends: the protocol, the OpenAI-compatible client, the embedded server, the scripted fake."""

from thrifty.backends.base import Backend, ChatRequest, Completion, Message, TokenCount, ToolCall, ToolSpec
from thrifty.backends.openai_compat import OpenAICompatBackend
from thrifty.backends.profiles import ModelProfile, profile_for
from thrifty.backends.scripted import ScriptedBackend, tool_call

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
