"""The launch substitutions SigmaPrompt's files use: ``$(var)``, ``$(env)``, ``$(find-pkg-share)``, ``$(dirname)``.

Parsing is recursive (``$(var $(var which))`` works) and pure: package lookup and the environment are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

SUPPORTED = ("var", "env", "find-pkg-share", "dirname")


class SubstitutionError(ValueError):
    """A substitution that cannot be evaluated; the message says which and why."""


@dataclass(frozen=True)
class Scope:
    """What substitutions can see: launch configurations, environment, package lookup and the current file."""

    configs: Mapping[str, str]
    environ: Mapping[str, str]
    find_pkg_share: Callable[[str], str]
    dirname: str


def evaluate(text: str, scope: Scope) -> str:
    """Replace every ``$(...)`` in ``text``; raise :class:`SubstitutionError` naming the offending one."""
    out, pos = _parse(text, 0, scope, nested=False)
    if pos != len(text):  # pragma: no cover - _parse consumes everything at top level
        raise SubstitutionError(f"unexpected ')' at column {pos + 1} in {text!r}")
    return out


def _parse(text: str, pos: int, scope: Scope, *, nested: bool) -> tuple[str, int]:
    """Evaluate from ``pos`` until the end (top level) or the closing ``)`` of a substitution (nested)."""
    parts: list[str] = []
    while pos < len(text):
        if text.startswith("$(", pos):
            value, pos = _substitution(text, pos + 2, scope)
            parts.append(value)
        elif nested and text[pos] == ")":
            return "".join(parts), pos
        else:
            parts.append(text[pos])
            pos += 1
    if nested:
        raise SubstitutionError(f"unclosed '$(' in {text!r}")
    return "".join(parts), pos


def _substitution(text: str, pos: int, scope: Scope) -> tuple[str, int]:
    body, end = _parse(text, pos, scope, nested=True)
    words = _split_args(body)
    if not words:
        raise SubstitutionError(f"empty substitution '$()' in {text!r}")
    name, args = words[0], words[1:]
    return _apply(name, args, scope, text), end + 1


def _split_args(body: str) -> list[str]:
    """Split on whitespace, honouring single or double quotes (as the launch frontend does)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    has_word = False
    for ch in body:
        if quote:
            if ch == quote:
                quote = ""
            else:
                current.append(ch)
        elif ch in "'\"":
            quote, has_word = ch, True
        elif ch.isspace():
            if has_word:
                words.append("".join(current))
                current, has_word = [], False
        else:
            current.append(ch)
            has_word = True
    if quote:
        raise SubstitutionError(f"unclosed quote in substitution '$({body})'")
    if has_word:
        words.append("".join(current))
    return words


def _apply(name: str, args: list[str], scope: Scope, text: str) -> str:
    if name == "var":
        _arity(name, args, 1, 1, text)
        if args[0] not in scope.configs:
            raise SubstitutionError(f"launch configuration {args[0]!r} is not set (used in {text!r})")
        return scope.configs[args[0]]
    if name == "env":
        _arity(name, args, 1, 2, text)
        if args[0] in scope.environ:
            return scope.environ[args[0]]
        if len(args) == 2:
            return args[1]
        raise SubstitutionError(f"environment variable {args[0]!r} is not set and has no default (in {text!r})")
    if name == "find-pkg-share":
        _arity(name, args, 1, 1, text)
        try:
            return scope.find_pkg_share(args[0])
        except LookupError as exc:
            raise SubstitutionError(f"package {args[0]!r} not found (in {text!r}): {exc}") from exc
    if name == "dirname":
        _arity(name, args, 0, 0, text)
        return scope.dirname
    raise SubstitutionError(
        f"substitution '$({name} ...)' is not supported by sigma launch (supported: {', '.join(SUPPORTED)})"
    )


def _arity(name: str, args: list[str], lo: int, hi: int, text: str) -> None:
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo}-{hi}"
        raise SubstitutionError(f"$({name}) takes {want} argument(s), got {len(args)} in {text!r}")
