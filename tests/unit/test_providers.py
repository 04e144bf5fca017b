"""Search providers against httpx.MockTransport with recorded payloads; never the live APIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from thrifty.errors import ConfigError
from thrifty.search.cached import CachedSearch
from thrifty.search.http import HttpJson, SearchError
from thrifty.search.providers import BraveSearch, ExaSearch, SearxngSearch, SerpApiSearch, TavilySearch
from thrifty.tools.base import ToolContext
from thrifty.tools.web import SearchTool

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers"


def recorded(name: str, seen: list[httpx.Request]) -> HttpJson:
    payload = json.loads((FIXTURES / f"{name}.json").read_text())

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=payload)

    return HttpJson(client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))


@pytest.mark.parametrize(
    ("name", "make", "check"),
    [
        (
            "searxng",
            lambda h: SearxngSearch("https://searx.example", http=h),
            lambda r: r.url.params["format"] == "json" and r.url.path == "/search",
        ),
        (
            "tavily",
            lambda h: TavilySearch("tv-key", http=h),
            lambda r: r.headers["authorization"] == "Bearer tv-key" and json.loads(r.content)["max_results"] == 5,
        ),
        ("brave", lambda h: BraveSearch("br-key", http=h), lambda r: r.headers["x-subscription-token"] == "br-key"),
        ("exa", lambda h: ExaSearch("exa-key", http=h), lambda r: r.headers["x-api-key"] == "exa-key"),
        ("serpapi", lambda h: SerpApiSearch("sp-key", http=h), lambda r: r.url.params["api_key"] == "sp-key"),
    ],
)
async def test_provider_maps_its_payload(name: str, make: Any, check: Any) -> None:
    seen: list[httpx.Request] = []
    provider = make(recorded(name, seen))
    results = await provider.search("capital of peru", k=5)
    assert results[0].url == "https://en.wikipedia.org/wiki/Lima"
    assert "capital" in results[0].snippet
    assert results[0].source == name
    assert check(seen[0])


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        TavilySearch()
    assert info.value.field == "TAVILY_API_KEY"


async def test_retries_transient_errors_with_backoff() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(
                503 if len(calls) == 1 else 429, headers={"retry-after": "2"} if len(calls) == 2 else {}
            )
        return httpx.Response(200, json={"results": [{"url": "https://a.example", "title": "A", "content": "a"}]})

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    http = HttpJson(client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), sleep=fake_sleep)
    results = await SearxngSearch("https://s.example", http=http).search("q")
    assert [r.url for r in results] == ["https://a.example"]
    assert len(calls) == 3 and len(sleeps) == 2
    assert sleeps[1] == 2.0  # Retry-After is honoured


async def test_gives_up_after_retries_and_client_errors_are_not_retried() -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    down = HttpJson(
        client=httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(502))),
        retries=2,
        sleep=no_sleep,
    )
    with pytest.raises(SearchError, match="502"):
        await SearxngSearch("https://s.example", http=down).search("q")
    calls: list[int] = []

    def forbidden(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401, text="bad key")

    http = HttpJson(client=httpx.AsyncClient(transport=httpx.MockTransport(forbidden)), sleep=no_sleep)
    with pytest.raises(SearchError, match="401"):
        await SearxngSearch("https://s.example", http=http).search("q")
    assert len(calls) == 1


async def test_search_tool_reports_a_provider_outage_per_query() -> None:
    class Flaky:
        async def search(self, query: str, *, k: int = 10) -> list:
            if query == "bad":
                raise SearchError("provider down")
            return []

    async def no_model(request: object) -> object:
        raise AssertionError("search needs no model")

    result = await SearchTool(Flaky()).run({"query": ["good", "bad"]}, ToolContext(complete=no_model))  # type: ignore[arg-type]
    assert 'No results for "good"' in result.content
    assert 'Search for "bad" failed: provider down' in result.content
    assert not result.is_error


async def test_disk_cache_replays_results(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    cached = CachedSearch(SearxngSearch("https://s.example", http=recorded("searxng", seen)), tmp_path / "cache.sqlite")
    first = await cached.search("capital of peru", k=3)
    second = await cached.search("capital  of peru", k=3)  # whitespace-normalised key
    assert first == second and len(seen) == 1
    assert (cached.hits, cached.misses) == (1, 1)
    reopened = CachedSearch(
        SearxngSearch("https://s.example", http=recorded("searxng", seen)), tmp_path / "cache.sqlite"
    )
    assert await reopened.search("capital of peru", k=3) == first and len(seen) == 1
