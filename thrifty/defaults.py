"""Defaults that ``thrifty --help`` shows, defined below every layer that uses them.

The CLI's parser prints these without importing the agents or pydantic (``thrifty --help`` must start
in under 0.15 s, issue 15.8), and :class:`~thrifty.agents.context.LoopConfig` and
:mod:`thrifty.settings` take their defaults from here, so each value is written once. Strategy names
live beside them in :mod:`thrifty.strategy_names`, for the same reason.
"""

from __future__ import annotations

DEFAULT_BUDGET = "search=5,browse=5,tokens=40000,seconds=600"
"""The budget of a run when neither the config file nor ``--budget`` sets one."""

STEP_MAX_TOKENS = 768
"""Output tokens per model step (``LoopConfig.step_max_tokens``, ``thrifty ask --max-step-tokens``)."""
