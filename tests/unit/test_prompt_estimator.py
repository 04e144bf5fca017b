"""The incremental prompt estimate equals the full count at every step of any history."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.backends.base import ChatRequest, Message, Role, ToolCall, ToolSpec
from thrifty.backends.tokens import PromptEstimator, estimate_prompt_tokens

TEXT = st.text(alphabet=st.sampled_from("ab 0123456789,.{}\"'\n日本é"), max_size=40)
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")
TOOLS = (
    ToolSpec("search", "Search the web.", {"type": "object", "properties": {"q": {"type": "string"}}}),
    ToolSpec("lookup", "Look a number up.", {"type": "object", "properties": {"n": {"type": "integer"}}}),
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    role: Role = draw(st.sampled_from(ROLES))
    calls: tuple[ToolCall, ...] = ()
    if role == "assistant":
        args = draw(st.dictionaries(st.sampled_from("qnx"), st.integers() | TEXT, max_size=2))
        calls = tuple(
            ToolCall(f"c{i}", draw(st.sampled_from(["search", "lookup"])), args) for i in range(draw(st.integers(0, 2)))
        )
    return Message(role, draw(TEXT), tool_calls=calls)


# Each step: append messages, replace one by an edited copy (context trimming does this), drop the
# oldest, or change the offered tools.
EDITS = st.lists(
    st.tuples(
        st.sampled_from(["append", "replace", "drop", "tools"]),
        st.lists(messages(), min_size=1, max_size=3),
        st.integers(0, 50),
    ),
    max_size=15,
)


@settings(max_examples=60, deadline=None)
@given(EDITS, st.sampled_from([2, 5, 16384]))
def test_incremental_estimate_equals_the_full_count(edits: list[tuple[str, list[Message], int]], maxsize: int) -> None:
    estimate = PromptEstimator(maxsize=maxsize)  # tiny caches: eviction on almost every step
    history: list[Message] = [Message("system", "You are a careful agent.")]
    tools: tuple[ToolSpec, ...] = TOOLS
    for op, new, at in edits:
        if op == "append":
            history.extend(new)
        elif op == "replace" and history:
            i = at % len(history)
            old = history[i]
            history[i] = Message(old.role, old.content + new[0].content, tool_calls=new[0].tool_calls)
        elif op == "drop" and history:
            history.pop(0)
            gc.collect()  # a freed message's id may be handed to the next new one
        elif op == "tools":
            tools = TOOLS[: at % 3]
        request = ChatRequest(messages=tuple(history), tools=tuple(tools))
        assert estimate(request) == estimate_prompt_tokens(request)
        assert len(estimate) <= maxsize


def test_a_cached_count_is_used_only_for_the_very_object_it_was_counted_for() -> None:
    # An id is an address: once a message is freed another one can get its id. The cache keeps the
    # object beside its count and checks identity; here an entry under the new message's id belongs
    # to another object, as it would after such a reuse.
    estimate = PromptEstimator()
    message = Message("user", "a longer question about 12345 things " * 20)
    estimate._cache[id(message)] = (Message("user", "hi"), 3)
    request = ChatRequest(messages=(message,))
    assert estimate(request) == estimate_prompt_tokens(request) > 100


def test_each_message_is_counted_once_across_steps(monkeypatch: object) -> None:
    import thrifty.backends.tokens as tokens

    counted: list[str] = []
    real = tokens.conservative_text_tokens

    def spy(text: str) -> int:
        counted.append(text)
        return real(text)

    monkeypatch.setattr(tokens, "conservative_text_tokens", spy)  # type: ignore[attr-defined]
    estimate = PromptEstimator()
    history: list[Message] = [Message("system", "sys"), Message("user", "question")]
    for step in range(50):
        estimate(ChatRequest(messages=tuple(history), tools=TOOLS))
        history.append(Message("tool", f"result {step}"))
    # 51 distinct messages and one tool list, each counted once: not 1 + 2 + ... + 51 times
    assert len(counted) == 52
