"""The ``thrifty`` command. Parses strings into typed configs and hands them to the library.

``main(argv) -> int`` returns an exit code so tests call it without subprocesses. The parser and
its checks live in :mod:`thrifty.cli.parser`; ``ask`` and ``chat`` in :mod:`thrifty.cli.run`;
``eval`` in :mod:`thrifty.cli.evaluate`; the small commands in :mod:`thrifty.cli.commands`.

Exit codes (also in ``thrifty --help`` and the README): 0 an answer (or a command that did its job),
1 an error (the model server failed, …), 2 bad input (a flag, a file, the config), 3 the budget ran
out without an answer, 4 the model stalled without an answer, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from thrifty.cli.parser import build_parser
from thrifty.errors import BackendError, ConfigError, ThriftyError
from thrifty.terminal import escape_controls

__all__ = ["EXIT_BAD_INPUT", "EXIT_ERROR", "EXIT_INTERRUPTED", "build_parser", "main"]

EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

_FROM_SETTINGS = ("base_url", "model", "api_key", "strategy", "tool_protocol", "temperature")
"""Flags whose default comes from the config file / environment (see thrifty.settings)."""


def _apply_settings(args: argparse.Namespace) -> None:
    """Fill flags the user did not give from the config file and ``THRIFTY_*`` variables."""
    from thrifty.settings import load_settings  # pydantic: after parsing, so --help does without it

    settings = load_settings(args.config)
    for name in _FROM_SETTINGS:
        if hasattr(args, name) and getattr(args, name) is None:
            setattr(args, name, getattr(settings, name))
    args.default_budget = settings.budget
    args.server_idle = settings.server_idle
    args.mcp_prices = settings.mcp_prices
    args.strategy_options = settings.strategy_options
    args.prices = settings.price_table()
    if hasattr(args, "no_trace") and not settings.trace and args.trace is None:
        args.no_trace = True


def _command(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    from thrifty.cli import commands, evaluate, run

    table: dict[str, Callable[[argparse.Namespace], int]] = {
        "ask": run.ask,
        "chat": run.chat,
        "eval": evaluate.evaluate,
        "view": commands.view,
        "advise": commands.advise,
        "serve": commands.serve,
        "web": commands.web,
        "tasks": commands.tasks,
        "index": commands.index,
    }
    return table[args.command]


def _fail(code: int, message: str) -> int:
    print(f"thrifty: error: {escape_controls(message)}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad flag (already reported in one line)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    """The chosen command, its failures mapped to exit codes. Apart from :func:`main` so the budget
    and the settings (pydantic) load only once a command runs, never for ``--help`` (issue 15.8)."""
    from thrifty.budget.limits import BudgetSpecError

    try:
        _apply_settings(args)
        return _command(args)(args)
    except BudgetSpecError as exc:
        return _fail(EXIT_BAD_INPUT, f"--budget: {exc}")
    except ConfigError as exc:
        return _fail(EXIT_BAD_INPUT, str(exc))
    except BackendError as exc:
        return _fail(EXIT_ERROR, f"model backend: {exc}")
    except ThriftyError as exc:
        return _fail(EXIT_ERROR, str(exc))
    except KeyboardInterrupt:
        print("thrifty: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
