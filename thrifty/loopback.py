"""Loopback HTTP servers: the one stub module of tests, benchmarks and ``thrifty web serve``.

:class:`LoopbackServer` serves any :data:`App` (a function from :class:`Request` to :class:`Reply`)
on 127.0.0.1, threaded, with HTTP/1.1 keep-alive and ``TCP_NODELAY``; :func:`serve_asyncio` serves
the same app on one asyncio loop (many waiting requests cost no threads: the throughput benchmark
measures the client, not the stub). :class:`ModelStub` is the canned OpenAI-compatible model every
test and benchmark drives (the overhead and throughput benchmarks, the server-fault tests, the fake
vLLM); the offline web (:mod:`thrifty.search.web_server`) is another app on the same server.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    """The path alone; the query string is parsed into ``query``."""
    query: dict[str, list[str]]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    delay: float = 0.0
    """Seconds to wait before answering (a model's latency, a hang), without holding the server."""


def json_reply(payload: Any, status: int = 200, *, delay: float = 0.0) -> Reply:
    return Reply(status, json.dumps(payload).encode(), delay=delay)


App = Callable[[Request], Reply]


def _request(method: str, target: str, body: bytes) -> Request:
    parts = urlsplit(target)
    return Request(method, parts.path, parse_qs(parts.query), body)


class LoopbackServer:
    """A threaded loopback server for one app; ``with`` starts and stops it. ``on_connect`` is called
    for each connection accepted (the model stub counts them for ``GET /stats``)."""

    def __init__(
        self, app: App, host: str = "127.0.0.1", port: int = 0, *, on_connect: Callable[[], None] | None = None
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                if on_connect is not None:
                    on_connect()
                # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply = app(_request(method, self.path, body))
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread (a stub in its own process)."""
        self._httpd.serve_forever()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, app: App, on_connect: Callable[[], None] | None
) -> None:
    """One keep-alive connection: read a request, wait its reply's delay (holding nothing), answer."""
    if on_connect is not None:
        on_connect()
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            reply = app(_request(method, target, body))
            if reply.delay:
                await asyncio.sleep(reply.delay)
            writer.write(
                f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(reply.body)}\r\n\r\n".encode()
                + reply.body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve_asyncio(
    app: App,
    port: int = 0,
    *,
    announce: Callable[[str], None] = print,
    on_connect: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` on one asyncio loop until cancelled; ``announce`` gets the origin once listening."""
    server = await asyncio.start_server(
        lambda r, w: _connection(r, w, app, on_connect), "127.0.0.1", port, backlog=4096
    )
    announce(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    async with server:
        await server.serve_forever()


def _tool_call(index: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


@dataclass
class ModelStub:
    """A canned OpenAI-compatible model, stateless per request: while the conversation holds fewer
    than ``steps`` tool results it calls the first offered tool; then it answers (through
    ``final_answer`` when that tool is offered, as smolagents requires, else ``<answer>…</answer>``).

    ``faults`` are injected into the first chat requests, in order (``"429"``, ``"503"``, ``"hang"``).
    ``server`` adds a real server's template and multi-prompt endpoints (:meth:`_batch`).
    ``bodies`` keeps the request bodies seen while ``record`` is set (the overhead benchmark replays
    them through a bare client). ``requests`` counts chat requests and ``connections`` the
    connections accepted (given :meth:`connected` as the server's ``on_connect``): the stub's own
    log, served at ``GET /stats``, so a benchmark counts what a client really did, not what it reports."""

    steps: int = 5
    latency: float = 0.0
    answer: str = "42"
    model: str | None = None
    """The model id served (``/v1/models``, replies); None: the request's own."""
    usage: tuple[int, int] = (100, 10)
    """(prompt, completion) tokens reported per reply."""
    faults: list[str] = field(default_factory=list)
    record: bool = False
    bodies: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    connections: int = 0
    server: Literal["plain", "llamacpp", "vllm"] = "plain"
    batch_fault: Literal["short", "bad-index", "duplicate", "refuse"] | None = None
    batch_requests: int = 0
    """``/v1/completions`` requests seen (each may carry several prompts)."""

    def connected(self) -> None:
        self.connections += 1

    def __call__(self, request: Request) -> Reply:
        if request.path.endswith("/chat/completions") and request.method == "POST":
            return self._chat(request.json())
        if self.server != "plain" and request.method == "POST" and (reply := self._batch(request.path, request.json())):
            return reply
        if request.path.endswith("/models"):
            return json_reply({"object": "list", "data": [{"id": self.model or "stub", "object": "model"}]})
        if request.path == "/health":
            return json_reply({})
        if request.path.endswith("/stats"):
            return json_reply({"connections": self.connections, "requests": self.requests})
        return json_reply({"error": "not found"}, 404)

    def _chat(self, body: dict[str, Any]) -> Reply:
        self.requests += 1
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "hang":
                return json_reply({}, delay=3600)
            return json_reply({"error": {"message": f"injected {fault}"}}, int(fault))
        if self.record:
            self.bodies.append(body)
        return json_reply(self.reply(body), delay=self.latency)

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("logprobs") and body.get("max_tokens") == 1:  # a one-token judgement
            return self._judged(body)
        tools = [t["function"]["name"] for t in body.get("tools", [])]
        done = sum(1 for m in body.get("messages", []) if m.get("role") == "tool")
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "tool_calls"
        if done < self.steps and any(t != "final_answer" for t in tools):
            name = next(t for t in tools if t != "final_answer")
            message["tool_calls"] = [_tool_call(done, name, {"query": f"q{done}"})]
        elif "final_answer" in tools:
            message["tool_calls"] = [_tool_call(done, "final_answer", {"answer": self.answer})]
        else:
            message["content"], finish = f"<answer>{self.answer}</answer>", "stop"
        prompt, completion = self.usage
        return {
            "id": "stub",
            "object": "chat.completion",
            "created": 0,
            "model": self.model or body.get("model", "stub"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    # ------------------------------------------------------------------ llama.cpp / vLLM extras
    @staticmethod
    def render(messages: list[dict[str, Any]]) -> str:
        """The stub's chat template; its token ids are the text's code points."""
        return "".join(f"<|{m['role']}|>{m['content']}\n" for m in messages)

    @staticmethod
    def judge(text: str) -> float:
        """P(Yes) for a rendered judge prompt: 0.1 when the judged step (the last one of the last
        assistant turn) says "wrong", else 0.9, so a score landing on the wrong particle shows."""
        turn = text.rsplit("<|assistant|>", 1)[-1].split("<|user|>", 1)[0]
        steps = [s for s in turn.split("\n\n") if s.strip()]
        return 0.1 if steps and "wrong" in steps[-1] else 0.9

    def _judged(self, body: dict[str, Any]) -> dict[str, Any]:
        p = self.judge(self.render(body["messages"]))
        entry = _judge_logprobs(p, legacy=False)
        choice = {"index": 0, "message": {"role": "assistant", "content": entry["token"]}, "finish_reason": "length"}
        choice["logprobs"] = {"content": [entry]}
        size = len(self.render(body["messages"]))
        usage = {"prompt_tokens": size, "completion_tokens": 1, "total_tokens": size + 1}
        return {"id": "stub", "object": "chat.completion", "model": "stub", "choices": [choice], "usage": usage}

    def _batch(self, path: str, body: dict[str, Any]) -> Reply | None:
        """``/apply-template`` and ``/tokenize`` as the configured server answers them, and
        ``/v1/completions`` with a list of prompts: choices in *reverse* order (index-tagged), one
        object (vLLM) or an array of one object per prompt (llama-server); ``batch_fault`` breaks it."""
        if path == "/apply-template":
            return json_reply({"prompt": self.render(body["messages"])})
        if path == "/tokenize":
            text = body["content"] if "content" in body else self.render(body["messages"])
            tokens = [ord(c) for c in text]
            return json_reply({"tokens": tokens, "count": len(tokens), "max_model_len": 32768})
        if not path.endswith("/completions") or path.endswith("/chat/completions"):
            return None
        self.batch_requests += 1
        if self.batch_fault == "refuse":  # a server without the endpoint
            return json_reply({"error": "not found"}, 404)
        prompts = ["".join(map(chr, p)) for p in body["prompt"]]
        choices = []
        for i, text in reversed(list(enumerate(prompts))):
            entry = _judge_logprobs(self.judge(text), legacy=self.server == "vllm")
            logprobs = entry if self.server == "vllm" else {"content": [entry]}
            token = entry["tokens"][0] if self.server == "vllm" else entry["token"]
            choices.append({"index": i, "text": token, "logprobs": logprobs, "finish_reason": "length"})
        if self.batch_fault == "short":
            choices = choices[1:]
        elif self.batch_fault == "bad-index":
            choices[0]["index"] = len(prompts)
        elif self.batch_fault == "duplicate":
            choices[0]["index"] = choices[1]["index"]
        if self.server == "vllm":
            size = sum(map(len, prompts))
            usage = {"prompt_tokens": size, "completion_tokens": len(choices), "total_tokens": size + len(choices)}
            payload: Any = {"object": "text_completion", "model": "stub", "choices": choices, "usage": usage}
        else:
            payload = [_one_of(c, len(prompts[c["index"] % len(prompts)])) for c in choices]
        return json_reply(payload, delay=self.latency)


class StubServer(LoopbackServer):
    """A :class:`ModelStub` on a threaded loopback server; ``base_url`` is its OpenAI ``/v1`` root."""

    def __init__(self, steps: int = 5, latency: float = 0.0, port: int = 0, faults: Sequence[str] = ()) -> None:
        self.stub = ModelStub(steps=steps, latency=latency, faults=list(faults))
        super().__init__(self.stub, port=port, on_connect=self.stub.connected)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return self.stub.bodies

    @property
    def requests(self) -> int:
        return self.stub.requests

    @property
    def record(self) -> bool:
        return self.stub.record

    @record.setter
    def record(self, value: bool) -> None:
        self.stub.record = value

    def __enter__(self) -> StubServer:
        self.start()
        return self


def _judge_logprobs(p_yes: float, *, legacy: bool) -> dict[str, Any]:
    """One token's logprobs for a Yes/No judgement with P(Yes) = ``p_yes``, in the completions API's
    legacy shape (vLLM) or the chat shape (llama-server on either endpoint)."""
    yes, no = math.log(p_yes), math.log(1 - p_yes)
    token = "Yes" if yes >= no else "No"
    if legacy:
        return {"tokens": [token], "token_logprobs": [max(yes, no)], "top_logprobs": [{"Yes": yes, "No": no}]}
    top = [{"token": "Yes", "logprob": yes}, {"token": "No", "logprob": no}]
    return {"token": token, "logprob": max(yes, no), "top_logprobs": top}


def _one_of(choice: dict[str, Any], prompt_tokens: int) -> dict[str, Any]:
    """llama-server's answer to one prompt of several: a whole completion object with its own usage."""
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1}
    return {"object": "text_completion", "model": "stub", "choices": [choice], "usage": usage}
