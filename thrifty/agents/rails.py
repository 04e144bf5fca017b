"""Rails for small models: policy objects a model profile selects, each decided and tested on its own.

Why they exist (from traces of the embedded 0.5B/1.5B models): a small model's first step is often a
guess written before it has read anything; it repeats a call it already made; it wraps a right name
in invented facts; and it abstains ("None") with the answer on the page in front of it. Capable
models need none of this, so :func:`rails_for` turns them on only for profiles that ask.

- :class:`OpeningSearch`: the controller searches the question text before the first model step
  (one charged search unit): the model's first decision is made with evidence in view.
- :class:`ReadFirst`: one plain reading call over the opening search's results answers when they
  state the answer; the loop goes on when they do not.
- :class:`Decompose`: a question about something it only describes is split into a question that
  finds the name and the rest about it; each part is searched and read in turn.
- :class:`~thrifty.agents.choice.Compare`: a choice between two named options is split into the
  options and the question to ask about each; each is searched and read, then the values compared.
- :class:`RepeatPolicy`: a refused repeat withholds that tool for a step, ends the loop with an answer
  from the evidence so far (small models), or gets a new search query written by a separate short
  call ("reformulate", opt-in: on the quality benchmark it cost time and did not help the 1.5B).
- :class:`ShortAnswer`: an answer longer than a few words gets one charged pass that keeps only the
  entity, number or date.
- :class:`EchoCheck`: an answer that only repeats a name the question states is sent back once.
- :func:`~thrifty.agents.replies.is_abstention`: "None", "unknown" and friends are not answers unless
  the caller allows abstaining.
- ``remind_question``: the question is repeated after every tool response (small models otherwise
  answer about whatever they read last).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

from thrifty import safejson
from thrifty.agents.choice import Compare
from thrifty.agents.prompts import load_prompt
from thrifty.agents.replies import fields_request, is_abstention, one_field_request, reply_object
from thrifty.backends.base import ChatRequest, ToolCall
from thrifty.backends.profiles import ModelProfile


@dataclass(frozen=True, slots=True)
class OpeningSearch:
    """Search the question itself before the model's first step (needs a ``search`` tool)."""

    tool: str = "search"

    def call(
        self, question: str, tools: Sequence[str], *, remaining: int | None = None, tag: int = 0
    ) -> ToolCall | None:
        """The search to make, or None (no search tool, no units left for it, no question). ``tag``
        tells apart the searches of one run (the hops of a split question)."""
        if self.tool not in tools or remaining == 0 or not question.strip():
            return None
        args = {"query": [question.strip()]}
        call_id = f"call_opening_{tag}" if tag else "call_opening"
        return ToolCall(id=call_id, name=self.tool, arguments=args, raw_arguments=json.dumps(args))


@dataclass(frozen=True, slots=True)
class RepeatPolicy:
    """What a refused repeat leads to: withhold the tool for one step, answer now, or (for a repeated
    search) ask for a new query once per ``reformulations`` and run it, then answer on a further repeat.

    Why "reformulate": traces of the 1.5B on two-hop questions show it knows it must search again
    ("Volkswagen is based in Wolfsburg, Lower Saxony, Germany") but copies the question as the query;
    a separate short call that sees only the question, what was found and the queries made writes
    the missing hop ("capital of Germany").
    """

    on_repeat: Literal["withhold", "answer", "reformulate"] = "withhold"
    reformulations: int = 2
    max_tokens: int = 40

    def request(self, question: str, found: str, queries: Sequence[str]) -> ChatRequest:
        made = "\n".join(f"- {q}" for q in queries) or "- (none)"
        prompt = load_prompt("next_query").render(question=question, found=found or "(nothing yet)", queries=made)
        return one_field_request(prompt, "query", 80, max_tokens=self.max_tokens)

    @staticmethod
    def parse(text: str, queries: Sequence[str]) -> str | None:
        """The new query, or None when the reply has none or repeats a query already made."""
        try:
            obj = safejson.loads(text)
        except ValueError:
            return None
        query = str(obj.get("query", "")).strip() if isinstance(obj, dict) else ""
        made = {" ".join(q.lower().split()) for q in queries}
        return query if query and " ".join(query.lower().split()) not in made else None


@dataclass(frozen=True, slots=True)
class ShortAnswer:
    """Answers of more than ``max_words`` words are cut down to the fact they name, by one charged call."""

    max_words: int = 5
    max_tokens: int = 48

    def needs(self, answer: str) -> bool:
        return len(answer.split()) > self.max_words

    def request(self, question: str, answer: str, *, json_protocol: bool) -> ChatRequest:
        prompt = load_prompt("short_answer").render(question=question, answer=answer)
        return one_field_request(prompt, "answer", 120, max_tokens=self.max_tokens, constrained=json_protocol)

    @staticmethod
    def parse(text: str, fallback: str, question: str = "") -> str:
        """The short answer from the reply, kept only when it is a part of the long answer that the
        question does not already say (traces: "Where does golf come from?" cut down to "Golf");
        otherwise the long answer."""
        short = text.strip()
        try:
            obj = safejson.loads(short)
            if isinstance(obj, dict):
                short = str(obj.get("answer", "")).strip()
        except ValueError:
            pass
        short = short.strip().strip('"').rstrip(".").strip()
        key = " ".join(short.lower().split())
        if is_abstention(short) or not key or key not in " ".join(fallback.lower().split()):
            return fallback
        return fallback if re.search(rf"\b{re.escape(key)}\b", question.lower()) else short


@dataclass(frozen=True, slots=True)
class ReadFirst:
    """After the opening search, one plain reading call answers from the results when they state the
    answer; otherwise (it abstains, echoes the question, or the question is a choice between names,
    which the loop settles by searching each) the agent loop goes on as usual."""

    max_tokens: int = 48
    max_result_chars: int = 4000

    def applies(self, question: str) -> bool:
        return re.search(r"\bor\b", question, re.IGNORECASE) is None

    def request(self, question: str, results: str, *, json_protocol: bool, exclude: str = "") -> ChatRequest:
        """The reading call; ``exclude`` names an answer the question already states, for the one
        reading again after a reply that only repeated it (see :meth:`echoed`)."""
        note = f' (The answer is not "{exclude}": the question already names it.)' if exclude else ""
        prompt = load_prompt("read_first").render(
            question=question, results=results[: self.max_result_chars], exclude=note
        )
        return one_field_request(prompt, "answer", 120, max_tokens=self.max_tokens, constrained=json_protocol)

    @staticmethod
    def parse(text: str, question: str) -> str | None:
        """The answer, or None when the reply abstains, is malformed or only repeats the question."""
        answer = ReadFirst._answer(text)
        if is_abstention(answer) or EchoCheck().echoes(question, answer):
            return None
        return answer

    @staticmethod
    def echoed(text: str, question: str) -> str | None:
        """The reply's answer when it only repeats a name the question states, else None: a small
        model reads "Who co-founded Microsoft with Bill Gates?" over "… with Paul Allen" and names
        Bill Gates; read once more with that name excluded, it names Paul Allen."""
        answer = ReadFirst._answer(text)
        return answer if EchoCheck().echoes(question, answer) else None

    @staticmethod
    def _answer(text: str) -> str:
        obj = reply_object(text)
        return str(obj.get("answer") or "").strip() if obj is not None else ""


_CONTRACTIONS = {"what's": "what is", "who's": "who is", "where's": "where is", "when's": "when is"}
_FUNCTION_WORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "to", "by", "for", "from", "and", "or", "'s", "is", "was"}
    | {"are", "were", "its", "his", "her", "their"}
)


_ASKING = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "how", "why", "do", "does", "did"})


def _words(text: str) -> list[str]:
    """Words, ``#1`` and possessive ``'s`` as tokens, contractions spelled out."""
    spelled = " ".join(_CONTRACTIONS.get(w.lower(), w) for w in text.split())
    return re.findall(r"#1|'s\b|[^\W_]+(?:-[^\W_]+)*", spelled.replace("\u2019", "'"))


def _copies(first: str, then: str) -> bool:
    """Whether ``first`` already asks what ``then`` asks (the model copied the question): every content
    word of ``then`` is in it (a word matches its inflections by a shared stem of 3+ letters)."""
    have = [w.lower() for w in _words(first)]
    skip = _FUNCTION_WORDS | _ASKING
    wanted = [w.lower() for w in _words(then) if w != "#1" and w.islower() and w not in skip]
    return all(any(h.startswith(w[:3]) and (w.startswith(h) or h.startswith(w)) for h in have) for w in wanted)


def _replaced_span(then: str, question: str) -> tuple[list[str], list[str]]:
    """The question's words that ``then`` does not keep (aligned word by word), and among them the
    run that stands where ``#1`` is; both empty when the template keeps too little of the question
    to be a rest of it (a reply like "On #1?")."""
    template, asked = _words(then), _words(question)
    matcher = SequenceMatcher(a=[w.lower() for w in template], b=[w.lower() for w in asked], autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    if kept < 2 or kept < 0.4 * (len(template) - 1):
        return [], []
    ops = [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    hole = next((asked[j1:j2] for i1, i2, j1, j2 in ops if "#1" in template[i1:i2]), [])
    return [asked[j] for _, _, j1, j2 in ops for j in range(j1, j2)], hole


_RENAMES = re.compile(
    r"^(?:(?:which|what)(?: \w+)? )?(?:is|was|are|were) #1(?: (?:in|of|on|at) the [^?]*)?\W*$"
    r"|\b(?:is|was|are|were) #1\W*$",
    re.IGNORECASE,
)


def _renames(then: str) -> bool:
    """Whether the rest only asks to name ``#1`` ("Which planet is #1?", "Which planet is #1 in the
    Solar System?"): its answer is the first part's, so the split buys nothing."""
    return _RENAMES.search(then.strip()) is not None


def _is_description(span: Sequence[str]) -> bool:
    """A phrase with a lowercase content word ("home country", "author") describes; a name does not,
    nor does a question word the rest rephrased ("On what date was Nineteen Eighty-Four first
    published?" → "On which date was #1 first published?" replaces a name, not a description)."""
    return any(w.islower() and w not in _FUNCTION_WORDS and w not in _ASKING for w in span)


@dataclass(frozen=True, slots=True)
class Decompose:
    """A question about something it only describes ("the capital of the country where Volkswagen is
    based") is split, by one short charged call, into a question that finds the name and the rest
    written about ``#1``; the controller then searches and reads each part in turn.

    Why: on the quality benchmark the 1.5B answered two-hop questions from the first hop's page
    ("Wolfsburg", "Swedish"): 0.38 on 40 two-hop, below closed book; handed both pages, 0.95. The opening
    search of the whole question finds only the first hop's page. A choice question ("… A or B?")
    names what it asks about and is never split.
    """

    max_hops: int = 3
    max_tokens: int = 64

    def applies(self, question: str) -> bool:
        return re.search(r"\bor\b", question, re.IGNORECASE) is None

    def request(self, question: str, *, json_protocol: bool) -> ChatRequest:
        prompt = load_prompt("decompose").render(question=question)
        return fields_request(
            prompt, {"first": 120, "then": 160}, max_tokens=self.max_tokens, constrained=json_protocol
        )

    @staticmethod
    def parse(text: str, question: str) -> tuple[str, str] | None:
        """(first, then), or None when the reply does not split the question.

        Small models split every question they are shown (the 1.5B split 90 of 90), so a split is
        kept only when ``#1`` in the second part stands where the question has a description (a
        phrase with a common noun, "the author of Ulysses", "Roger Federer's home country"), not a
        name ("Magna Carta", "the Beatles"). A first part that only copies the question becomes
        "What is <the description>?"."""
        obj = reply_object(text)
        if obj is None:
            return None
        first, then = (" ".join(str(obj.get(k) or "").split()) for k in ("first", "then"))
        described, hole = _replaced_span(then, question) if "#1" in then and then.endswith("?") else ([], [])
        if not _is_description(described):
            return None
        if first and not _copies(first, then):
            return first, then
        # the question copied: ask for what #1 stands for, when that is a noun phrase with an article
        # and the rest asks more than what #1 is ("Which planet is #1?" only renames the answer)
        if not _is_description(hole) or hole[0].lower() not in ("the", "a", "an"):
            return None
        if _renames(then):
            return None
        return f"What is {' '.join(hole)}?", then

    @staticmethod
    def substitute(then: str, found: str) -> str:
        return then.replace("#1", found.strip().rstrip("."))


@dataclass(frozen=True, slots=True)
class EchoCheck:
    """An answer that only repeats a name the question already states ("Nigeria" for "What is the
    capital of Nigeria?") is sent back, at most ``refusals`` times, with a note that the question asks
    for something else about it. A choice question ("… Peru or Chile?") is answered by one of the
    names it states, so it is never checked."""

    refusals: int = 1

    def echoes(self, question: str, answer: str) -> bool:
        key = " ".join(answer.lower().strip().rstrip(".").split())
        asked = " ".join(question.lower().split())
        if is_abstention(answer) or not key or re.search(r"\bor\b", asked):
            return False
        return re.search(rf"(?<!\w){re.escape(key)}(?!\w)", asked) is not None

    @staticmethod
    def nudge(answer: str) -> str:
        return (
            f'"{answer}" is already named in the question; the question asks for something else about it. '
            "Find that (search or browse if the tool responses do not state it), then answer with it."
        )


@dataclass(frozen=True, slots=True)
class Rails:
    """The rails a run uses; the defaults change nothing (a capable model's loop is the plain one)."""

    opening_search: OpeningSearch | None = None
    read_first: ReadFirst | None = None
    decompose: Decompose | None = None
    compare: Compare | None = None
    repeat: RepeatPolicy = field(default_factory=RepeatPolicy)
    short_answer: ShortAnswer | None = None
    echo: EchoCheck | None = None
    remind_question: bool = False
    """Repeat the question after each tool response: small models answer what they read last."""

    def reminder(self, question: str) -> str:
        return f"\nQuestion: {question}" if self.remind_question else ""


NO_RAILS = Rails()
SMALL_MODEL_RAILS = Rails(
    opening_search=OpeningSearch(),
    read_first=ReadFirst(),
    decompose=Decompose(),
    compare=Compare(),
    repeat=RepeatPolicy(on_repeat="answer"),
    short_answer=ShortAnswer(),
    echo=EchoCheck(),
    remind_question=True,
)


def rails_for(profile: ModelProfile) -> Rails:
    """The rails a model profile selects (``ModelProfile.rails``)."""
    return SMALL_MODEL_RAILS if profile.rails == "small-model" else NO_RAILS
