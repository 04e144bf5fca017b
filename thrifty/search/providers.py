"""Real-web search providers behind one :class:`~thrifty.search.base.SearchBackend` protocol.

Thin httpx clients for the providers' REST APIs (no SDKs: they pull in heavy or network-hungry
dependencies), plus ``ddgs`` (no key) when that package is installed. Keys come from the
constructor or the usual environment variables.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from thrifty.errors import ConfigError
from thrifty.search.base import SearchResult
from thrifty.search.http import HttpJson, SearchError


def _key(value: str | None, env: str, provider: str) -> str:
    key = value or os.environ.get(env)
    if not key:
        raise ConfigError(env, f"{provider} needs an API key (pass api_key= or set {env})")
    return key


def _results(items: Any, url: str, title: str, snippet: str, source: str, k: int) -> list[SearchResult]:
    out = []
    for item in items or []:
        if isinstance(item, dict) and item.get(url):
            out.append(
                SearchResult(
                    url=str(item[url]),
                    title=str(item.get(title) or item[url]),
                    snippet=str(item.get(snippet) or ""),
                    source=source,
                )
            )
    return out[:k]


class SearxngSearch:
    """A SearXNG instance's JSON API (the instance must enable ``json`` in ``search.formats``)."""

    def __init__(self, base_url: str, *, http: HttpJson | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or HttpJson()

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        data = await self.http.request("GET", f"{self.base_url}/search", params={"q": query, "format": "json"})
        return _results(data.get("results"), "url", "title", "content", "searxng", k)


class TavilySearch:
    URL = "https://api.tavily.com/search"

    def __init__(self, api_key: str | None = None, *, http: HttpJson | None = None) -> None:
        self.api_key = _key(api_key, "TAVILY_API_KEY", "Tavily")
        self.http = http or HttpJson()

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        data = await self.http.request(
            "POST",
            self.URL,
            json={"query": query, "max_results": k},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        return _results(data.get("results"), "url", "title", "content", "tavily", k)


class BraveSearch:
    URL = "https://api.search.brave.com/res/v1/web/search"

    def __init__(self, api_key: str | None = None, *, http: HttpJson | None = None) -> None:
        self.api_key = _key(api_key, "BRAVE_API_KEY", "Brave")
        self.http = http or HttpJson(per_second=1.0)

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        data = await self.http.request(
            "GET",
            self.URL,
            params={"q": query, "count": min(k, 20)},
            headers={"X-Subscription-Token": self.api_key, "Accept": "application/json"},
        )
        return _results((data.get("web") or {}).get("results"), "url", "title", "description", "brave", k)


class ExaSearch:
    URL = "https://api.exa.ai/search"

    def __init__(self, api_key: str | None = None, *, http: HttpJson | None = None) -> None:
        self.api_key = _key(api_key, "EXA_API_KEY", "Exa")
        self.http = http or HttpJson()

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        body = {"query": query, "numResults": k, "contents": {"text": {"maxCharacters": 500}}}
        data = await self.http.request("POST", self.URL, json=body, headers={"x-api-key": self.api_key})
        return _results(data.get("results"), "url", "title", "text", "exa", k)


class SerpApiSearch:
    URL = "https://serpapi.com/search.json"

    def __init__(self, api_key: str | None = None, *, engine: str = "google", http: HttpJson | None = None) -> None:
        self.api_key = _key(api_key, "SERPAPI_API_KEY", "SerpAPI")
        self.engine = engine
        self.http = http or HttpJson()

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        params = {"engine": self.engine, "q": query, "num": k, "api_key": self.api_key}
        data = await self.http.request("GET", self.URL, params=params)
        return _results(data.get("organic_results"), "link", "title", "snippet", "serpapi", k)


class DdgsSearch:
    """DuckDuckGo and friends through the ``ddgs`` package (no key; scraping, so flaky: retried)."""

    def __init__(self, *, backend: str = "auto", retries: int = 2) -> None:
        try:
            from ddgs import DDGS  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError("provider", "ddgs is not installed (pip install ddgs)") from None
        self._ddgs = DDGS
        self.backend = backend
        self.retries = retries

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        for attempt in range(self.retries + 1):
            try:
                items = await asyncio.to_thread(lambda: self._ddgs().text(query, max_results=k, backend=self.backend))
                return _results(items, "href", "title", "body", "ddgs", k)
            except Exception as exc:
                if attempt == self.retries:
                    raise SearchError(f"ddgs failed: {exc}") from exc
                await asyncio.sleep(1.0 * 2**attempt)
        return []
