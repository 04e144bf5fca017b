"""A tiny MCP server for trying ``--mcp``: ``thrifty ask "What is 17 * 23?" --mcp "python examples/mcp_server.py"``.

Run by the client over stdio (the default), or serve it over streamable HTTP with
``python examples/mcp_server.py http 8000`` and pass ``--mcp http://127.0.0.1:8000/mcp``.
Needs ``pip install "thrifty[mcp]"``.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("example")

CAPITALS = {"chile": "Santiago", "peru": "Lima", "france": "Paris", "japan": "Tokyo", "kenya": "Nairobi"}


@server.tool()
def multiply(a: float, b: float) -> float:
    """Multiply two numbers exactly."""
    return a * b


@server.tool()
def capital(country: str) -> str:
    """The capital city of a country."""
    return CAPITALS.get(country.strip().lower(), f"unknown country: {country}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
