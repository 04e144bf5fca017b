"""The canned OpenAI-compatible model stub (:mod:`thrifty.loopback`) as a command, in its own process
so the stub stays off the measured process's GIL (throughput benchmark, server-fault tests).

    python benchmarks/stub_server.py [--steps 5] [--latency 0] [--port 0] [--threads] [--faults 429,503,hang]

Prints the base URL (``…/v1``) once listening; ``GET /stats`` answers the connections accepted and
chat requests received (the stub's own log). ``StubServer`` is re-exported for in-process use.
"""

from __future__ import annotations

import argparse
import asyncio

from thrifty.loopback import ModelStub, StubServer, serve_asyncio

__all__ = ["StubServer", "main"]


def _announce(origin: str) -> None:
    print(f"{origin}/v1", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", action="store_true", help="the threaded server instead of asyncio")
    parser.add_argument("--faults", default="", help="first chat requests fail in order, e.g. 429,503,hang")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    if args.threads:
        server = StubServer(steps=args.steps, latency=args.latency, port=args.port, faults=faults)
        print(server.base_url, flush=True)
        server.serve_forever()
    else:
        stub = ModelStub(steps=args.steps, latency=args.latency, faults=faults)
        asyncio.run(serve_asyncio(stub, args.port, announce=_announce, on_connect=stub.connected))


if __name__ == "__main__":
    main()
