"""Settings from a TOML file and THRIFTY_* variables: precedence, and errors that name the field and its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.defaults import DEFAULT_BUDGET
from thrifty.errors import ConfigError
from thrifty.settings import load_settings


def test_defaults_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('strategy = "bats"\nbudget = "search=2"\ntemperature = 0.3\ntool_protocol = "native"\n')
    s = load_settings(config, env={})
    assert (s.strategy, s.budget, s.temperature, s.tool_protocol) == ("bats", "search=2", 0.3, "native")
    s = load_settings(config, env={"THRIFTY_STRATEGY": "epf:8", "THRIFTY_TRACE": "false"})
    assert s.strategy == "epf:8" and s.budget == "search=2" and s.trace is False
    # No file anywhere: defaults.
    s = load_settings(env={"XDG_CONFIG_HOME": str(tmp_path / "none")})
    assert s.strategy == "tracker" and s.budget == DEFAULT_BUDGET


@pytest.mark.parametrize(
    ("text", "env", "field", "origin"),
    [
        ('budget = "search=-1"\n', {}, "budget", "config.toml"),
        ('strategy = "nonsense"\n', {}, "strategy", "config.toml"),
        ("temperature = 9\n", {}, "temperature", "config.toml"),
        ('colour = "blue"\n', {}, "colour", "config.toml"),
        ("", {"THRIFTY_BASE_URL": "gpu-box:8000"}, "base_url", "$THRIFTY_BASE_URL"),
        ("", {"THRIFTY_TOOL_PROTOCOL": "smoke"}, "tool_protocol", "$THRIFTY_TOOL_PROTOCOL"),
        ("[strategy_options.bats]\nmax_attempts = 0\n", {}, "strategy_options", "config.toml"),
        ("[strategy_options.bast]\n", {}, "strategy_options", "config.toml"),
        ("", {"THRIFTY_STRATEGY_OPTIONS": "{bats"}, "strategy_options", "$THRIFTY_STRATEGY_OPTIONS"),
    ],
)
def test_errors_name_the_field_and_where_it_came_from(
    tmp_path: Path, text: str, env: dict[str, str], field: str, origin: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(config, env=env)
    assert info.value.field == field and origin in str(info.value)


def test_strategy_options_by_name_from_the_file_or_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[strategy_options.bats]\nmax_attempts = 3\n[strategy_options.parallel]\nvote = "string"\n')
    s = load_settings(config, env={})
    assert s.strategy_options == {"bats": {"max_attempts": 3}, "parallel": {"vote": "string"}}
    s = load_settings(config, env={"THRIFTY_STRATEGY_OPTIONS": '{"tracker": {"keep_tool_responses": 2}}'})
    assert s.strategy_options == {"tracker": {"keep_tool_responses": 2}}
    config.write_text('[strategy_options.bats]\ntrajectory_chars = "many"\n')
    with pytest.raises(ConfigError, match=r"bats\.trajectory_chars"):
        load_settings(config, env={})


def test_broken_toml_and_missing_explicit_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("budget = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml", env={})


def test_cli_reports_a_bad_setting_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('strategy = "nonsense"\n')
    assert main(["--config", str(config), "ask", "hi", "--no-tools"]) == 2
    err = capsys.readouterr().err
    assert "strategy" in err and "config.toml" in err and "Traceback" not in err


def test_mcp_prices_from_the_file_or_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[mcp_prices]\nread_file = 0.002\n"*" = 0.001\n')
    assert load_settings(config, env={}).mcp_prices == {"read_file": 0.002, "*": 0.001}
    env = {"THRIFTY_MCP_PRICES": "Read_File=0.5, *=0"}
    assert load_settings(None, env=env | {"XDG_CONFIG_HOME": str(tmp_path)}).mcp_prices == {
        "read_file": 0.5,
        "*": 0.0,
    }
    for bad in ("read_file", "read_file=-1", "read_file=inf", "read_file=cheap"):
        with pytest.raises(ConfigError, match=r"mcp_prices(\.read_file)?: .*\(from \$THRIFTY_MCP_PRICES\)"):
            load_settings(None, env={"THRIFTY_MCP_PRICES": bad, "XDG_CONFIG_HOME": str(tmp_path)})


def test_the_cli_builds_the_strategy_with_the_files_options_over_its_own(tmp_path: Path) -> None:
    import argparse

    from thrifty.agents.strategies import BatsStrategy
    from thrifty.cli.run import strategy_for

    table = {"bats": {"max_attempts": 2}}
    bats = strategy_for(argparse.Namespace(strategy="bats", strategy_options=table))
    assert isinstance(bats, BatsStrategy) and bats.options.max_attempts == 2
    assert bats.options.stop_when_tool_exhausted == "all"  # ask and chat: a spent search leaves browse usable
    assert strategy_for(argparse.Namespace(strategy="pf:2", strategy_options=table)).name == "pf:2"


def test_cli_reports_a_bad_strategy_option_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[strategy_options.tracker]\nkeep_tool_responses = -1\n")
    assert main(["--config", str(config), "ask", "hi", "--no-tools"]) == 2
    err = capsys.readouterr().err
    assert "strategy_options" in err and "tracker.keep_tool_responses" in err and "Traceback" not in err
