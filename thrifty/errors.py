"""Thrifty's exception tree.

    ThriftyError
    ├── ConfigError                 bad user configuration; ``field`` names what to fix
    ├── BackendError                the model server failed (mapped from openai/httpx at the boundary)
    │   ├── BackendConnectionError  could not reach the server
    │   ├── BackendTimeout          the request timed out
    │   ├── BackendHTTPError        the server answered with an error status (``status_code``, ``body``)
    │   │   └── BackendRateLimited  429
    │   ├── BackendResponseError    the server answered, but not with a well-formed chat completion
    │   └── BackendUnavailable      a local server could not be started (binary or weights missing)
    ├── ScriptExhausted             a ScriptedBackend was called past the end of its script
    ├── ToolError                   a tool failed in a way the *model* should hear about
    └── PromptError                 a prompt template is missing or got the wrong variables

Budget exhaustion is not here: it is :class:`thrifty.budget.BudgetExceeded`, and strategies turn it
into a normal result (``stop_reason="budget_exhausted"``, or ``"answered"`` with ``exhausted`` set
when a final answer could still be had). Errors caused by the model's output
(malformed tool calls, unknown tools) never raise: they become observations the model can react to.
"""

from __future__ import annotations


class ThriftyError(Exception):
    """Base class of every error thrifty raises on purpose."""


class ConfigError(ThriftyError):
    """A configuration value is wrong. ``field`` is the name a user would fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class BackendError(ThriftyError):
    """The model backend failed. ``retryable`` says whether trying again may help."""

    retryable: bool = False


class BackendConnectionError(BackendError):
    retryable = True


class BackendTimeout(BackendError):
    retryable = True


class BackendHTTPError(BackendError):
    def __init__(self, status_code: int, message: str, body: object = None) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.body = body
        self.retryable = status_code >= 500


class BackendRateLimited(BackendHTTPError):
    def __init__(self, message: str, body: object = None) -> None:
        super().__init__(429, message, body)
        self.retryable = True


class BackendResponseError(BackendError):
    """The server's reply (status 200) is not a usable chat completion: not JSON, HTML, too deep, or
    a field of the wrong type or range. Retryable: a proxy glitch or a restarting server can cause it."""

    retryable = True


class BackendUnavailable(BackendError):
    """A managed local server could not be started; the message says what to install or set."""


class ScriptExhausted(ThriftyError):
    """A :class:`~thrifty.backends.ScriptedBackend` was called after its script ran out."""


class ToolError(ThriftyError):
    """Raised by a tool to tell the model something went wrong; becomes an error observation."""


class PromptError(ThriftyError):
    """A prompt template could not be rendered."""
