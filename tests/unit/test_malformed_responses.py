"""Attack suite: malformed chat-completion servers, served for real over loopback.

Every shape a broken or hostile server (or a proxy in front of one) can answer with must end as a
typed :class:`~thrifty.errors.BackendError`, or for a garbled tool call as an observation, never as
a raw traceback. The lean transport (plain http) reads the raw bytes; a few shapes also go through
httpx's own transport. Every case runs under a 5 s bound.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.helpers import scripted_cli
from tests.rawserver import Reply, http, serving
from thrifty import safejson
from thrifty.agents.protocol import ParsedReply, parse_json_reply, parse_text_reply
from thrifty.backends import OpenAICompatBackend
from thrifty.backends.base import ChatRequest, Completion, Message
from thrifty.errors import (
    BackendConnectionError,
    BackendError,
    BackendHTTPError,
    BackendRateLimited,
    BackendResponseError,
    BackendTimeout,
)
from thrifty.traces import TraceWriter

T = TypeVar("T")
_REAL_COMPLETE = OpenAICompatBackend.complete


@pytest.fixture(autouse=True)
def _allow_the_loopback_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest forbids real model backends; these talk to a loopback fake server, not a model."""
    monkeypatch.setattr(OpenAICompatBackend, "complete", _REAL_COMPLETE)


REQUEST = ChatRequest(messages=(Message("user", "hi"),), max_tokens=8)
USAGE = {"prompt_tokens": 3, "completion_tokens": 2}


def completion(message: object = None, *, usage: object = USAGE, **extra: object) -> str:
    msg = {"role": "assistant", "content": "ok"} if message is None else message
    return json.dumps({"choices": [{"message": msg, "finish_reason": "stop"}], "usage": usage, **extra})


async def complete(reply: Reply, *, transport: str = "lean", seconds: float = 3.0) -> Completion:
    async with asyncio.timeout(5), serving(reply) as server:
        backend = OpenAICompatBackend(
            server.url + "/v1", "m", timeout=seconds, max_retries=0, transport=transport, server_kind="none"
        )  # type: ignore[arg-type]
        try:
            return await backend.complete(REQUEST)
        finally:
            await backend.aclose()


DEEP = "[" * 980 + "]" * 980
BODIES: dict[str, tuple[bytes, type[BackendError]]] = {
    "not json": (http("hello"), BackendResponseError),
    "html with status 200": (http("<html><body>Login</body></html>", content_type="text/html"), BackendResponseError),
    "empty body": (http(""), BackendResponseError),
    "json array": (http("[]"), BackendResponseError),
    "json string": (http('"ok"'), BackendResponseError),
    "nested 980 deep": (http(DEEP), BackendResponseError),
    "nested 100000 deep": (http("[" * 100_000 + "]" * 100_000), BackendResponseError),
    "deep inside choices": (http('{"choices": ' + DEEP + "}"), BackendResponseError),
    "invalid utf-8": (http(b"\xff\xfe{\x80}"), BackendResponseError),
    "choices null": (http('{"choices": null}'), BackendResponseError),
    "choices a string": (http('{"choices": "abc"}'), BackendResponseError),
    "choices empty": (http('{"choices": []}'), BackendResponseError),
    "choice an int": (http('{"choices": [1]}'), BackendResponseError),
    "message a string": (http(completion("hello")), BackendResponseError),
    "content an int": (http(completion({"content": 7})), BackendResponseError),
    "content a dict": (http(completion({"content": {"a": 1}})), BackendResponseError),
    "content parts without text": (http(completion({"content": [{"type": "image"}]})), BackendResponseError),
    "usage a list": (http(completion(usage=[1, 2])), BackendResponseError),
    "usage a string": (http(completion(usage="lots")), BackendResponseError),
    "usage NaN": (http(completion(usage={"prompt_tokens": float("nan")})), BackendResponseError),
    "usage Infinity": (http(completion(usage={"completion_tokens": float("inf")})), BackendResponseError),
    "usage negative": (http(completion(usage={"prompt_tokens": -10_000_000})), BackendResponseError),
    "usage fractional": (http(completion(usage={"prompt_tokens": 1.5})), BackendResponseError),
    "usage a bool": (http(completion(usage={"prompt_tokens": True})), BackendResponseError),
    "usage absurd": (http(completion(usage={"completion_tokens": 10**30})), BackendResponseError),
    "usage details a list": (
        http(completion(usage={"prompt_tokens": 1, "prompt_tokens_details": [1]})),
        BackendResponseError,
    ),
    "tool_calls a string": (http(completion({"content": "", "tool_calls": "search"})), BackendResponseError),
    "logprob a string": (
        http(
            json.dumps(
                {"choices": [{"message": {"content": "a"}, "logprobs": {"content": [{"token": "a", "logprob": "x"}]}}]}
            )
        ),
        BackendResponseError,
    ),
    "error object with status 200": (http('{"error": {"message": "overloaded"}}'), BackendResponseError),
    "status 500 html": (
        http("<h1>oops</h1>", status="500 Internal Server Error", content_type="text/html"),
        BackendHTTPError,
    ),
    "status 429": (http('{"error": "slow down"}', status="429 Too Many Requests"), BackendRateLimited),
    "status 500 deep json": (http(DEEP, status="500 Internal Server Error"), BackendHTTPError),
}


@pytest.mark.parametrize("name", list(BODIES))
async def test_malformed_body_is_a_typed_backend_error(name: str) -> None:
    reply, error = BODIES[name]
    with pytest.raises(error):
        await complete(reply)


def raw(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode("latin-1") + body


OK = completion().encode()
WIRE: dict[str, bytes] = {
    "status line not http": raw("SSH-2.0-OpenSSH_9.6\n\n"),
    "status code not a number": raw("HTTP/1.1 abc OK\nContent-Length: 2\n\n", b"{}"),
    "status code out of range": raw("HTTP/1.1 999 Weird\nContent-Length: 2\n\n", b"{}"),
    "content-length negative": raw("HTTP/1.1 200 OK\nContent-Length: -5\n\n", OK),
    "content-length not a number": raw("HTTP/1.1 200 OK\nContent-Length: abc\n\n", OK),
    "content-length conflicting": raw(f"HTTP/1.1 200 OK\nContent-Length: {len(OK)}\nContent-Length: 3\n\n", OK),
    "content-length longer than the body": raw(f"HTTP/1.1 200 OK\nContent-Length: {len(OK) + 50}\n\n", OK),
    "content-length absurd": raw("HTTP/1.1 200 OK\nContent-Length: 99999999999999\n\n", OK),
    "chunk size not hex": raw("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nzz\n", OK),
    "chunk longer than its size": raw("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\n", OK + b"\r\n0\r\n\r\n"),
    "chunked without the last chunk": raw(
        f"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n{len(OK):x}\n", OK + b"\r\n"
    ),
    "closed before a response": b"",
    "headers never end": raw("HTTP/1.1 200 OK\nX: " + "a" * 200_000),
}


@pytest.mark.parametrize("name", list(WIRE))
async def test_broken_wire_format_is_a_connection_error(name: str) -> None:
    with pytest.raises(BackendConnectionError):
        await complete(WIRE[name])


@pytest.mark.parametrize("name", ["status line not http", "content-length not a number", "chunk size not hex"])
async def test_httpx_transport_maps_broken_wire_format_too(name: str) -> None:
    with pytest.raises(BackendConnectionError):
        await complete(WIRE[name], transport="httpx")


async def test_content_length_shorter_than_the_body_is_truncated_json() -> None:
    with pytest.raises(BackendResponseError):
        await complete(raw("HTTP/1.1 200 OK\nContent-Length: 10\nConnection: close\n\n", OK))


async def test_a_server_that_never_answers_times_out() -> None:
    async def stall(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    with pytest.raises(BackendTimeout):
        await complete(stall, seconds=0.5)


async def test_content_as_text_parts_is_joined() -> None:
    parts = [{"type": "text", "text": "Par"}, {"type": "text", "text": "is"}]
    assert (await complete(http(completion({"content": parts})))).text == "Paris"


async def test_lone_surrogates_are_replaced_before_anything_writes_them() -> None:
    body = '{"choices": [{"message": {"content": "a\\ud800b", "reasoning_content": "\\udfff"}}], "\\ud800": 1}'
    result = await complete(http(body))
    assert result.text == "a\ufffdb"
    json.dumps(result.raw, ensure_ascii=False).encode("utf-8")  # the eval log's write: no UnicodeEncodeError
    parsed = parse_json_reply('{"evidence": "x", "answer": "\\ud83d"}')
    assert parsed.answer == "\ufffd"
    print(parsed.answer)  # the console's write


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (1, "malformed tool call"),
        ({"function": {"name": 5, "arguments": "{}"}}, "malformed tool call"),
        ({"function": {"name": "search", "arguments": "{not json"}}, "invalid JSON arguments"),
        ({"function": {"name": "search", "arguments": "[1]"}}, "must be a JSON object"),
        ({"function": {"name": "search", "arguments": 42}}, "invalid arguments"),
        ({"function": {"name": "search", "arguments": '{"a": ' + DEEP + "}"}}, "nested"),
    ],
)
async def test_a_garbled_tool_call_is_an_observation(call: object, error: str) -> None:
    result = await complete(http(completion({"content": "", "tool_calls": [call]})))
    assert len(result.tool_calls) == 1 and error in (result.tool_calls[0].error or "")


async def test_arguments_as_an_object_are_accepted() -> None:
    call = {"id": "c1", "function": {"name": "search", "arguments": {"query": ["x"]}}}
    result = await complete(http(completion({"content": "", "tool_calls": [call]})))
    assert result.tool_calls[0].arguments == {"query": ["x"]} and result.tool_calls[0].error is None


@pytest.mark.parametrize("depth", [980, 5_000, 200_000])
async def test_deep_text_from_the_model_parses_without_recursion(depth: int) -> None:
    text = '<tool_code>{"name": "search", "arguments": ' + "[" * depth + "]" * depth + "}</tool_code>"
    result = await complete(http(completion({"content": text})))
    parsed = await _deep_in_the_stack(lambda: _parse(result.text))
    assert parsed.tool_calls == () and parsed.errors
    assert parse_json_reply('{"answer": ' + "[" * depth + "]" * depth + "}").errors


async def _parse(text: str) -> ParsedReply:
    return parse_text_reply(text)


async def _deep_in_the_stack(fn: Callable[[], Awaitable[T]], frames: int = 400) -> T:
    """Run ``fn`` under ``frames`` extra Python frames, as a deep agent call stack would."""

    async def down(n: int) -> T:
        return await (down(n - 1) if n else fn())

    return await down(frames)


async def test_token_count_falls_back_on_malformed_tokenizer_replies() -> None:
    async with serving(http(DEEP)) as server:
        backend = OpenAICompatBackend(server.url + "/v1", "m", max_retries=0, server_kind="auto")
        count = await backend.count_tokens(REQUEST)
        await backend.aclose()
    assert not count.exact and count.tokens > 0


async def test_the_backend_reads_a_good_reply_after_all() -> None:
    result = await complete(http(completion()))
    assert (result.text, result.usage.input_tokens, result.usage.output_tokens) == ("ok", 3, 2)


def test_the_trace_writer_replaces_lone_surrogates_that_reach_it(tmp_path: Path) -> None:
    """Second layer: a surrogate from anywhere (a tool, a scripted reply) cannot crash a trace write."""
    trace = TraceWriter(tmp_path / "trace.jsonl")
    trace._write({"type": "x", "text": ("\ud800",)})
    trace.close()
    assert "\ufffd" in (tmp_path / "trace.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "text",
    [
        '"\\' * 50_000,  # unterminated escapes: quadratic for a regex that re-scans strings
        '{"a": "' + "{" * 50_000,  # a brace at every position: one failed decode each
        "{" * 200_000,
        'x" {"k": ' + "[" * 3000 + "]" * 3000 + "}",  # a stray quote hides the nesting from a text scan
        '{"name": "s", "arguments": ' + '{"a":' * 2000 + "1" + "}" * 2000 + "}",
    ],
    ids=["escapes", "braces in a string", "braces", "stray quote", "deep arguments"],
)
def test_adversarial_model_text_parses_in_bounded_time(text: str) -> None:
    start = time.monotonic()
    text_reply = parse_text_reply("<tool_code>" + text + "</tool_code>")
    json_reply = parse_json_reply(text)
    assert text_reply.tool_calls == () and text_reply.errors and json_reply.errors
    assert time.monotonic() - start < 2.0  # milliseconds here; seconds to minutes before the bounds


def test_ask_json_prints_an_answer_holding_a_lone_surrogate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = scripted_cli(monkeypatch, tmp_path, capsys)
    code, out, _ = cli(["<answer>a\ud800b</answer>"], "ask", "q", "--no-tools", "--json")
    assert code == 0 and json.loads(out)["answer"] == "a\ufffdb"
    out.encode("utf-8")  # what the console's UTF-8 write does: no UnicodeEncodeError


def test_dumps_writes_clean_values_as_json_does_and_replaces_lone_surrogates() -> None:
    clean = {"text": "é ok", "steps": (1, 2.5, None), "n": {"deep": ["x"]}}
    assert safejson.dumps(clean) == json.dumps(clean, ensure_ascii=False)
    dirty = {"k\udc80": ["a\ud800b", ("\udfff",)]}
    assert json.loads(safejson.dumps(dirty)) == {"k\ufffd": ["a\ufffdb", ["\ufffd"]]}
    safejson.dumps(dirty, indent=2).encode("utf-8")  # nothing left that a UTF-8 write refuses
