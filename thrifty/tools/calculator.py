"""``calculator``: exact arithmetic on an expression, evaluated over a whitelisted AST (no eval).

Evaluation runs on the event loop, so it must be fast whatever the model writes: a timeout cannot
stop CPU-bound code there (``((7**999)**999)**20`` once froze every concurrent eval sample for
minutes). So every step is bounded before it runs: the expression's length, its nesting, and the size
of every integer product and power (at most :data:`MAX_BITS` bits, about 3,000 digits), which makes
each operation microseconds and keeps results printable.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from thrifty.errors import ToolError
from thrifty.tools.typed import TypedTool

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS: dict[str, Callable[..., Any]] = {
    name: getattr(math, name)
    for name in ("sqrt", "log", "log10", "log2", "exp", "sin", "cos", "tan", "floor", "ceil", "factorial")
} | {"abs": abs, "round": round, "min": min, "max": max}
_CONSTS = {"pi": math.pi, "e": math.e}
MAX_CHARS = 2_000
MAX_BITS = 10_000
"""Integers stay under ~3,000 digits (Python refuses to print past 4,300)."""


def evaluate(expression: str) -> float | int:
    """Evaluate arithmetic; raise ToolError on anything else or on absurd sizes."""
    if len(expression) > MAX_CHARS:
        raise ToolError(f"expression longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ToolError("not an arithmetic expression (too deeply nested or malformed)") from None
    try:
        value = _eval(tree.body)
    except RecursionError:
        raise ToolError("expression nested too deeply") from None
    if not isinstance(value, int | float):
        raise ToolError("the expression did not evaluate to a number")
    return value


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        _check_size(node.op, left, right)
        try:
            return _BINARY[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            raise ToolError(str(exc)) from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
        args = [_eval(a) for a in node.args]
        if node.func.id == "factorial" and args and _over_1000(args[0]):
            raise ToolError("factorial argument too large")
        if node.func.id == "round" and len(args) > 1 and _over_1000(args[1]):
            raise ToolError("round to at most 1000 digits")
        try:
            return _FUNCS[node.func.id](*args)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ToolError(str(exc)) from None
    raise ToolError(f"unsupported syntax: {ast.dump(node)[:80]}")


def _over_1000(value: Any) -> bool:
    return not isinstance(value, int | float) or abs(value) > 1000


def _check_size(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse an integer product or power of more than :data:`MAX_BITS` bits, before computing it.
    (Float and complex powers are constant time: they overflow or not at once.)"""
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if isinstance(op, ast.Pow) and right > 0 and abs(left) > 1:
        too_big = right * math.log2(abs(left)) > MAX_BITS
    else:
        too_big = isinstance(op, ast.Mult) and left.bit_length() + right.bit_length() > MAX_BITS + 1
    if too_big:
        raise ToolError(f"result too large (over {MAX_BITS} bits, about 3000 digits)")


class CalculatorTool(TypedTool):
    def __init__(self) -> None:
        super().__init__(
            self.calculator,
            name="calculator",
            description="Evaluate an arithmetic expression exactly, e.g. '(17 * 23) / 4' or 'sqrt(2) ** 2'.",
        )

    async def calculator(self, expression: str) -> str:
        value = evaluate(expression)
        return repr(value) if isinstance(value, float) else str(value)
