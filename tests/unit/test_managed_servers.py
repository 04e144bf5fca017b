"""Spawning `vllm serve` as a managed process, against a stand-in vllm module (no GPU needed)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.backends.vllm_server import vllm_server
from thrifty.errors import BackendUnavailable

FAKE_VLLM = Path(__file__).resolve().parents[1] / "fixtures" / "fake_vllm"


def test_vllm_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("thrifty.backends.vllm_server.vllm_available", lambda: False)
    with pytest.raises(BackendUnavailable, match=r"thrifty\[vllm\]"):
        vllm_server("some/model")


@pytest.mark.live_model  # it calls a (stand-in) model server through the real OpenAI-compatible client
async def test_spawned_vllm_is_health_checked_used_and_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.syspath_prepend(str(FAKE_VLLM))
    monkeypatch.setenv("PYTHONPATH", f"{FAKE_VLLM}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("THRIFTY_CACHE_DIR", str(tmp_path))
    config = BackendConfig(vllm_model="Qwen/Qwen3-0.6B", vllm_args=("--enable-auto-tool-choice",))
    from thrifty.agents.agent import Agent

    async with open_backend(config) as backend:
        assert backend.model == "Qwen/Qwen3-0.6B"
        result = await Agent(backend).run("q")
        assert result.answer == "fake" and result.usage.input_tokens == 11
        url = backend.base_url  # type: ignore[attr-defined]
    logs = list((tmp_path / "logs").glob("vllm-*.log"))
    assert logs and "--enable-auto-tool-choice" in logs[0].read_text()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url.replace("/v1", "/health"), timeout=2)
