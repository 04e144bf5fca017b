"""Every model call goes through :class:`ModelCaller`: count → reserve → call (with timeout) → charge → emit.

This is the only place that both calls a backend and charges the ledger, so the guarantee "checked
before and after every model call" cannot be bypassed by a strategy or a tool (browse summaries use
it too, through :class:`~thrifty.tools.base.ToolContext`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar, cast

from thrifty.agents.events import BudgetCharged, EventHandler, ModelCalled
from thrifty.backends.base import Backend, ChatRequest, Completion, TokenCount
from thrifty.backends.batch import BatchingBackend, BatchReply, BatchReplyError, PromptBatch
from thrifty.budget import Ledger, ModelReservation, Usage
from thrifty.errors import BackendError, BackendTimeout

T = TypeVar("T")


class ModelCaller:
    def __init__(self, backend: Backend, ledger: Ledger, emit: EventHandler) -> None:
        self.backend = backend
        self.ledger = ledger
        self.emit = emit

    async def count(self, request: ChatRequest) -> TokenCount:
        """Prompt tokens of ``request``; skipped (0, inexact) when no limit depends on prompt size."""
        if not self.ledger.needs_prompt_counts():
            return TokenCount(0, exact=False)
        self.ledger.check_time()
        try:
            return await self.ledger.deadline().wait(self.backend.count_tokens(request))
        except TimeoutError:
            raise self.ledger.out_of_time() from None

    async def __call__(
        self,
        request: ChatRequest,
        *,
        step: int,
        purpose: str = "agent",
        count: TokenCount | None = None,
        min_output_tokens: int = 1,
        reasoning_output: bool = False,
    ) -> Completion:
        """Make one charged call. Raises :class:`BudgetExceeded` when it cannot be afforded."""
        count = count or await self.count(request)
        sent: list[ChatRequest] = []
        n = max(1, request.n)  # n samples may each write max_tokens: the reservation covers all of them

        async def send(reservation: ModelReservation) -> tuple[Completion, Usage, bool]:
            each = None if reservation.max_tokens is None else reservation.max_tokens // n
            sent.append(replace(request, max_tokens=each))
            completion = await self.backend.complete(sent[0])
            if reasoning_output:  # a thinking phase: all of its output is reasoning, charged as such
                usage = replace(completion.usage, reasoning_tokens=completion.usage.output_tokens)
                completion = replace(completion, usage=usage)
            return completion, completion.usage, completion.usage_estimated

        def announce(completion: Completion, seconds: float) -> None:
            self.ledger.observe_call_seconds(seconds)
            final = sent[0]
            self.emit(
                ModelCalled(step, purpose, completion, count.tokens, count.exact, final.max_tokens, seconds, final)
            )

        return await self.charged(
            self.backend.model,
            count.tokens,
            send,
            max_tokens=None if request.max_tokens is None else request.max_tokens * n,
            min_output_tokens=min_output_tokens * n,
            announce=announce,
        )

    async def charged(
        self,
        model: str,
        prompt_tokens: int,
        send: Callable[[ModelReservation], Awaitable[tuple[T, Usage, bool]]],
        *,
        max_tokens: int | None = None,
        min_output_tokens: int = 1,
        max_seconds: float | None = None,
        announce: Callable[[T, float], None] | None = None,
    ) -> T:
        """The one path that calls a model endpoint and charges the ledger: reserve, ``send`` within
        the deadline (and ``max_seconds``), charge what it reports (``send`` returns its value, its usage
        and whether that usage is estimated), emit. A call cut short is charged its request and prompt;
        a failed one its request; one never made is released. Chat calls and the reward model use it."""
        reservation = self.ledger.reserve_model_call(
            model, prompt_tokens, max_tokens, min_output_tokens=min_output_tokens
        )
        started = self.ledger.clock.now()
        deadline = self.ledger.deadline()
        try:
            value, usage, estimated = await deadline.wait(send(reservation), max_seconds)
        except TimeoutError:
            # The server did work we cannot see: charge the request and its prompt, then stop on time.
            self._charge_failed(model, Usage(requests=1, input_tokens=prompt_tokens), reservation)
            if deadline.expired or (deadline.at is not None and max_seconds is None):
                raise self.ledger.out_of_time() from None
            raise BackendTimeout(f"model call to {model} timed out") from None
        except BackendError as exc:
            self._charge_failed(model, Usage(requests=1), reservation)
            if isinstance(exc, BackendTimeout) and deadline.expired:
                raise self.ledger.out_of_time() from None
            raise
        except BaseException:
            self.ledger.release(reservation)
            raise
        entry = self.ledger.charge_model(model, usage, estimated=estimated, reservation=reservation)
        if announce is not None:
            announce(value, self.ledger.clock.now() - started)
        self.emit(BudgetCharged(entry, self.ledger.view()))
        if entry.overrun and (error := self.ledger.exceeded()) is not None:
            raise error
        return value

    async def batch(self, requests: Sequence[ChatRequest], *, step: int, purpose: str = "agent") -> list[Completion]:
        """Completions of ``requests``, in order: one charged request for all of them where the backend
        can send several prompts at once (:class:`~thrifty.backends.batch.BatchingBackend`), else one
        charged call each. A batched reply that cannot be matched to its prompts is charged as a failed
        request, and the requests then go out one by one."""
        prepared = await self._prepare(requests)
        if prepared is not None:
            try:
                return await self._send_batch(prepared, step, purpose)
            except BatchReplyError:
                pass
        return await settle(self(r, step=step, purpose=purpose) for r in requests)

    async def _prepare(self, requests: Sequence[ChatRequest]) -> PromptBatch | None:
        if len(requests) < 2 or not isinstance(self.backend, BatchingBackend):
            return None
        self.ledger.check_time()
        try:
            return await self.ledger.deadline().wait(self.backend.prepare_batch(requests))
        except TimeoutError:
            raise self.ledger.out_of_time() from None

    async def _send_batch(self, batch: PromptBatch, step: int, purpose: str) -> list[Completion]:
        """Reserve the exact prompt tokens of every prompt and all their outputs, send once, charge
        the server's summed usage as one request, and emit one ModelCalled per prompt."""
        backend = cast(BatchingBackend, self.backend)

        async def send(reservation: ModelReservation) -> tuple[BatchReply, Usage, bool]:
            reply = await backend.complete_batch(batch)
            return reply, reply.usage, reply.usage_estimated

        def announce(reply: BatchReply, seconds: float) -> None:
            self.ledger.observe_call_seconds(seconds)
            for request, prompt, completion in zip(batch.requests, batch.prompts, reply.completions, strict=True):
                self.emit(
                    ModelCalled(step, purpose, completion, len(prompt), True, request.max_tokens, seconds, request)
                )

        n = len(batch.requests)
        reply = await self.charged(
            self.backend.model,
            batch.prompt_tokens,
            send,
            max_tokens=batch.max_tokens,
            min_output_tokens=n,
            announce=announce,
        )
        return list(reply.completions)

    def _charge_failed(self, model: str, usage: Usage, reservation: ModelReservation) -> None:
        entry = self.ledger.charge_model(model, usage, estimated=True, reservation=reservation)
        self.emit(BudgetCharged(entry, self.ledger.view()))


async def settle(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await every call, then raise the first failure: unlike a bare gather, no sibling keeps running
    (and mutating state) after the run has decided to stop."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return cast(list[T], outcomes)
