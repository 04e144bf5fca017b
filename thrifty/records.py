"""One mechanism for every value written to traces, eval logs and replay caches: pydantic ``TypeAdapter``s.

:func:`dump` gives a value's JSON form and :func:`load` reads it back as the type, checked; both go
through one adapter per type, built from the dataclass fields on first use, so a new field is
written and read everywhere without a hand-written (de)serialiser to update. Files written before
this module existed load: their fields are the dataclasses' own, and missing optional ones take
their defaults.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cache
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter

T = TypeVar("T")


@cache
def adapter(kind: Hashable) -> TypeAdapter[Any]:
    """The adapter for ``kind`` (a dataclass, a union, ``list[...]``), built once per process."""
    return TypeAdapter(cast(Any, kind))


def dump(value: Any, kind: Any = None, *, exclude: set[str] | None = None) -> Any:
    """The JSON-ready form of ``value`` (as ``kind``, default its own type). Values a field's type
    does not describe (a server's raw reply under ``Any``) are written as their ``str``."""
    return adapter(cast(Hashable, kind if kind is not None else type(value))).dump_python(
        value, mode="json", exclude=exclude, fallback=str
    )


def load(kind: type[T], data: Any) -> T:
    """``data`` read back as ``kind``; a ``ValueError`` (pydantic's ``ValidationError``) when it does not fit."""
    value: T = adapter(cast(Hashable, kind)).validate_python(data)
    return value
