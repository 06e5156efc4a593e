"""docs/plugins/hooks.md is the hook contract, rendered from hookspecs.py, and cannot drift from it."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tradekit import hookspecs
from tradekit.scaffold import hookdocs

HOOKS_MD = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"
HOOK_NAMES = [
    name for name, value in vars(hookspecs).items() if name.startswith("tradekit_") and inspect.isfunction(value)
]


def test_hooks_md_is_what_the_hook_specs_render_to() -> None:
    problems = hookdocs.differences(hookdocs.render_hooks_markdown(), HOOKS_MD.read_text(encoding="utf-8"))

    assert not problems, (
        "docs/plugins/hooks.md differs from core/tradekit/hookspecs.py: "
        + "; ".join(problems)
        + ". Rewrite it with: python -m tradekit.scaffold.hookdocs --write"
    )


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_each_hook_has_a_section_with_its_exact_signature_and_docstring(hook_name: str) -> None:
    section = hookdocs.sections(HOOKS_MD.read_text(encoding="utf-8")).get(hook_name)
    function = getattr(hookspecs, hook_name)
    signature = inspect.signature(function)

    assert section is not None, f"hooks.md has no section for {hook_name}"
    parameters = ", ".join(f"{name}: {p.annotation}" for name, p in signature.parameters.items())
    assert f"def {hook_name}({parameters}) -> {signature.return_annotation}\n" in section
    # Every paragraph of the docstring is there (its reST markup turned into Markdown).
    for paragraph in (inspect.getdoc(function) or "").split("\n\n"):
        assert hookdocs.markdown_from_rst(paragraph) in section, f"{hook_name}: {paragraph!r} is missing"


def test_a_changed_section_is_reported_by_the_name_of_its_hook() -> None:
    expected = hookdocs.render_hooks_markdown()
    edited = expected.replace("Judge one order intent before it is sent.", "Judge an order.")
    dropped = re.sub(r"### `tradekit_fill`.*?(?=### )", "", expected, flags=re.DOTALL)

    assert hookdocs.differences(expected, edited) == ["tradekit_risk_check: its section differs from the hook spec"]
    assert hookdocs.differences(expected, dropped) == ["tradekit_fill: missing from the file"]
    assert hookdocs.differences(expected, expected) == []


def test_rst_roles_and_literals_become_markdown_code() -> None:
    text = "Call :func:`~tradekit.hookspecs.tradekit_fill` or :class:`RiskVerdict` with ``None``."

    assert hookdocs.markdown_from_rst(text) == "Call `tradekit_fill` or `RiskVerdict` with `None`."


def test_the_module_command_checks_and_rewrites_the_file(tmp_path: Path) -> None:
    target = tmp_path / "hooks.md"
    target.write_text("# stale\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tradekit.scaffold.hookdocs", *args, str(target)],
            capture_output=True,
            text=True,
            check=False,
        )

    stale = run("--check")
    written = run("--write")
    fresh = run("--check")

    assert stale.returncode == 1
    assert "tradekit_run_started: missing from the file" in stale.stderr
    assert written.returncode == 0
    assert fresh.returncode == 0, fresh.stderr
    assert target.read_text(encoding="utf-8") == hookdocs.render_hooks_markdown()
