"""Argument types and the parser class of the ``thrifty`` command.

Every value a user types is checked here, at parse time, so a mistake ends in one line naming the
flag (``thrifty eval: error: argument --concurrency: must be at least 1, got '0'``) and exit code 2,
before any model server starts. Numbers are ASCII only: Python's ``int()`` would read ``١٢٣٤`` as 1234.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from thrifty.terminal import escape_controls

_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an ASCII integer within bounds."""

    def parse(text: str) -> int:
        if not _INT.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
        value = int(text)
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text!r}")
        return value

    return parse


def integer_list(text: str) -> list[int]:
    """An argparse type: comma-separated ASCII integers >= 0 (``3,10,30``)."""
    parse = integer(0)
    values = [parse(part.strip()) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    return values


def temperature(text: str) -> float:
    """An argparse type: a sampling temperature, a finite ASCII number in [0, 2]."""
    if not _FLOAT.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 2, got {text!r}")
    value = float(text)
    if not (math.isfinite(value) and 0.0 <= value <= 2.0):
        raise argparse.ArgumentTypeError(f"must be between 0 and 2, got {text!r}")
    return value


def existing_path(text: str) -> Path:
    """An argparse type: a file or folder that exists."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return path


def existing_file(text: str) -> Path:
    path = existing_path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {text}")
    return path


def output_file(text: str) -> Path:
    """An argparse type: a file to write, in a folder that already exists (thrifty creates no folders
    outside the path it was given)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"is a folder, expected a file: {text}")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder does not exist: {path.parent}")
    return path


def output_dir(text: str) -> Path:
    """An argparse type: a folder to write into; it may be created, but only inside an existing one."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a folder: {text}")
    if not path.exists() and not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder does not exist: {path.parent}")
    return path


class HelpFormatter(argparse.HelpFormatter):
    """Shows each flag's default, unless its help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default in (argparse.SUPPRESS, [], "")
        if "default" in text or unset or not action.option_strings:
            return text
        shown = default if not isinstance(default, Path) else str(default)
        return f"{text} (default: {shown})".strip()


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and did-you-mean suggestions (Python 3.11 has no suggest_on_error)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {escape_controls(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(c) for c in action.choices]
            hint = _suggest(str(value), choices)
            message = f"invalid choice {value!r}{hint} (choose from {', '.join(choices)})"
            raise argparse.ArgumentError(action, message)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = _chosen(self, parsed)
            first = next((e for e in extras if e.startswith("-")), extras[0])
            known = [o for a in parser._actions for o in a.option_strings]
            parser.error(f"unrecognized argument {first!r}{_suggest(first.split('=')[0], known)}")
        return parsed


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand parser the user picked (its flags are the ones to suggest from)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest or "", None)
            if name in action.choices:
                return _chosen(action.choices[name], args)
    return parser
