"""The curated public API, pinned; and imports that must stay lazy."""

from __future__ import annotations

import subprocess
import sys

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
    import ast
    from pathlib import Path

    root = Path(thrifty.__file__).parent / "budget"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("thrifty.") or name.startswith("thrifty.budget"), (path.name, name)


def test_cli_help_does_not_import_the_openai_client() -> None:
    # `thrifty --help` must start fast: the openai client (~0.3 s of import) and httpx load only
    # when a backend is opened (benchmarks/RESULTS.md, "The client's hot path").
    code = (
        "import sys\nfrom thrifty.cli import main\ncode = main(['--help'])\n"
        "print(code, sorted(m for m in ('openai', 'httpx', 'httpx2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 []"


def test_openai_compat_backend_is_still_reachable_from_the_package() -> None:
    from thrifty.backends.openai_compat import OpenAICompatBackend

    assert thrifty.OpenAICompatBackend is OpenAICompatBackend
    assert thrifty.backends.OpenAICompatBackend is OpenAICompatBackend
