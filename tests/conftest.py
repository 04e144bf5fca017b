"""Shared fixtures. Real model backends are forbidden unless a test is marked ``live_model``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from thrifty.backends.openai_compat import OpenAICompatBackend


@pytest.fixture(autouse=True)
def _forbid_real_backends(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("live_model") is not None or request.node.get_closest_marker("vllm"):
        return

    async def refuse(self: OpenAICompatBackend, *args: object, **kwargs: object) -> None:
        pytest.fail("a real model backend was called from a test without @pytest.mark.live_model")

    monkeypatch.setattr(OpenAICompatBackend, "complete", refuse)
    monkeypatch.setattr(OpenAICompatBackend, "complete_batch", refuse)


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[str]:
    """The real embedded llama-server with the real Qwen GGUF, on a free port, for the whole session.

    Skips when the binary or weights are not installed, unless ``THRIFTY_REQUIRE_LIVE=1`` (CI),
    where a missing model is a failure, never a silent skip.
    """
    import asyncio

    from thrifty.backends.embedded import llama_server
    from thrifty.errors import BackendUnavailable

    try:
        server = llama_server(context=32768, parallel=4)
    except BackendUnavailable as exc:
        if os.environ.get("THRIFTY_REQUIRE_LIVE") == "1":
            pytest.fail(f"embedded model required but unavailable: {exc}")
        pytest.skip(f"embedded model unavailable: {exc}")
    server.start()
    try:
        asyncio.run(server.wait_healthy())
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
async def live_backend(embedded_server: str) -> AsyncIterator[OpenAICompatBackend]:
    from thrifty.backends.embedded import DEFAULT_MODEL
    from thrifty.backends.profiles import EMBEDDED_PROFILE

    backend = OpenAICompatBackend(embedded_server, DEFAULT_MODEL.name, profile=EMBEDDED_PROFILE)
    yield backend
    await backend.aclose()


@pytest.fixture(scope="session")
def default_index_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real default corpus (from the installed packages) indexed once per session."""
    from thrifty.search.offline import build_default_index

    path = tmp_path_factory.mktemp("web") / "default.sqlite"
    build_default_index(path)
    yield path
