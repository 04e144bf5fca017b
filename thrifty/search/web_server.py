"""``thrifty web serve``: the offline corpus over loopback HTTP, so the real-web path (HTTP fetch,
HTML extraction, SSRF allow-listing, a SearXNG-compatible search API) is testable end to end offline.

Pages are served at ``/<host>/<path>`` of their canonical URL (``https://en.wikipedia.org/wiki/Paris``
→ ``http://127.0.0.1:PORT/en.wikipedia.org/wiki/Paris``) as HTML with navigation chrome around the
article, like a real site. ``/search?q=…&format=json`` answers in SearXNG's JSON shape.
"""

from __future__ import annotations

import html
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

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


class CorpusWebServer:
    """Threaded loopback server over a :class:`CorpusIndex`."""

    def __init__(self, index: CorpusIndex, host: str = "127.0.0.1", port: int = 0) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: str, kind: str = "text/html; charset=utf-8") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/":
                    self._send(200, HOME_PAGE)
                    return
                if parts.path == "/search":
                    query = parse_qs(parts.query).get("q", [""])[0]
                    results = [
                        {
                            "url": local_url(server.base_url, r.url),
                            "title": r.title,
                            "content": r.snippet,
                            "engine": "thrifty",
                        }
                        for r in index.search_sync(query, k=10)
                    ]
                    self._send(200, json.dumps({"query": query, "results": results}), "application/json")
                    return
                page = index.fetch_sync(canonical_url(parts.path))
                if page is None:
                    self._send(404, "<html><body><h1>Not found</h1></body></html>")
                else:
                    self._send(200, render_page(page.title, page.text))

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> CorpusWebServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> CorpusWebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
