"""OpenTelemetry spans for runs, model calls and tool calls, built from the run's events.

Off unless asked for: ``THRIFTY_OTEL=1`` (or ``console``), or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``; then every :class:`~thrifty.agents.agent.Agent` run is one
``invoke_agent thrifty`` span with a ``chat {model}`` child per model call and an
``execute_tool {name}`` child per tool call, named and attributed after the OpenTelemetry GenAI
semantic conventions (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
``gen_ai.response.finish_reasons``, ``gen_ai.tool.name`` …), plus thrifty's own ``thrifty.*``
attributes: the budget's limits, what remained and its regime, the stop reason and the cost.

Spans are made from events (:mod:`thrifty.agents.events`), the one stream displays and traces read,
so the controller carries no tracing code; a model or tool span is started at the call's start
time, known from the event's measured seconds. Prompts and outputs are not recorded (only sizes).
When tracing is off nothing here is imported and no handler is added. Needs the ``otel`` extra.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from thrifty.agents.events import BudgetCharged, Event, ModelCalled, RunFinished, RunStarted, ToolCalled
from thrifty.budget import BudgetView, Limits
from thrifty.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from thrifty.agents.result import RunResult

_OFF = ("", "0", "false", "no", "off")


def telemetry_from_env(env: Mapping[str, str] | None = None) -> Telemetry | None:
    """The tracing the environment asks for, or None (the default: nothing is imported or run)."""
    env = os.environ if env is None else env
    flag = env.get("THRIFTY_OTEL", "").strip().lower()
    if flag in _OFF[1:] or (not flag and not env.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return None
    return Telemetry(configure_provider(console=flag == "console"))


def configure_provider(*, console: bool = False) -> TracerProvider:
    """The application's tracer provider; when it has none, an SDK provider thrifty sets up once:
    spans to stderr (``console``) or over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider as SDKProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError:
        raise ConfigError("THRIFTY_OTEL", 'tracing needs OpenTelemetry: pip install "thrifty[otel]"') from None
    current = trace.get_tracer_provider()
    if isinstance(current, SDKProvider):
        return current
    provider = SDKProvider()
    if console:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    else:
        try:  # an optional package beyond the extra: imported by name, so type checks need not know it
            exporter = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        except ImportError:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTLP export needs its exporter: pip install opentelemetry-exporter-otlp-proto-http "
                "(or THRIFTY_OTEL=console to print spans)",
            ) from None
        provider.add_span_processor(BatchSpanProcessor(exporter.OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


class Telemetry:
    """Makes one :class:`RunSpans` handler per run from a tracer provider (an application's own, or
    an in-memory one in tests)."""

    def __init__(self, provider: TracerProvider) -> None:
        from thrifty import __version__

        self.tracer: Tracer = provider.get_tracer("thrifty", __version__)

    def for_run(self, base_url: str | None = None) -> RunSpans:
        """``base_url``: the model server, recorded on each model call as ``server.address``/``port``
        (an eval spread over several endpoints shows which one served each call)."""
        return RunSpans(self.tracer, base_url)


def _ns_ago(seconds: float) -> int:
    return time.time_ns() - int(max(0.0, seconds) * 1e9)


def limit_attributes(limits: Limits, prefix: str = "thrifty.budget.limit.") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in limits.to_dict().items():
        if key == "tools":
            out.update({f"{prefix}tool.{name}": units for name, units in value.items()})
        else:
            out[prefix + key] = value
    return out


def remaining_attributes(view: BudgetView) -> dict[str, Any]:
    from thrifty.budget import Regime

    pairs = {
        "requests": view.remaining_requests,
        "input_tokens": view.remaining_input_tokens,
        "output_tokens": view.remaining_output_tokens,
        "total_tokens": view.remaining_total_tokens,
        "usd": view.remaining_usd,
        "seconds": view.remaining_seconds,
        **{f"tool.{name}": units for name, units in view.remaining_tools.items()},
    }
    out: dict[str, Any] = {f"thrifty.budget.remaining.{k}": v for k, v in pairs.items() if v is not None}
    out["thrifty.budget.regime"] = Regime.of(view).value
    return out


def server_attributes(base_url: str | None) -> dict[str, Any]:
    from urllib.parse import urlsplit

    if not base_url:
        return {}
    try:
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return {}
    return {"server.address": parts.hostname, "server.port": port} if parts.hostname else {}


class RunSpans:
    """An event handler for one run: opens the run span at ``RunStarted`` and ends it at
    ``RunFinished`` (or :meth:`close` when the run raised or was cancelled)."""

    def __init__(self, tracer: Tracer, base_url: str | None = None) -> None:
        self.tracer = tracer
        self.server = server_attributes(base_url)
        self.span: Span | None = None
        self.context: Context | None = None
        self.model = ""
        self.view: BudgetView | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        elif self.span is None:
            return
        elif isinstance(event, ModelCalled):
            self._model(event)
        elif isinstance(event, ToolCalled):
            self._tool(event)
        elif isinstance(event, BudgetCharged):
            self.view = event.view
        elif isinstance(event, RunFinished):
            self._finish(event.result)

    def _start(self, event: RunStarted) -> None:
        from opentelemetry import trace

        self.model = event.model
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "thrifty",
            "gen_ai.request.model": event.model,
            "thrifty.strategy": event.strategy,
            **limit_attributes(event.limits),
        }
        self.span = self.tracer.start_span("invoke_agent thrifty", attributes=attributes)
        self.context = trace.set_span_in_context(self.span)

    def _model(self, event: ModelCalled) -> None:
        completion = event.completion
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": self.model,
            "gen_ai.response.model": completion.model,
            "gen_ai.usage.input_tokens": completion.usage.input_tokens,
            "gen_ai.usage.output_tokens": completion.usage.output_tokens,
            "gen_ai.response.finish_reasons": [completion.finish_reason],
            "thrifty.purpose": event.purpose,
            "thrifty.step": event.step,
            "thrifty.usage.cached_tokens": completion.usage.cached_tokens,
            "thrifty.usage.reasoning_tokens": completion.usage.reasoning_tokens,
            "thrifty.usage.estimated": completion.usage_estimated,
            "thrifty.prompt_tokens_counted": event.prompt_tokens_counted,
            **self.server,
        }
        if event.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = event.max_tokens
        if event.request is not None and event.request.temperature is not None:
            attributes["gen_ai.request.temperature"] = event.request.temperature
        span = self.tracer.start_span(
            f"chat {self.model}", context=self.context, attributes=attributes, start_time=_ns_ago(event.seconds)
        )
        span.end()

    def _tool(self, event: ToolCalled) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        size = len(json.dumps(dict(event.call.arguments), ensure_ascii=False, default=str).encode())
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.call.name,
            "gen_ai.tool.call.id": event.call.id,
            "gen_ai.tool.type": "function",
            "thrifty.tool.arguments_size": size,
            "thrifty.tool.output_size": len(event.output.encode()),
            "thrifty.tool.units_requested": event.units_requested,
            "thrifty.tool.units_granted": event.units_granted,
            "thrifty.step": event.step,
        }
        if event.is_error:
            attributes["error.type"] = "tool_error"
        span = self.tracer.start_span(
            f"execute_tool {event.call.name}",
            context=self.context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_ns_ago(event.seconds),
        )
        if event.is_error:
            span.set_status(Status(StatusCode.ERROR, event.output[:200]))
        span.end()

    def _finish(self, result: RunResult) -> None:
        from opentelemetry.trace import Status, StatusCode

        assert self.span is not None
        usage = result.usage
        attributes: dict[str, Any] = {
            "gen_ai.usage.input_tokens": usage.input_tokens,
            "gen_ai.usage.output_tokens": usage.output_tokens,
            "thrifty.usage.requests": usage.requests,
            "thrifty.cost_usd": result.cost_usd,
            "thrifty.stop_reason": result.stop_reason,
            "thrifty.answered": result.answer is not None,
            "thrifty.steps": len(result.steps),
            **{f"thrifty.usage.tool.{name}": units for name, units in usage.tool_units.items()},
        }
        if result.exhausted:
            attributes["thrifty.exhausted"] = result.exhausted
        if self.view is not None:
            attributes.update(remaining_attributes(self.view))
        self.span.set_attributes(attributes)
        if result.stop_reason == "error":
            self.span.set_status(Status(StatusCode.ERROR, (result.error or "error")[:200]))
        self._end()

    def close(self, error: BaseException | None = None) -> None:
        """End the run span if the run never finished (it raised, or was cancelled)."""
        if self.span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        if error is not None:
            self.span.set_attribute("error.type", type(error).__name__)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:200]))
        self._end()

    def _end(self) -> None:
        if self.span is not None:
            self.span.end()
        self.span = None
