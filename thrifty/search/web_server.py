"""``thrifty web serve``: the offline corpus over loopback HTTP, so the real-web path (HTTP fetch,
HTML extraction, SSRF allow-listing, a SearXNG-compatible search API) is testable end to end offline.

Pages are served at ``/<host>/<path>`` of their canonical URL (``https://en.wikipedia.org/wiki/Paris``
→ ``http://127.0.0.1:PORT/en.wikipedia.org/wiki/Paris``) as HTML with navigation chrome around the
article, like a real site. ``/search?q=…&format=json`` answers in SearXNG's JSON shape.
"""

from __future__ import annotations

import html
from urllib.parse import quote, unquote, urlsplit

from thrifty.loopback import LoopbackServer, Reply, Request, json_reply
from thrifty.search.index import CorpusIndex


def local_url(base: str, canonical: str) -> str:
    parts = urlsplit(canonical)
    return f"{base}/{parts.netloc}{quote(unquote(parts.path), safe='/()_,!-.:')}"


def canonical_url(path: str) -> str:
    host, _, rest = path.lstrip("/").partition("/")
    return f"https://{host}/{unquote(rest)}"


def render_page(title: str, text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in text.split("\n") if p.strip())
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}</style><script>var tracking = 1;</script></head><body>"
        "<header><nav><a href='/'>Home</a> | <a href='/random'>Random page</a> | Log in</nav></header>"
        f"<main><article><h1>{html.escape(title)}</h1>\n{paragraphs}</article></main>"
        "<footer>Text is available under the Creative Commons Attribution-ShareAlike License.</footer>"
        "</body></html>"
    )


HOME_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>thrifty offline web</title></head><body>"
    "<h1>thrifty offline web</h1><p>Pages live at <code>/&lt;host&gt;/&lt;path&gt;</code> of their URL, e.g. "
    "<a href='/en.wikipedia.org/wiki/Paris'>/en.wikipedia.org/wiki/Paris</a>.</p>"
    "<form action='/search'><input name='q' placeholder='search (JSON results)'> <button>search</button></form>"
    "</body></html>"
)


class CorpusWebServer(LoopbackServer):
    """The offline web as a loopback app (:class:`~thrifty.loopback.LoopbackServer`, threaded)."""

    def __init__(self, index: CorpusIndex, host: str = "127.0.0.1", port: int = 0) -> None:
        self.index = index
        super().__init__(self.handle, host, port)

    @property
    def base_url(self) -> str:
        return self.origin

    def handle(self, request: Request) -> Reply:
        if request.path == "/":
            return Reply(200, HOME_PAGE.encode(), HTML)
        if request.path == "/search":
            query = request.query.get("q", [""])[0]
            results = [
                {"url": local_url(self.base_url, r.url), "title": r.title, "content": r.snippet, "engine": "thrifty"}
                for r in self.index.search_sync(query, k=10)
            ]
            return json_reply({"query": query, "results": results})
        page = self.index.fetch_sync(canonical_url(request.path))
        if page is None:
            return Reply(404, b"<html><body><h1>Not found</h1></body></html>", HTML)
        return Reply(200, render_page(page.title, page.text).encode(), HTML)

    def __enter__(self) -> CorpusWebServer:
        self.start()
        return self


HTML = "text/html; charset=utf-8"
