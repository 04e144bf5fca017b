"""Start the vLLM tier's server through thrifty's spawn path and keep it until SIGTERM or Ctrl-C.

For the warm tier and ``benchmarks/vllm_real.py`` against one server: run it in the tier's venv
under the model lock, read the URL it prints, point ``THRIFTY_VLLM_BASE_URL`` (tests/vllm) or
``--base-url`` (the benchmark) at it, then send SIGTERM (or Ctrl-C) to stop the server.

    flock /tmp/thrifty-model.lock <vllm-venv>/bin/python scripts/vllm_serve.py
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.vllm.conftest import SERVER_ARGS, SERVER_ENV
from thrifty.backends import OpenAICompatBackend
from thrifty.backends.embedded import QWEN_05B
from thrifty.backends.hf_export import export_hf
from thrifty.backends.registry import BackendConfig, open_backend


async def serve() -> None:
    os.environ.update({k: os.environ.get(k) or v for k, v in SERVER_ENV.items()})
    config = BackendConfig(vllm_model=str(export_hf(QWEN_05B)), vllm_args=SERVER_ARGS)
    started = time.monotonic()
    async with open_backend(config) as backend:
        assert isinstance(backend, OpenAICompatBackend)
        print(f"{backend.base_url} ready after {time.monotonic() - started:.1f} s", flush=True)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
