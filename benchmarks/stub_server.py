"""A loopback OpenAI-compatible stub that returns canned tool calls, for overhead benchmarks.

Stateless: the reply depends only on the request. While the conversation holds fewer than
``steps`` tool results it asks for the first offered tool; then it answers (by calling
``final_answer`` when that tool is offered, as smolagents requires, else with plain text).
Optional fixed ``latency`` simulates a model. Runs in a thread; HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _reply(body: dict[str, Any], steps: int) -> dict[str, Any]:
    messages = body.get("messages", [])
    tools = [t["function"]["name"] for t in body.get("tools", [])]
    done = sum(1 for m in messages if m.get("role") == "tool")
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "tool_calls"
    if done < steps and tools:
        name = next(t for t in tools if t != "final_answer")
        message["tool_calls"] = [
            {
                "id": f"call_{done}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps({"query": f"q{done}"})},
            }
        ]
    elif "final_answer" in tools:
        message["tool_calls"] = [
            {
                "id": f"call_{done}",
                "type": "function",
                "function": {"name": "final_answer", "arguments": '{"answer": "42"}'},
            }
        ]
    else:
        message["content"], finish = "<answer>42</answer>", "stop"
    return {
        "id": "stub",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "stub"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


class StubServer:
    def __init__(self, steps: int = 5, latency: float = 0.0, port: int = 0) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": "not found"})
                    return
                stub.requests += 1
                if stub.record:
                    stub.bodies.append(body)
                if stub.latency:
                    time.sleep(stub.latency)
                self._send(200, _reply(body, stub.steps))

        self.steps = steps
        self.latency = latency
        self.requests = 0
        self.record = False
        self.bodies: list[dict[str, Any]] = []
        """Request bodies seen while ``record`` is set (to replay them through a bare client)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


async def _handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    steps: int,
    latency: float,
    faults: list[str],
    counts: dict[str, int],
) -> None:
    """One keep-alive connection: read a request, wait ``latency`` (without holding anything), reply.

    ``counts`` is the stub's own log, served at ``GET /stats``: connections accepted and chat requests
    received, so a benchmark counts what a client really did, not what it reports."""
    counts["connections"] += 1
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            if method == "POST" and path.endswith("/chat/completions") and faults:
                fault = faults.pop(0)  # injected failures, in order, before normal service
                if fault == "hang":
                    await asyncio.sleep(3600)
                code, payload = int(fault), {"error": {"message": f"injected {fault}"}}
            elif method == "POST" and path.endswith("/chat/completions"):
                counts["requests"] += 1
                if latency:
                    await asyncio.sleep(latency)
                code, payload = 200, _reply(json.loads(body or b"{}"), steps)
            elif path.endswith("/models"):
                code, payload = 200, {"object": "list", "data": [{"id": "stub", "object": "model"}]}
            elif path.endswith("/stats"):
                code, payload = 200, dict(counts)
            else:
                code, payload = 404, {"error": "not found"}
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {code} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve_asyncio(steps: int, latency: float, port: int, faults: list[str] | None = None) -> None:
    """The same stub on one asyncio loop: 64 waiting requests cost no threads and no GIL hand-offs,
    so the stub adds as little as possible on top of its fixed latency (the throughput benchmark
    measures the client, not the stub)."""
    pending = list(faults or [])
    counts = {"connections": 0, "requests": 0}
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, steps, latency, pending, counts), "127.0.0.1", port, backlog=4096
    )
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve in the foreground (a separate process keeps the stub off the measured process's GIL)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", action="store_true", help="the threaded http.server stub instead of asyncio")
    parser.add_argument("--faults", default="", help="first chat requests fail in order, e.g. 429,503,hang")
    args = parser.parse_args()
    if args.threads:
        server = StubServer(steps=args.steps, latency=args.latency, port=args.port)
        print(server.base_url, flush=True)
        server._server.serve_forever()
    else:
        asyncio.run(serve_asyncio(args.steps, args.latency, args.port, [f for f in args.faults.split(",") if f]))


if __name__ == "__main__":
    main()
