"""Resolve what the user asked for (a URL, a vLLM model to spawn, or nothing) into a live backend.

Order: an explicit ``base_url`` (or ``$THRIFTY_BASE_URL``) is attached to; ``vllm_model`` spawns
``vllm serve``; otherwise the machine's shared embedded llama-server is used, started if none is
running (:mod:`thrifty.backends.shared`; it stops itself after ``embedded_idle`` seconds unused).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from thrifty import safejson
from thrifty.backends.base import Backend
from thrifty.backends.embedded import embedded_model, shared_llama_launch
from thrifty.backends.profiles import EMBEDDED_PROFILE, ToolProtocol, profile_for
from thrifty.backends.session import DEFAULT_HEADER
from thrifty.backends.shared import DEFAULT_IDLE, shared_server
from thrifty.errors import BackendConnectionError, ConfigError

if TYPE_CHECKING:  # imported when a backend is opened: `thrifty --help` never loads openai/httpx
    from thrifty.backends.openai_compat import OpenAICompatBackend


@dataclass(frozen=True, slots=True)
class BackendConfig:
    base_url: str | None = None
    model: str | None = None
    """The served model name; with no ``base_url``, which embedded model to run (e.g. ``0.5b``)."""
    api_key: str | None = None
    vllm_model: str | None = None
    vllm_args: tuple[str, ...] = ()
    tool_protocol: ToolProtocol | None = None
    """Override the profile's tool-call protocol (native, text or json)."""
    thinking_token_budget: bool | None = None
    """Whether the server honours vLLM's ``thinking_token_budget``; None: probed when thrifty spawns vLLM
    (one 1-token request), off when attaching."""
    embedded_context: int = 32768
    embedded_parallel: int = 4
    embedded_idle: float = DEFAULT_IDLE
    """Seconds the shared embedded server stays up once nobody uses it (0: stop when the last user leaves)."""
    timeout: float = 300.0
    session_header: str | None = DEFAULT_HEADER
    """The header carrying each run's session id (sticky routing over replicas); None: not sent."""
    max_connections: int = 1024
    """Connections kept open to the server: size it to the calls in flight (an eval's concurrency)."""


async def discover_model(base_url: str, api_key: str | None = None) -> str:
    """The first model a server lists at ``/v1/models``."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            r = await client.get(base_url.rstrip("/") + "/models", headers=headers)
            r.raise_for_status()
            listing = safejson.loads(r.content)
    except (httpx.HTTPError, ValueError) as exc:
        raise BackendConnectionError(f"could not list models at {base_url}: {exc}") from exc
    models = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(models, list) or not models:
        raise ConfigError("model", f"{base_url} lists no models; pass --model")
    first = models[0]
    if not isinstance(first, dict) or not isinstance(first.get("id"), str):
        raise BackendConnectionError(f"{base_url}/models answered with a malformed model listing")
    return str(first["id"])


def _backend(config: BackendConfig, base_url: str, model: str, *, embedded: bool) -> OpenAICompatBackend:
    from thrifty.backends.openai_compat import OpenAICompatBackend

    profile = EMBEDDED_PROFILE if embedded else profile_for(model)
    if config.tool_protocol is not None:
        profile = replace(profile, tool_protocol=config.tool_protocol)
    if config.thinking_token_budget is not None:
        profile = replace(profile, thinking_token_budget=config.thinking_token_budget)
    return OpenAICompatBackend(
        base_url,
        model,
        api_key=config.api_key,
        profile=profile,
        timeout=config.timeout,
        session_header=config.session_header,
        max_connections=config.max_connections,
    )


@asynccontextmanager
async def open_backend(config: BackendConfig | None = None) -> AsyncIterator[Backend]:
    """A ready backend. A vLLM server started here stops when the block exits; the shared embedded
    server outlives it by its idle timeout, for the next user."""
    config = config or BackendConfig()
    base_url = config.base_url or os.environ.get("THRIFTY_BASE_URL")
    async with AsyncExitStack() as stack:
        if base_url:
            model = config.model or os.environ.get("THRIFTY_MODEL") or await discover_model(base_url, config.api_key)
            backend = _backend(config, base_url, model, embedded=False)
        elif (vllm_model := config.vllm_model) is not None:
            from thrifty.backends.vllm_server import probe_thinking_budget, served_name, vllm_server

            server = await stack.enter_async_context(vllm_server(vllm_model, extra_args=config.vllm_args))
            name = served_name(vllm_model, config.vllm_args)
            if config.thinking_token_budget is None:
                supported = await probe_thinking_budget(server.base_url, name)
                config = replace(config, thinking_token_budget=supported)
            backend = _backend(config, server.base_url, name, embedded=False)
            backend.identity = " ".join(["vllm", vllm_model, *config.vllm_args])
        else:
            spec = embedded_model(config.model or os.environ.get("THRIFTY_MODEL"))
            launch = shared_llama_launch(
                model=spec,
                context=config.embedded_context,
                parallel=config.embedded_parallel,
                idle=config.embedded_idle,
            )
            url = await stack.enter_async_context(shared_server(launch))
            backend = _backend(config, url, spec.name, embedded=True)
            backend.identity = (
                f"embedded {spec.name} context={config.embedded_context} parallel={config.embedded_parallel}"
            )
        stack.push_async_callback(backend.aclose)
        yield backend
