"""The BATS search agent's two tools: batched ``search`` and goal-directed ``browse``.

Budget units follow BATS: each query string in ``search`` and each URL in ``browse`` is one unit,
charged at dispatch whatever the outcome (an unknown URL still costs its unit). Browse returns the
page's passages that best match the goal, verbatim (the default), or a summary written by the LLM
through the *charged* model-call path, so its tokens land in the ledger. Fetched page text is data:
it is delimited and labelled as such in the summary prompt.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Annotated, Literal

from pydantic import Field

from thrifty.backends.base import ChatRequest, Message
from thrifty.budget import BudgetExceeded
from thrifty.errors import BackendError
from thrifty.search.base import PageFetcher, SearchBackend, SearchResult
from thrifty.search.ranking import extract_passages
from thrifty.tools.base import ToolContext, ToolResult
from thrifty.tools.typed import Batch, TypedTool

Queries = Annotated[
    Batch, Field(description="Array of query strings. Include multiple complementary search queries in a single call.")
]
Urls = Annotated[
    Batch, Field(description="The URL(s) of the webpage(s) to visit. Can be a single URL or an array of URLs.")
]
Goal = Annotated[str, Field(description="The specific information goal for browsing webpage(s).")]


def format_results(query: str, results: list[SearchResult], snippet_chars: int, *, top_chars: int = 0) -> str:
    if not results:
        return f'No results for "{query}".'
    lines = [f'Results for "{query}":']
    for i, r in enumerate(results, 1):
        snippet = " ".join(r.snippet.split())[: max(snippet_chars, top_chars) if i == 1 else snippet_chars]
        lines.append(f"{i}. {r.title} — {r.url}\n   {snippet}")
    return "\n".join(lines)


def relevant(results: list[SearchResult], min_relative_score: float) -> list[SearchResult]:
    """The results scoring at least ``min_relative_score`` of the best one (all of them when unscored)."""
    scores = [r.score for r in results if r.score is not None]
    if len(scores) != len(results) or not scores or max(scores) <= 0:
        return results
    floor = max(scores) * min_relative_score
    return [r for r in results if r.score is not None and r.score >= floor]


class SearchTool(TypedTool):
    """``search(query: list[str])``: top-k results per query string, all queries run concurrently."""

    def __init__(
        self,
        backend: SearchBackend,
        *,
        k: int = 5,
        snippet_chars: int = 360,
        min_relative_score: float = 0.35,
        top_chars: int = 1000,
    ) -> None:
        self.backend = backend
        self.k = k
        self.snippet_chars = snippet_chars
        self.top_chars = top_chars
        """The top result shows this many characters of the page's best passages (when the engine can
        also fetch pages, as the offline web can): on the quality benchmark a 360-character snippet
        missed answers that pasting the top pages found (single-hop 0.62 vs 0.88)."""
        self.min_relative_score = min_relative_score
        """Results scoring below this share of the top result's score are not shown (when the engine
        scores): off-topic results distract small models (traces: one browsed the last, unrelated hit).
        Set for the offline index's fused scores, where the named entity's section can score 3× a
        page BM25 alone ranks well: at 0.5, "Apple or Amazon?" lost Apple Inc. from view."""
        super().__init__(
            self.search,
            name="search",
            description=(
                "Performs batched web searches: supply an array 'query'; the tool retrieves the top "
                f"{k} results for each query in one call. Each string is a complete search query, "
                'e.g. ["capital of Australia", "Canberra history"].'
            ),
            batch="query",
        )

    async def search(self, query: Queries) -> ToolResult:
        """Run every query string concurrently; one failing query (provider down) never hides the others."""
        batches = await asyncio.gather(*(self.backend.search(q, k=self.k) for q in query), return_exceptions=True)
        parts = []
        for q, r in zip(query, batches, strict=True):
            if isinstance(r, BaseException):
                if not isinstance(r, Exception):
                    raise r
                parts.append(f'Search for "{q}" failed: {r}')
            else:
                shown = await self._expand_top(q, relevant(r, self.min_relative_score))
                parts.append(format_results(q, shown, self.snippet_chars, top_chars=self.top_chars))
        return ToolResult("\n\n".join(parts), is_error=all(isinstance(r, BaseException) for r in batches))

    async def _expand_top(self, query: str, results: list[SearchResult]) -> list[SearchResult]:
        """The top result with the passages of its page that best match the query (no extra unit: it is
        how the result is shown, like a search engine's rich snippet for its first hit)."""
        if not results or self.top_chars <= self.snippet_chars or not isinstance(self.backend, PageFetcher):
            return results
        page = await self.backend.fetch(results[0].url)
        if page is None:
            return results
        wide = extract_passages(page.text, query, title=page.title, max_chars=self.top_chars)
        return [replace(results[0], snippet=wide), *results[1:]]


class BrowseTool(TypedTool):
    """``browse(url: list[str], goal: str)``: fetch each page and return a goal-directed summary."""

    def __init__(
        self,
        fetcher: PageFetcher,
        *,
        mode: Literal["extract", "summarize", "raw"] = "extract",
        max_page_chars: int = 6000,
        summary_max_tokens: int = 256,
        extract_chars: int = 1200,
    ) -> None:
        self.fetcher = fetcher
        self.mode = mode
        """extract: the page's passages that best match the goal, verbatim (no model call: nothing can
        be invented, and it beat model-written summaries on the quality benchmark); summarize: a
        goal-directed summary written by the model (BATS); raw: the page text as is."""
        self.max_page_chars = max_page_chars
        """Page text is truncated to this many characters before summarising (BATS: 150k; small models need less)."""
        self.summary_max_tokens = summary_max_tokens
        self.extract_chars = extract_chars
        super().__init__(
            self.browse,
            name="browse",
            description="Visit webpage(s) and return the summary of the content.",
            batch="url",
        )

    async def _one(self, url: str, goal: str, ctx: ToolContext) -> str:
        try:
            page = await self.fetcher.fetch(url)
        except Exception as exc:  # network and extraction failures are the model's to route around
            return f"[{url}] Error: could not fetch the page: {exc}"
        if page is None:
            return f"[{url}] Error: page not found (404). Use a URL from the search results."
        # A page must not be able to close the data block and speak as the prompt.
        if self.mode == "extract":
            passages = extract_passages(page.text, goal, title=page.title, max_chars=self.extract_chars)
            return f"[{url}] {page.title}\n{passages}"
        text = re.sub(r"(?i)</?\s*page", "[page]", page.text[: self.max_page_chars])
        if self.mode == "raw":
            return f"[{url}] {page.title}\n{text}"
        prompt = ctx.render("browse_summary", url=page.url, title=page.title, goal=goal, page=text)
        request = ChatRequest(messages=(Message("user", prompt),), max_tokens=self.summary_max_tokens, temperature=0.0)
        try:
            completion = await ctx.complete(request)
            summary = completion.text.strip()
        except (BudgetExceeded, BackendError):
            # No budget (or no model) for a summary: hand back the start of the page instead.
            summary = "(summary unavailable; page excerpt follows)\n" + text[:1500]
        return f"[{url}] {page.title}\n{summary}"

    async def browse(self, url: Urls, goal: Goal, ctx: ToolContext) -> ToolResult:
        """Fetch each page concurrently and return what it says about ``goal``."""
        goal = goal.strip()
        if goal.lower() in ("", "none", "null", "n/a"):  # small models fill the field with placeholders
            goal = "Summarise the key facts on the page."
        parts = await asyncio.gather(*(self._one(u, goal, ctx) for u in url))
        return ToolResult("\n\n".join(parts), is_error=all("Error:" in p.split("\n", 1)[0] for p in parts))
