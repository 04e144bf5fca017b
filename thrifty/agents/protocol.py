"""Tool-call protocols for models without native tool calling: BATS's tagged text and schema-bound JSON.

The model writes ``<think>…</think>``, then either ``<tool_code>{"name": …, "arguments": {…}}</tool_code>``
or ``<answer>…</answer>``. Small models drift from the format, so parsing is lenient: fenced or bare
JSON objects with a ``name`` count as tool calls, ``Final Answer:`` counts as an answer, and anything
the model writes after a ``<tool_response>`` tag is discarded (it is inventing the tool's reply).
Malformed calls become ``errors`` for the model to read, never exceptions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from thrifty import safejson
from thrifty.backends.base import ToolCall, ToolSpec

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_TOOL_TAG = re.compile(r"<(tool_code|tool_call)>(.*?)(?:</\1>|$)", re.DOTALL)
_FENCE = re.compile(r"```(?:json|tool_code)?\s*\n?(.*?)```", re.DOTALL)
_ANSWER_TAG = re.compile(r"<(/?)answer>")
_FINAL = re.compile(r"final answer\s*[:：]\s*(.+)", re.IGNORECASE | re.DOTALL)
_HALLUCINATED = re.compile(r"<tool_response>|<budget>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedReply:
    thought: str
    tool_calls: tuple[ToolCall, ...]
    answer: str | None
    errors: tuple[str, ...]


MAX_FAILED_DECODES = 64
"""Each failed try costs up to the length of the text (the decoder's error reports a line number), so
a reply of 50,000 ``{`` would cost seconds; real replies hold a handful of objects."""


def json_objects(text: str) -> list[tuple[Any, str]]:
    """Every JSON value that starts at a ``{`` in ``text`` (decoded, raw), within the limits of
    :mod:`thrifty.safejson` and :data:`MAX_FAILED_DECODES` failed tries."""
    try:
        safejson.check_size(text)
    except safejson.JSONLimitError:
        return []
    found: list[tuple[Any, str]] = []
    failures = 0
    i = text.find("{")
    while i != -1 and failures < MAX_FAILED_DECODES:
        try:
            obj, end = safejson.raw_decode(text, i)
        except ValueError:
            failures += 1
            i = text.find("{", i + 1)
            continue
        found.append((obj, text[i:end]))
        i = text.find("{", end)
    return found


def _to_call(obj: Any, raw: str, call_id: str) -> ToolCall | str:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return f'a tool call must be a JSON object with a "name" string, got: {raw[:200]}'
    args: Any = obj.get("arguments", obj.get("parameters", obj.get("args", {})))
    if isinstance(args, str):
        try:
            args = safejson.loads(args)
        except ValueError:
            return f"the arguments of {obj['name']!r} are not a JSON object: {args[:200]}"
    if not isinstance(args, dict):
        return f"the arguments of {obj['name']!r} must be a JSON object"
    return ToolCall(id=call_id, name=obj["name"], arguments=args, raw_arguments=json.dumps(args))


def _calls_from_payload(payload: str, prefix: str, start: int) -> tuple[list[ToolCall], list[str]]:
    objects = json_objects(payload.strip().strip("`"))
    if not objects:
        return [], [f"the tool call is not valid JSON: {payload.strip()[:200]}"]
    calls: list[ToolCall] = []
    errors: list[str] = []
    for obj, raw in objects:
        result = _to_call(obj, raw, f"{prefix}_{start + len(calls)}")
        (calls if isinstance(result, ToolCall) else errors).append(result)  # type: ignore[arg-type]
    return calls, errors


def parse_text_reply(text: str, *, call_prefix: str = "call") -> ParsedReply:
    """Split a model reply into thought, tool calls, answer and format errors."""
    cut = _HALLUCINATED.search(text)
    body = text[: cut.start()] if cut else text
    thought = " ".join(m.group(1).strip() for m in _THINK.finditer(body))
    visible = _THINK.sub("", body)

    calls: list[ToolCall] = []
    errors: list[str] = []
    payloads = [m.group(2) for m in _TOOL_TAG.finditer(visible)]
    if not payloads:  # lenient: fenced or bare JSON objects that look like calls
        payloads = [m.group(1) for m in _FENCE.finditer(visible) if '"name"' in m.group(1)]
    if not payloads and '"name"' in visible:
        payloads = [raw for obj, raw in json_objects(visible) if isinstance(obj, dict) and "name" in obj]
        if not payloads:  # it tried to call a tool but the JSON does not parse
            payloads = [visible[visible.find("{") :]] if "{" in visible else []
    for payload in payloads:
        c, e = _calls_from_payload(payload, call_prefix, len(calls))
        calls.extend(c)
        errors.extend(e)

    answer = last_answer(_TOOL_TAG.sub("", visible))
    if answer is None and not calls and (m := _FINAL.search(visible)):
        answer = m.group(1).strip()
    return ParsedReply(thought=thought, tool_calls=tuple(calls), answer=answer, errors=tuple(errors))


def last_answer(text: str) -> str | None:
    """The last top-level ``<answer>…</answer>`` span (unclosed: to the end), inner answer tags
    dropped: ``<answer><answer>x</answer> y</answer>`` is ``x y``, not ``<answer>x``."""
    spans: list[tuple[int, int]] = []
    depth, start = 0, 0
    for m in _ANSWER_TAG.finditer(text):
        if not m.group(1):
            if depth == 0:
                start = m.end()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                spans.append((start, m.start()))
    if depth:
        spans.append((start, len(text)))
    if not spans:
        return None
    inner = text[spans[-1][0] : spans[-1][1]]
    return re.sub(r"\s*</?answer>\s*", " ", inner).strip()


def strip_answer_tags(text: str) -> str:
    """The answer from a reply that is known to be final (no tool calls allowed)."""
    parsed = parse_text_reply(text)
    if parsed.answer is not None:
        return parsed.answer
    return _THINK.sub("", text).strip()


# ----------------------------------------------------------------------------- JSON protocol

EVIDENCE_MAX_CHARS = 300
ANSWER_MAX_CHARS = 120
"""Answers are short facts; without a cap a small model fills the whole step with one run-on answer."""


def step_schema(tools: tuple[ToolSpec, ...], *, final: bool = False) -> dict[str, Any]:
    """JSON schema of one step: a tool call ``{evidence, tool, arguments}`` or ``{evidence, answer}``.

    Sent as ``response_format`` so the server's grammar keeps the reply valid; a final step allows
    only the answer form. Every form starts with ``evidence`` (the words of the tool responses that
    bear on the question): a small model decides between searching on and answering only after it has
    copied what it read, instead of committing to a guess in its first words (seen in traces: a
    ``think`` field that named Shakespeare above a search result saying Walt Whitman).
    """
    evidence = {"type": "string", "maxLength": EVIDENCE_MAX_CHARS}
    options: list[dict[str, Any]] = []
    if not final:
        for spec in tools:
            params = dict(spec.parameters)
            params.setdefault("type", "object")
            params["additionalProperties"] = False
            options.append(
                {
                    "type": "object",
                    "properties": {"evidence": evidence, "tool": {"const": spec.name}, "arguments": params},
                    "required": ["evidence", "tool", "arguments"],
                    "additionalProperties": False,
                }
            )
    answer = {"type": "string", "maxLength": ANSWER_MAX_CHARS}
    options.append(
        {
            "type": "object",
            "properties": {"evidence": evidence, "answer": answer},
            "required": ["evidence", "answer"],
            "additionalProperties": False,
        }
    )
    return options[0] if len(options) == 1 else {"anyOf": options}


def json_response_format(tools: tuple[ToolSpec, ...], *, final: bool = False) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "agent_step", "schema": step_schema(tools, final=final)}}


def parse_json_reply(text: str, *, call_prefix: str = "call") -> ParsedReply:
    """A JSON-protocol step. Servers enforce the schema, but a cut-off reply can still be invalid."""
    objects = [obj for obj, _ in json_objects(text) if isinstance(obj, dict)]
    if not objects:
        return ParsedReply(
            thought="", tool_calls=(), answer=None, errors=(f"the reply is not a JSON object: {text[:200]}",)
        )
    obj = objects[0]
    thought = str(obj.get("evidence", obj.get("think", "")))
    if isinstance(obj.get("tool"), str):
        result = _to_call({"name": obj["tool"], "arguments": obj.get("arguments", {})}, text, f"{call_prefix}_0")
        if isinstance(result, str):
            return ParsedReply(thought=thought, tool_calls=(), answer=None, errors=(result,))
        return ParsedReply(thought=thought, tool_calls=(result,), answer=None, errors=())
    if "answer" in obj:
        answer = obj["answer"]
        if isinstance(answer, bool) or not isinstance(answer, str | int | float):
            error = f'"answer" must be a string, got {json.dumps(answer)[:80]}'
            return ParsedReply(thought=thought, tool_calls=(), answer=None, errors=(error,))
        return ParsedReply(thought=thought, tool_calls=(), answer=str(answer).strip(), errors=())
    return ParsedReply(
        thought=thought, tool_calls=(), answer=None, errors=('the JSON has neither "tool" nor "answer"',)
    )
