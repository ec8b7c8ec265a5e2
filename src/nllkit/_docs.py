"""Docstring blocks that several public functions share, written once.

The ``fit_*`` functions of :mod:`nllkit.models` share their optimiser options and the data
generators of :mod:`nllkit.data` their ``rng``; a block written once reads the same on every
reference page and is edited in one place. In a docstring, a line that holds only ``{name}``
stands for the block ``name``: :func:`fill` puts the block there, indented like the line, with
its own ``{field}`` names filled from the decorator's keywords.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def fill(blocks: Mapping[str, str], **fields: str) -> Callable[[F], F]:
    """A decorator that replaces each ``{name}`` line of a docstring by ``blocks[name]``."""

    def expand(text: str) -> list[str]:
        lines = []
        for line in text.split("\n"):
            name = line.strip()[1:-1]
            if line.strip() != f"{{{name}}}" or name not in blocks:
                lines.append(line)
                continue
            indent = line[: len(line) - len(line.lstrip())]
            block = expand(blocks[name].format(**fields))  # a block may hold blocks
            lines.extend(indent + row if row else row for row in block)
        return lines

    def decorate(func: F) -> F:
        func.__doc__ = "\n".join(expand(func.__doc__ or ""))
        return func

    return decorate
