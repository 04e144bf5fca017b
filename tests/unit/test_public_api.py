"""The curated public API, pinned; and imports that must stay lazy."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import thrifty

EXPECTED = [
    "Agent",
    "Backend",
    "BackendConfig",
    "BackendError",
    "BudgetCharged",
    "BudgetExceeded",
    "BudgetView",
    "ChatRequest",
    "Completion",
    "ConfigError",
    "Event",
    "FunctionTool",
    "Ledger",
    "LimitKind",
    "Limits",
    "LoopConfig",
    "Message",
    "ModelCalled",
    "OpenAICompatBackend",
    "PriceTable",
    "RunContext",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "ScriptedBackend",
    "StepStarted",
    "StopReason",
    "Strategy",
    "ThriftyError",
    "Tool",
    "ToolCall",
    "ToolCalled",
    "ToolError",
    "ToolResult",
    "ToolSpec",
    "Toolset",
    "TypedTool",
    "TrajectoryStep",
    "Usage",
    "get_strategy",
    "open_backend",
    "open_backend_sync",
    "parse_budget_spec",
    "tool",
]


def test_all_is_pinned_and_importable() -> None:
    assert sorted(thrifty.__all__) == sorted(EXPECTED)
    for name in thrifty.__all__:
        assert getattr(thrifty, name) is not None


def test_importing_thrifty_pulls_in_no_heavy_or_optional_modules() -> None:
    # httpx imports rich for its own command line whenever click is installed (the mcp extra brings
    # it): what counts is what importing thrifty adds to what its dependencies already load.
    code = (
        "import sys, httpx, openai; before = set(sys.modules); import thrifty; "
        "print(sorted(m for m in ('vllm', 'rich', 'matplotlib', 'tantivy', 'langgraph', 'mcp', 'opentelemetry') "
        "if m in sys.modules and m not in before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_the_budget_package_is_a_leaf() -> None:
    root = Path(thrifty.__file__).parent / "budget"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("thrifty.") or name.startswith("thrifty.budget"), (path.name, name)


HELP_MUST_NOT_LOAD = (
    "openai",
    "httpx",
    "httpx2",
    "thrifty.agents",
    "thrifty.backends",
    "thrifty.budget",
    "thrifty.settings",
    "thrifty.display",
    "pydantic",
    "rich",
    "asyncio",
)
"""What ``thrifty --help`` must not import: the openai client (~0.3 s) and httpx load only when a
backend is opened, the agent stack, pydantic (the settings), rich and asyncio only when a command runs."""


def test_cli_help_imports_neither_the_client_nor_the_agent_stack() -> None:
    # `thrifty --help` must start fast (under 0.15 s, issue 15.8; benchmarks/RESULTS.md, "The client's
    # hot path"): it took 0.32 s CPU while `import thrifty` loaded the agents, backends and budget.
    code = (
        "import sys\nfrom thrifty.cli import main\ncode = main(['--help'])\n"
        f"heavy = {HELP_MUST_NOT_LOAD!r}\n"
        "print(code, sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 []"


def test_every_public_name_resolves_to_its_home_modules_object() -> None:
    for name in thrifty.__all__:
        home = importlib.import_module(thrifty._HOMES[name])
        assert getattr(thrifty, name) is getattr(home, name), name
    assert set(thrifty.__all__) <= set(dir(thrifty))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = thrifty.no_such_name


def test_the_lazy_table_matches_all_and_the_type_checking_imports() -> None:
    # Three spellings of one API (the runtime table, __all__, the imports mypy and IDEs read): held equal.
    assert sorted(thrifty._HOMES) == sorted(thrifty.__all__)
    tree = ast.parse(Path(thrifty.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    typed = {a.name: n.module for n in block.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert typed == thrifty._HOMES


def test_openai_compat_backend_is_still_reachable_from_the_package() -> None:
    from thrifty.backends.openai_compat import OpenAICompatBackend

    assert thrifty.OpenAICompatBackend is OpenAICompatBackend
    assert thrifty.backends.OpenAICompatBackend is OpenAICompatBackend
