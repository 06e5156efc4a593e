"""The hook reference for plugin authors (``docs/plugins/hooks.md``), rendered from :mod:`tradekit.hookspecs`.

Each hook gets a section with its exact signature (from :func:`inspect.signature`),
where its argument types come from, and its docstring turned from reStructuredText
roles into Markdown. The file is never edited by hand::

    python -m tradekit.scaffold.hookdocs --write     # rewrite docs/plugins/hooks.md
    python -m tradekit.scaffold.hookdocs --check     # exit 1 naming the hooks whose text differs

and a test fails, naming the hook, when the file and the specs disagree.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType
from typing import Any

from tradekit import hookspecs

DEFAULT_PATH = Path("docs/plugins/hooks.md")
_HEADING = re.compile(r"^### `(tradekit_\w+)`$", re.MULTILINE)
_GROUP_COMMENT = re.compile(r"^# --- (.+?) -+$")


@dataclass(frozen=True)
class HookDoc:
    """One hook as the reference shows it."""

    name: str
    group: str
    signature: str
    doc: str
    types: tuple[tuple[str, str], ...]
    options: dict[str, Any]

    @property
    def summary(self) -> str:
        """The first line of its docstring."""
        return self.doc.splitlines()[0] if self.doc else ""


def _type_modules() -> dict[str, str]:
    """Where each name imported by hookspecs comes from (its imports are for type checking only)."""
    tree = ast.parse(inspect.getsource(hookspecs))
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tradekit."):
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def _groups() -> list[tuple[int, str]]:
    """``(line, group name)`` of each ``# --- name ---`` comment of hookspecs, in order."""
    lines = inspect.getsource(hookspecs).splitlines()
    groups = []
    for number, line in enumerate(lines, start=1):
        match = _GROUP_COMMENT.match(line.strip())
        if match:
            groups.append((number, match.group(1).strip().capitalize()))
    return groups


def _signature(function: FunctionType) -> str:
    # The annotations are strings (postponed evaluation): shown exactly as written in hookspecs.
    signature = inspect.signature(function)
    parameters = ", ".join(f"{name}: {parameter.annotation}" for name, parameter in signature.parameters.items())
    return f"def {function.__name__}({parameters}) -> {signature.return_annotation}"


def markdown_from_rst(text: str) -> str:
    """Docstring markup as Markdown: ``literal`` and :role:`~target` both become `code`."""
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    text = re.sub(r":\w+:`~[\w.]*?(\w+)`", r"`\1`", text)
    return re.sub(r":\w+:`([^`]+)`", r"`\1`", text)


def hook_docs() -> list[HookDoc]:
    """Every hook of :mod:`tradekit.hookspecs`, in the order the file declares them."""
    modules = _type_modules()
    groups = _groups()
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    functions = [
        value
        for name, value in vars(hookspecs).items()
        if name.startswith("tradekit_") and inspect.isfunction(value) and hasattr(value, marker)
    ]
    functions.sort(key=lambda function: function.__code__.co_firstlineno)
    docs = []
    for function in functions:
        line = function.__code__.co_firstlineno
        group = next((name for start, name in reversed(groups) if start < line), "Other")
        signature = _signature(function)
        used = sorted({word for word in re.findall(r"[A-Z]\w+", signature) if word in modules})
        options = {key: value for key, value in getattr(function, marker).items() if value}
        docs.append(
            HookDoc(
                name=function.__name__,
                group=group,
                signature=signature,
                doc=markdown_from_rst(inspect.getdoc(function) or ""),
                types=tuple((word, modules[word]) for word in used),
                options=options,
            )
        )
    return docs


def render_section(hook: HookDoc) -> str:
    """The Markdown section of one hook, from its heading to the blank line before the next."""
    parts = [f"### `{hook.name}`", "", "```python", hook.signature, "```", ""]
    if hook.types:
        where = ", ".join(f"`{name}` from `{module}`" for name, module in hook.types)
        parts += [f"Types: {where}.", ""]
    if hook.options:
        shown = ", ".join(f"`{key}={value!r}`" for key, value in sorted(hook.options.items()))
        parts += [f"Hook options: {shown}.", ""]
    parts += [hook.doc, ""]
    return "\n".join(parts)


_INTRO = """\
# Hook reference

<!-- Generated from core/tradekit/hookspecs.py by `python -m tradekit.scaffold.hookdocs --write`.
     Do not edit by hand: a test fails when this file and the hook specs differ. -->

Every hook tradekit calls, with its exact signature and what it means. Hooks are for events many
plugins may want to hear; what one plugin does itself (an exchange placing an order, a strategy
deciding on a bar) is a method of its base class in `tradekit.plugin`. When each hook fires in a run
is drawn in [lifecycle.md](lifecycle.md).

Any plugin (of any kind) implements a hook by defining a method of the same name, marked with
`@hookimpl`; the method may take fewer arguments than the hook passes, never other ones:

```python
from tradekit.domain import Fill, Position
from tradekit.hookspecs import hookimpl
from tradekit.plugin import RiskRule


class LossCounter(RiskRule):
    @hookimpl
    def tradekit_fill(self, fill: Fill, position: Position) -> None:
        self.log.info("%s now holds %s", fill.symbol, position.quantity)
```

A `tradekit_` method without `@hookimpl` is never called, and a `@hookimpl` whose name is not a
hook stops the run before it starts; `tradekit plugins doctor` reports both. "Fail open" means an
implementation that raises is logged and the run goes on; "fail closed" means it blocks the order.
"""


def render_hooks_markdown() -> str:
    """The whole of ``docs/plugins/hooks.md``."""
    hooks = hook_docs()
    lines = [_INTRO, "## Contents", ""]
    for group in dict.fromkeys(hook.group for hook in hooks):
        members = ", ".join(f"[`{hook.name}`](#{hook.name})" for hook in hooks if hook.group == group)
        lines.append(f"- {group}: {members}")
    lines.append("")
    current = None
    for hook in hooks:
        if hook.group != current:
            current = hook.group
            lines += [f"## {current}", ""]
        lines.append(render_section(hook))
    return "\n".join(lines).rstrip("\n") + "\n"


def sections(markdown: str) -> dict[str, str]:
    """The text of each hook's section in ``markdown``, by hook name (headings of other levels end one)."""
    found: dict[str, str] = {}
    matches = list(_HEADING.finditer(markdown))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(markdown)
        text = markdown[match.start() : end]
        text = re.split(r"^## ", text, maxsplit=1, flags=re.MULTILINE)[0]
        found[match.group(1)] = text.strip("\n")
    return found


def differences(expected: str, actual: str) -> list[str]:
    """What differs between the generated reference and the file: hook names first, then other text."""
    wanted, present = sections(expected), sections(actual)
    problems = [f"{name}: missing from the file" for name in wanted if name not in present]
    problems += [f"{name}: in the file, but not a hook" for name in present if name not in wanted]
    problems += [
        f"{name}: its section differs from the hook spec"
        for name in wanted
        if name in present and present[name] != wanted[name]
    ]
    if not problems and expected != actual:
        problems.append("the text around the hook sections (introduction, contents or order) differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``--write`` rewrites the reference; ``--check`` exits 1 listing what differs."""
    parser = argparse.ArgumentParser(prog="python -m tradekit.scaffold.hookdocs", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the file")
    action.add_argument("--check", action="store_true", help="exit 1 if the file differs from the specs")
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}")
    arguments = parser.parse_args(argv)
    expected = render_hooks_markdown()
    path: Path = arguments.path
    if arguments.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected, encoding="utf-8", newline="\n")
        print(f"wrote {path} ({len(hook_docs())} hooks)")
        return 0
    actual = path.read_text(encoding="utf-8") if path.is_file() else ""
    problems = differences(expected, actual)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        print(f"run: python -m tradekit.scaffold.hookdocs --write {path}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
