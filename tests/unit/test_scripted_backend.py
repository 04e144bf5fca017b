import pytest

from thrifty.backends import ScriptedBackend
from thrifty.backends.base import ChatRequest, Completion, Message
from thrifty.budget import Usage
from thrifty.errors import BackendTimeout, ScriptExhausted


def req(text: str = "hi", max_tokens: int | None = None) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), max_tokens=max_tokens)


async def test_plays_strings_completions_callables_and_exceptions_in_order() -> None:
    backend = ScriptedBackend(
        [
            "first",
            Completion(text="second", model="m", usage=Usage(requests=1, input_tokens=7, output_tokens=2)),
            lambda r: "echo " + r.messages[-1].content,
            BackendTimeout("boom"),
        ]
    )
    assert (await backend.complete(req())).text == "first"
    second = await backend.complete(req())
    assert (second.usage.input_tokens, second.usage_estimated) == (7, False)
    assert (await backend.complete(req("ping"))).text == "echo ping"
    with pytest.raises(BackendTimeout):
        await backend.complete(req())
    with pytest.raises(ScriptExhausted):
        await backend.complete(req())
    assert len(backend.requests) == 5
    backend.assert_complete()


async def test_async_responder() -> None:
    async def respond(r: ChatRequest) -> str:
        return "async " + r.messages[0].content

    backend = ScriptedBackend([respond])
    assert (await backend.complete(req("x"))).text == "async x"


async def test_usage_is_estimated_consistently_with_count_tokens() -> None:
    backend = ScriptedBackend(["a reasonably long answer"])
    request = req("count me")
    counted = await backend.count_tokens(request)
    completion = await backend.complete(request)
    assert completion.usage_estimated
    assert completion.usage.requests == 1
    assert completion.usage.input_tokens == counted.tokens > 0
    assert completion.usage.output_tokens > 0


async def test_max_tokens_is_honoured_like_a_server() -> None:
    backend = ScriptedBackend(["one two three four five six seven eight nine ten"])
    completion = await backend.complete(req(max_tokens=3))
    assert completion.finish_reason == "length"
    assert completion.usage.output_tokens == 3


def test_unused_steps_fail_assert_complete() -> None:
    with pytest.raises(AssertionError, match="1 scripted step"):
        ScriptedBackend(["left over"]).assert_complete()
