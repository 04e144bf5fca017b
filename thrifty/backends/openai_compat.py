"""A backend for any OpenAI-compatible chat server: vLLM, llama.cpp's llama-server, OpenAI itself.

Errors from ``openai``/``httpx`` are mapped to :mod:`thrifty.errors` here and nowhere else. Prompt
token counts for budget pre-checks come from the server's own tokenizer and chat template when it
offers one (llama.cpp ``/apply-template`` + ``/tokenize``; vLLM ``/tokenize`` with ``messages``), so
the pre-check matches what the server will bill; otherwise a conservative offline estimate is used.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

import httpx
import openai

from thrifty import safejson
from thrifty.backends.base import ChatRequest, Completion, Message, TokenCount, without_echoed_prefill
from thrifty.backends.batch import BatchReply, BatchReplyError, PromptBatch, batch_body, batchable, parse_batch_reply
from thrifty.backends.profiles import ModelProfile, ToolProtocol, profile_for
from thrifty.backends.replies import decode_body, parse_completion
from thrifty.backends.session import DEFAULT_HEADER, current_session
from thrifty.backends.tokens import PromptEstimator
from thrifty.backends.transport import lean_http_client, pooled_http_client
from thrifty.errors import (
    BackendConnectionError,
    BackendError,
    BackendHTTPError,
    BackendRateLimited,
    BackendTimeout,
)
from thrifty.httppolicy import HttpFailure, HttpPolicy

ServerKind = Literal["auto", "llamacpp", "vllm", "none"]


def map_openai_error(exc: Exception, url: str | None = None) -> BackendError:
    """Translate an ``openai``/``httpx`` exception into thrifty's error tree (``url``: the server, named
    in connection and timeout errors, whose own text is often just "Connection error.")."""
    where = f"{url}: " if url else ""
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return BackendTimeout(where + (str(exc) or "request timed out"))
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return BackendConnectionError(where + (str(exc) or "could not connect"))
    if isinstance(exc, openai.RateLimitError):
        return BackendRateLimited(str(exc), body=exc.body)
    if isinstance(exc, openai.APIStatusError):
        return BackendHTTPError(exc.status_code, str(exc), body=exc.body)
    if isinstance(exc, httpx.HTTPStatusError):
        return BackendHTTPError(exc.response.status_code, str(exc), body=exc.response.text)
    return BackendError(f"{type(exc).__name__}: {exc}")


def to_openai_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            item["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(dict(c.arguments))},
                }
                for c in m.tool_calls
            ]
        if m.tool_call_id is not None:
            item["tool_call_id"] = m.tool_call_id
        if m.name is not None and m.role == "tool":
            item["name"] = m.name
        out.append(item)
    return out


def _clients(
    base_url: str,
    api_key: str | None,
    timeout: float,
    max_retries: int,
    connection_shards: int,
    transport: Literal["auto", "lean", "httpx"],
    max_connections: int,
) -> list[openai.AsyncOpenAI]:
    """The openai clients a backend spreads its calls over.

    The openai client retries 408/429/5xx/connection errors with backoff itself; one logical call
    still yields one response, so the ledger charges it once. Plain-http endpoints (local and LAN
    servers: vLLM, llama.cpp) get the lean transport, whose per-call CPU is a fraction of httpcore's;
    https endpoints keep httpx's own (proxies, HTTP/2). With httpx's transport, requests are spread
    over several clients: its pool scans all of its connections for every request (64 in flight: 25%
    of the runner's CPU in one pool). ``max_connections`` are kept open in all: the most calls in
    flight that never wait for a connection nor reopen one. Size it to the eval's concurrency: with
    256 kept and 1024 in flight, 12,288 calls reopened 3,500-4,000 connections and ran at 2.2x the
    ideal time."""
    key = api_key or "not-needed"
    if transport == "lean" or (transport == "auto" and base_url.startswith("http://")):
        http_client = lean_http_client(timeout, max_connections)
        return [
            openai.AsyncOpenAI(
                base_url=base_url, api_key=key, timeout=timeout, max_retries=max_retries, http_client=http_client
            )
        ]
    shards = max(1, connection_shards)
    return [
        openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=pooled_http_client(timeout, -(-max_connections // shards)),
        )
        for _ in range(shards)
    ]


def clip_to_context(request: ChatRequest, context: int | None) -> ChatRequest:
    """``max_tokens`` no larger than the server's context: vLLM refuses a larger value with HTTP 400
    (it clips only what the prompt leaves of it), where llama-server stops at the context's end."""
    if context is None or request.max_tokens is None or request.max_tokens <= context:
        return request
    return replace(request, max_tokens=context)


class OpenAICompatBackend:
    """Chat completions through ``openai.AsyncOpenAI`` against any compatible server."""

    identity: str | None = None
    """What names this server in an eval's run identity when its URL does not: a server thrifty
    started itself listens on a port that changes with every start, so a resume would begin anew."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        profile: ModelProfile | None = None,
        timeout: float = 300.0,
        max_retries: int = 2,
        server_kind: ServerKind = "auto",
        client: openai.AsyncOpenAI | None = None,
        connection_shards: int = 8,
        transport: Literal["auto", "lean", "httpx"] = "auto",
        session_header: str | None = DEFAULT_HEADER,
        max_connections: int = 1024,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.session_header = session_header
        """The header that carries the run's session id on every completion request (None: not sent)."""
        self._recipe = functools.partial(
            OpenAICompatBackend,
            self.base_url,
            model,
            api_key=api_key,
            profile=profile,
            timeout=timeout,
            max_retries=max_retries,
            connection_shards=connection_shards,
            transport=transport,
            session_header=session_header,
            max_connections=max_connections,
        )
        self.profile = profile or profile_for(model)
        self._clients = (
            [client]
            if client is not None
            else _clients(self.base_url, api_key, timeout, max_retries, connection_shards, transport, max_connections)
        )
        self._next_client = 0
        self._policy = HttpPolicy(timeout=30.0)
        """Token counts: one try, 30 s at most (the caller's deadline bounds it further)."""
        self._http = self._policy.client()
        self._server_kind: ServerKind = server_kind
        self._estimate = PromptEstimator()
        self._context: int | None = None
        """The server's context length, when its ``/tokenize`` states it (vLLM's ``max_model_len``)."""
        self._batching = True
        """Whether to send several prompts in one request; off for good once this server refused one
        or answered one that could not be matched to its prompts."""

    @property
    def model(self) -> str:
        return self._model

    def recipe(self) -> Callable[[], OpenAICompatBackend]:
        """A picklable way to build this backend again in another process (a Ray worker): the same
        server, model and settings, with its own connections."""
        return self._recipe

    @property
    def tool_protocol(self) -> ToolProtocol:
        return self.profile.tool_protocol

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self._model, "messages": to_openai_messages(request.messages)}
        if request.tools and self.profile.tool_protocol == "native":
            kwargs["tools"] = [t.openai_schema() for t in request.tools]
        optional = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "top_logprobs": request.top_logprobs if request.logprobs else None,
            "response_format": dict(request.response_format) if request.response_format else None,
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.logprobs:
            kwargs["logprobs"] = True
        if request.n > 1:
            kwargs["n"] = request.n
        kwargs.update(self._prefill_flags(request.messages))
        if request.extra_body:
            kwargs.update(request.extra_body)
        return kwargs

    def _prefill_flags(self, messages: tuple[Message, ...]) -> dict[str, Any]:
        """A final assistant message is a prefill to continue: llama-server does so by itself, vLLM
        only with ``continue_final_message`` (else it opens a new assistant turn after it). Servers
        known to have neither (the OpenAI API) are not sent the fields."""
        if not messages or messages[-1].role != "assistant" or self._server_kind == "none":
            return {}
        return {"continue_final_message": True, "add_generation_prompt": False}

    async def complete(self, request: ChatRequest) -> Completion:
        # The body is built here already in wire format and the reply is read as plain JSON, so it
        # goes through the client's generic ``post`` (same retries and error types as
        # ``chat.completions.create``) without the per-call TypedDict transform and pydantic model
        # construction, whose cost grows with the conversation (see benchmarks/overhead.py).
        request = clip_to_context(request, self._context)
        body = await self._post("/chat/completions", self._kwargs(request))
        completion = parse_completion(decode_body(body), request, self.profile, self._model)
        return without_echoed_prefill(completion, request.messages)

    async def _post(self, path: str, body: dict[str, Any]) -> bytes:
        """One generation request through the next client, with the run's session header."""
        client = self._clients[self._next_client]
        self._next_client = (self._next_client + 1) % len(self._clients)
        sid = current_session() if self.session_header else None
        options: openai.RequestOptions = {"headers": {self.session_header: sid}} if self.session_header and sid else {}
        try:
            return await client.post(path, body=body, cast_to=bytes, options=options)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise map_openai_error(exc, self.base_url) from exc

    # ------------------------------------------------------------------ several prompts in one request
    async def prepare_batch(self, requests: Sequence[ChatRequest]) -> PromptBatch | None:
        """Render ``requests`` with the server's chat template into token ids for one ``/v1/completions``
        request (:mod:`thrifty.backends.batch`); None where the server cannot take one (neither
        llama.cpp nor vLLM, batching turned off, requests that differ in settings, a failed render)."""
        if not self._batching or not batchable(requests):
            return None
        if self._server_kind == "auto":
            await self.count_tokens(requests[0])  # finds out which server this is
        render = {"llamacpp": self._tokens_llamacpp, "vllm": self._tokens_vllm}.get(self._server_kind)
        if render is None:
            return None
        try:
            prompts = await asyncio.gather(*(render(self._template_body(r)) for r in requests))
        except (httpx.HTTPError, BackendError, ValueError):
            return None
        return PromptBatch(tuple(requests), tuple(tuple(p) for p in prompts))

    async def complete_batch(self, batch: PromptBatch) -> BatchReply:
        """One ``/v1/completions`` request for the whole batch. A refusal (400/404/405/501) or a reply
        that cannot be matched to its prompts raises :class:`BatchReplyError` and turns batching off."""
        try:
            raw = await self._post("/completions", batch_body(batch, self._model))
            try:
                payload = safejson.loads(raw)
            except ValueError as exc:
                raise BatchReplyError(f"the batched reply is not JSON: {exc}") from None
            return parse_batch_reply(payload, batch, self._model)
        except BackendHTTPError as exc:
            if exc.status_code not in (400, 404, 405, 501):
                raise
            self._batching = False
            raise BatchReplyError(f"{self.base_url} refused a batched request: {exc}") from exc
        except BatchReplyError:
            self._batching = False
            raise

    # ------------------------------------------------------------------ token counting
    @property
    def _root(self) -> str:
        return re.sub(r"/v1$", "", self.base_url)

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            r = await self._policy.request(self._http, "POST", f"{self._root}{path}", json=body)
        except HttpFailure as exc:
            raise BackendError(str(exc)) from exc
        r.raise_for_status()
        return decode_body(r.content)

    async def _tokens_llamacpp(self, body: dict[str, Any]) -> list[int]:
        prompt = (await self._post_json("/apply-template", body)).get("prompt")
        if not isinstance(prompt, str):
            raise ValueError("/apply-template answered without a prompt")
        return _token_ids((await self._post_json("/tokenize", {"content": prompt, "add_special": True})).get("tokens"))

    async def _tokens_vllm(self, body: dict[str, Any]) -> list[int]:
        return _token_ids((await self._post_json("/tokenize", {"model": self._model, **body})).get("tokens"))

    async def _count_llamacpp(self, body: dict[str, Any]) -> int:
        return len(await self._tokens_llamacpp(body))

    async def _count_vllm(self, body: dict[str, Any]) -> int:
        reply = await self._post_json("/tokenize", {"model": self._model, **body})
        count, context = reply.get("count"), reply.get("max_model_len")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("/tokenize answered without a token count")
        if isinstance(context, int) and not isinstance(context, bool) and context > 0:
            self._context = context
        return count

    def _template_body(self, request: ChatRequest) -> dict[str, Any]:
        """What the template endpoints render: the messages, prefill flags and native tools."""
        body: dict[str, Any] = {"messages": to_openai_messages(request.messages)}
        body.update(self._prefill_flags(request.messages))
        if request.tools and self.profile.tool_protocol == "native":
            body["tools"] = [t.openai_schema() for t in request.tools]
        return body

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        body = self._template_body(request)
        counters: dict[str, Callable[[dict[str, Any]], Awaitable[int]]] = {
            "llamacpp": self._count_llamacpp,
            "vllm": self._count_vllm,
        }
        kinds = list(counters) if self._server_kind == "auto" else [self._server_kind]
        for kind in kinds:
            if kind not in counters:
                continue
            try:
                n = await counters[kind](body)
            except (httpx.HTTPError, BackendError, ValueError):
                continue
            self._server_kind = kind  # type: ignore[assignment]
            return TokenCount(n, exact=True)
        self._server_kind = "none"
        return TokenCount(self._estimate(request), exact=False)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.close()
        await self._http.aclose()


def _token_ids(tokens: object) -> list[int]:
    """A ``/tokenize`` answer's token ids (llama.cpp may send ``{"id", "piece"}`` objects instead)."""
    if not isinstance(tokens, list):
        raise ValueError("/tokenize answered without a token list")
    ids: list[int] = []
    for token in tokens:
        value = token.get("id") if isinstance(token, dict) else token
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("/tokenize answered with something other than token ids")
        ids.append(value)
    return ids
