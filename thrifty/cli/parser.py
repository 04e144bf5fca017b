"""The ``thrifty`` command line: every subcommand, flag, default and check in one place.

It imports only what it shows: the defaults and the strategy names come from the modules below the
agents (:mod:`thrifty.defaults`, :mod:`thrifty.strategy_names`), so ``thrifty --help`` and a mistyped
flag load neither the agent stack nor pydantic, rich or asyncio (under 0.15 s, issue 15.8; a unit test
in ``tests/unit/test_public_api.py`` holds it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from thrifty import __version__
from thrifty.cli.args import (
    Parser,
    existing_file,
    existing_path,
    integer,
    integer_list,
    output_dir,
    output_file,
    temperature,
)
from thrifty.defaults import DEFAULT_BUDGET, STEP_MAX_TOKENS
from thrifty.strategy_names import strategy_names

THINK = ["none", "low", "medium", "high", "auto"]
BUDGET_HELP = (
    f"limits added to the default budget {DEFAULT_BUDGET!r} (or the config file's), e.g. search=3,tokens=20k; "
    "KEY=none lifts a limit. Keys: requests, tokens, input, output, usd, seconds and the tools' names"
)
MCP_HELP = (
    "an MCP server whose tools the agent may use: a command line (stdio), e.g. "
    "'npx -y @modelcontextprotocol/server-filesystem /tmp', or an http(s):// URL (streamable HTTP); "
    "repeatable. Each tool is budgeted by its name (--budget read_file=3) and priced per call by the "
    "settings' mcp_prices"
)


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options valid before or after the subcommand (``thrifty --config F ask …`` = ``thrifty ask … --config F``)."""
    parser.add_argument(
        "--config",
        type=existing_file,
        default=None if top else argparse.SUPPRESS,
        help="settings file (default: $THRIFTY_CONFIG, else ~/.config/thrifty/config.toml when it exists)",
    )


def _add_mcp_option(parser: argparse.ArgumentParser) -> None:
    """``--mcp``; the servers are connected by :func:`thrifty.cli.mcp.offer_mcp_tools`."""
    parser.add_argument("--mcp", action="append", default=[], metavar="SERVER", help=MCP_HELP)


def _add_backend_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend (default: the embedded CPU model)")
    g.add_argument(
        "--base-url", help="an OpenAI-compatible server, e.g. http://localhost:8000/v1 (default: $THRIFTY_BASE_URL)"
    )
    g.add_argument(
        "--model",
        help="served model name (default: the server's first model); without --base-url, the embedded model "
        "to run: qwen2.5-coder-1.5b-instruct (default) or qwen2.5-coder-0.5b-instruct (short: 1.5b, 0.5b)",
    )
    g.add_argument("--api-key", help="API key for --base-url (default: $OPENAI_API_KEY)")
    g.add_argument("--vllm", metavar="MODEL", help="spawn `vllm serve MODEL` (needs thrifty[vllm])")
    g.add_argument("--vllm-arg", action="append", default=[], help="extra argument for vllm serve (repeatable)")
    g.add_argument(
        "--tool-protocol",
        choices=["native", "text", "json"],
        help="how tool calls travel (default: from the model profile; the embedded model uses json)",
    )
    g.add_argument(
        "--session-header",
        metavar="NAME",
        default="X-Session-ID",
        help="header carrying each run's session id, for routers that keep a run on one replica's prefix "
        "cache (default: X-Session-ID; '' sends none)",
    )


def _add_agent_args(p: argparse.ArgumentParser, *, what: str) -> None:
    p.add_argument("--budget", help=BUDGET_HELP if what == "ask" else f"per-turn {BUDGET_HELP} (change with /budget)")
    p.add_argument(
        "--strategy",
        metavar="NAME",
        help=f"default: tracker (or the config file's); one of {', '.join(strategy_names())}; "
        "pf, epf, best-of-n and self-consistency take a count, e.g. epf:8",
    )
    p.add_argument(
        "--think",
        choices=THINK,
        help="thinking dial, mapped to the model family's mechanism (auto: chosen per question; "
        "default: the model's own)",
    )
    p.add_argument("--no-tools", action="store_true", help="answer from the model alone")
    _add_mcp_option(p)
    p.add_argument(
        "--index", type=existing_file, help="offline web index (default: the built-in corpus, built on first use)"
    )
    p.add_argument("--temperature", type=temperature, help="0 to 2 (default: 0, or the config file's)")
    _add_backend_args(p)


def _ask(sub: argparse._SubParsersAction[Parser]) -> None:
    ask = sub.add_parser("ask", help="answer one question with tools, within a budget")
    ask.add_argument("question", help="the question to answer (quote it)")
    _add_agent_args(ask, what="ask")
    ask.add_argument("--json", action="store_true", help="print the result as JSON (no live view)")
    ask.add_argument("--seed", type=integer(), default=0, help="sampling seed")
    ask.add_argument("--max-step-tokens", type=integer(1), default=STEP_MAX_TOKENS, help="output tokens per model step")
    ask.add_argument("--thoughts", action="store_true", help="show the model's text in the live view")
    ask.add_argument(
        "--trace", type=output_file, help="write the run's JSONL trace here (default: a new file in the cache)"
    )
    ask.add_argument("--no-trace", action="store_true", help="write no trace")
    ask.add_argument("--cache", type=output_file, help="record/replay cache of model and tool calls (SQLite file)")
    ask.add_argument(
        "--cache-mode",
        choices=["auto", "record", "replay"],
        default="auto",
        help="replay: every call must come from the cache (exact offline re-run)",
    )
    _global_options(ask, top=False)


def _chat(sub: argparse._SubParsersAction[Parser]) -> None:
    chat = sub.add_parser("chat", help="interactive agent: history, live budget, slash commands (/help)")
    _add_agent_args(chat, what="chat")
    chat.add_argument(
        "--trace", type=output_file, help="write the session's JSONL trace here (default: a new file in the cache)"
    )
    chat.add_argument("--no-trace", action="store_true", help="write no trace")
    _global_options(chat, top=False)


def _eval(sub: argparse._SubParsersAction[Parser]) -> None:
    ev = sub.add_parser("eval", help="batch evaluation: strategies x budgets over a task file")
    ev.add_argument(
        "tasks", type=existing_path, help="tasks: thrifty JSONL, a GAIA folder, a BrowseComp or SimpleQA CSV"
    )
    ev.add_argument("--format", choices=["jsonl", "gaia", "browsecomp", "simpleqa"], help="default: from the path")
    ev.add_argument("--strategies", default="react,tracker", help="comma-separated strategy names")
    ev.add_argument(
        "--budgets", type=integer_list, default="3,10", help="tool units per tool (search and browse), comma-separated"
    )
    ev.add_argument("--extra-budget", default="", help="limits added to every condition, e.g. tokens=30000")
    ev.add_argument(
        "--log",
        type=output_file,
        default=Path("eval-log.jsonl"),
        help="append-only log; rerun the same command to resume (default: eval-log.jsonl in the current folder)",
    )
    ev.add_argument(
        "--report-dir",
        type=output_dir,
        help="write report.md, report.html (the page `thrifty view LOG` shows) and the charts as SVG there",
    )
    ev.add_argument("--limit", type=integer(1), help="only the first N tasks (default: all)")
    ev.add_argument("--concurrency", type=integer(1), default=2, help="samples run at once")
    ev.add_argument(
        "--no-trace",
        action="store_true",
        help="write no per-sample traces (LOG.traces/): about a third less client CPU per model call at "
        "hundreds of calls/s; the log and report are unchanged",
    )
    ev.add_argument("--index", type=existing_file, help="offline web index (default: the built-in corpus)")
    _add_mcp_option(ev)
    ev.add_argument("--temperature", type=temperature, help="0 to 2 (default: 0, or the config file's)")
    ev.add_argument("--seed", type=integer(), default=0, help="sampling seed")
    ev.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="URL",
        help="an OpenAI-compatible server serving --model; repeat to share the load over several "
        "(each sample goes to the least busy one)",
    )
    ev.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the samples on a Ray cluster (auto, or HOST:PORT of its head; needs thrifty[ray]): one worker "
        "per --endpoint, --concurrency samples in flight in all; this process alone writes the log",
    )
    _add_backend_args(ev)
    _global_options(ev, top=False)


def _tasks_command(sub: argparse._SubParsersAction[Parser]) -> None:
    """``thrifty tasks generate``: the offline task sets and their difficulty knobs."""
    tasks = sub.add_parser("tasks", help="offline task sets")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True, metavar="{generate}")
    gen = tasks_sub.add_parser("generate", help="synthesize verifiable questions over the offline corpus")
    gen.add_argument("--n", type=integer(1), default=300, help="how many tasks")
    gen.add_argument("--seed", type=integer(), default=0, help="generator seed")
    gen.add_argument("-o", "--output", type=output_file, required=True, help="the JSONL file to write")
    gen.add_argument(
        "--kind",
        choices=["web", "math"],
        default="web",
        help="web: multi-hop questions over the offline corpus; math: multi-step word problems",
    )
    gen.add_argument("--operations", type=integer(1, 8), help="math: operations per problem (default: 2-5 at random)")
    gen.add_argument("--distractors", type=integer(0, 6), help="math: irrelevant numeric sentences per problem")
    gen.add_argument("--hops", type=integer(1, 3), help="web: every question this many hops deep (chain + comparison)")
    _global_options(gen, top=False)


def _view(sub: argparse._SubParsersAction[Parser]) -> None:
    view = sub.add_parser(
        "view", help="a run trace or an eval log as one page (served on loopback, or --html FILE); two side by side"
    )
    view.add_argument(
        "files",
        nargs="+",
        type=existing_file,
        metavar="FILE",
        help="a JSONL trace (ask, chat, eval) or an eval log; give two to compare them side by side",
    )
    view.add_argument("--html", "--out", type=output_file, help="write the page to this file instead of serving it")
    view.add_argument("--port", type=integer(0, 65535), default=8770, help="port on 127.0.0.1 (0: any free one)")
    view.add_argument("--tree", action="store_true", help="print a trace as a tree in the terminal instead")
    _global_options(view, top=False)


def _small_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    _view(sub)

    advise = sub.add_parser(
        "advise", help="from an eval log: the strategy with the best accuracy per dollar per budget"
    )
    advise.add_argument("log", type=existing_file, help="a JSONL log written by thrifty eval")
    advise.add_argument("--run", action="append", metavar="RUN", help="only these run ids (repeatable)")
    _global_options(advise, top=False)

    serve = sub.add_parser("serve", help="run the embedded model server until Ctrl-C")
    serve.add_argument("--port", type=integer(1, 65535), default=8090, help="port on 127.0.0.1")
    serve.add_argument("--context", type=integer(256), default=32768, help="context tokens shared by the slots")
    serve.add_argument("--parallel", type=integer(1), default=4, help="concurrent request slots")
    serve.add_argument("--model", help="embedded model: qwen2.5-coder-1.5b-instruct (default) or 0.5b")
    _global_options(serve, top=False)

    _tasks_command(sub)

    web = sub.add_parser("web", help="the offline web over loopback HTTP")
    web_sub = web.add_subparsers(dest="web_command", required=True, metavar="{serve}")
    web_serve = web_sub.add_parser("serve", help="serve corpus pages as HTML (+ SearXNG-style /search)")
    web_serve.add_argument("--port", type=integer(1, 65535), default=8765, help="port on 127.0.0.1")
    web_serve.add_argument("--index", type=existing_file, help="index file (default: the built-in corpus)")
    _global_options(web_serve, top=False)

    index = sub.add_parser("index", help="offline web index")
    index_sub = index.add_subparsers(dest="index_command", required=True, metavar="{build,search}")
    build = index_sub.add_parser("build", help="build the default corpus index (or one from your files)")
    build.add_argument("--path", type=output_file, help="where to write the index (default: the user cache)")
    source = build.add_mutually_exclusive_group()
    source.add_argument("--jsonl", type=existing_file, help="a JSONL corpus of {url, title, text} objects")
    source.add_argument("--folder", type=existing_path, help="a folder of .md/.txt/.html files")
    build.add_argument(
        "--backend",
        choices=("auto", "fts5", "tantivy"),
        default="auto",
        help="search backend, recorded in the index (auto: tantivy from 50k pages when installed, else fts5)",
    )
    _global_options(build, top=False)
    search = index_sub.add_parser("search", help="search an index as the agents do (whatever its backend)")
    search.add_argument("query", help="what to search for")
    search.add_argument("--index", type=existing_file, help="index file (default: the built-in corpus)")
    search.add_argument("-k", type=integer(1, 100), default=5, help="how many results")
    _global_options(search, top=False)


def build_parser() -> Parser:
    parser = Parser(
        prog="thrifty",
        description="Budget-aware LLM agents.",
        epilog="exit codes: 0 answered (or done), 1 error, 2 bad input, 3 budget exhausted without "
        "an answer, 4 stalled without an answer, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"thrifty {__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _ask(sub)
    _chat(sub)
    _small_commands(sub)
    _eval(sub)
    return parser
