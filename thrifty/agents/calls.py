"""Every model call goes through :class:`ModelCaller`: count → reserve → call (with timeout) → charge → emit.

This is the only place that both calls a backend and charges the ledger, so the guarantee "checked
before and after every model call" cannot be bypassed by a strategy or a tool (browse summaries use
it too, through :class:`~thrifty.tools.base.ToolContext`).
"""

from __future__ import annotations

from dataclasses import replace

from thrifty.agents.events import BudgetCharged, EventHandler, ModelCalled
from thrifty.backends.base import Backend, ChatRequest, Completion, TokenCount
from thrifty.budget import Ledger, ModelReservation, Usage
from thrifty.errors import BackendError, BackendTimeout


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
        model = self.backend.model
        reservation = self.ledger.reserve_model_call(
            model, count.tokens, request.max_tokens, min_output_tokens=min_output_tokens
        )
        request = replace(request, max_tokens=reservation.max_tokens)
        started = self.ledger.clock.now()
        completion = await self._complete(request, count, reservation)
        if reasoning_output:  # a thinking phase: all of its output is reasoning, charged as such
            completion = replace(
                completion, usage=replace(completion.usage, reasoning_tokens=completion.usage.output_tokens)
            )
        entry = self.ledger.charge_model(
            model, completion.usage, estimated=completion.usage_estimated, reservation=reservation
        )
        seconds = self.ledger.clock.now() - started
        self.ledger.observe_call_seconds(seconds)
        self.emit(
            ModelCalled(step, purpose, completion, count.tokens, count.exact, request.max_tokens, seconds, request)
        )
        self.emit(BudgetCharged(entry, self.ledger.view()))
        if entry.overrun and (error := self.ledger.exceeded()) is not None:
            raise error
        return completion

    async def _complete(self, request: ChatRequest, count: TokenCount, reservation: ModelReservation) -> Completion:
        """The backend call within the run's deadline. A failed call is charged for what the server may
        have done (a timeout: the request and its prompt; an error: the request); anything else that
        stops it (cancellation) releases the reservation."""
        model = self.backend.model
        deadline = self.ledger.deadline()
        try:
            return await deadline.wait(self.backend.complete(request))
        except TimeoutError:
            # The server did work we cannot see: charge the request and its prompt, then stop on time.
            entry = self.ledger.charge_model(
                model, Usage(requests=1, input_tokens=count.tokens), estimated=True, reservation=reservation
            )
            self.emit(BudgetCharged(entry, self.ledger.view()))
            if deadline.at is not None:
                raise self.ledger.out_of_time() from None
            raise BackendTimeout("model call timed out") from None
        except BackendError:
            entry = self.ledger.charge_model(model, Usage(requests=1), estimated=True, reservation=reservation)
            self.emit(BudgetCharged(entry, self.ledger.view()))
            raise
        except BaseException:
            self.ledger.release(reservation)
            raise
