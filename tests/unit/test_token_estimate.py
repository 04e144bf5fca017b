"""The offline token estimate is conservative for the embedded model's tokenizer (Qwen2.5), measured
on prose, code, JSON, digit-heavy text, CJK, Cyrillic and symbols (counts from llama-tokenize)."""

import json
import math
from pathlib import Path

import pytest

from thrifty.backends.base import ChatRequest, Message
from thrifty.backends.tokens import SAFETY_FACTOR, conservative_text_tokens, count_text_tokens, estimate_prompt_tokens

MEASURED = json.loads((Path(__file__).parents[1] / "fixtures" / "qwen_token_counts.json").read_text())["counts"]


@pytest.mark.parametrize("kind", sorted(MEASURED))
def test_the_estimate_never_undercounts_the_embedded_tokenizer(kind: str) -> None:
    text, qwen = MEASURED[kind]["text"], MEASURED[kind]["qwen_tokens"]
    assert conservative_text_tokens(text) >= qwen
    request = ChatRequest(messages=(Message("user", text),))
    assert estimate_prompt_tokens(request) >= qwen


def test_the_old_estimate_undercounted_digits_which_qwen_splits_one_by_one() -> None:
    text, qwen = MEASURED["digits_plain"]["text"], MEASURED["digits_plain"]["qwen_tokens"]
    assert math.ceil(count_text_tokens(text) * SAFETY_FACTOR) < 0.55 * qwen  # the old rule: 2x under
    assert conservative_text_tokens("") == 0 and conservative_text_tokens("12345") >= 5
