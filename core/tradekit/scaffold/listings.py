"""Code listings in the plugin-author docs, kept equal to what ``tradekit plugin new`` writes.

A worked example page marks each listing with the plugin it comes from and the
file, on the line before its fenced code block::

    <!-- fmt: off -->
    <!-- listing: dip_buyer strategy src/tradekit_dip_buyer/strategy.py -->
    (the fenced code block)
    <!-- fmt: on -->

    <!-- excerpt: dip_buyer strategy pyproject.toml -->

A *listing* is the whole file; an *excerpt* is a part of it, found in it word
for word. ``fmt: off`` keeps ``ruff format`` (which formats the Python blocks of
Markdown files, with the project's line length) from rewriting a listing.
``python -m tradekit.scaffold.listings --write docs/plugins/*.md`` rewrites the
listings from the templates; ``--check`` (and a test) fails, naming the page
and the file, when a page has drifted from them.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tradekit.scaffold.generator import render_plugin
from tradekit.scaffold.names import PluginName

_MARKER = re.compile(
    r"^(?P<guard><!-- fmt: off -->\n)?"
    r"<!-- (?P<mode>listing|excerpt): (?P<name>\S+) (?P<kind>\S+) (?P<path>\S+) -->\n"
    r"```(?P<language>\w*)\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Listing:
    """One marked code block of a page."""

    mode: str
    name: str
    kind: str
    path: str
    language: str
    code: str
    guarded: bool = True

    @property
    def generated(self) -> str:
        """The text of the file the block shows, as the scaffold writes it today."""
        return render_plugin(PluginName.parse(self.name, self.kind))[self.path]

    def problem(self) -> str | None:
        """Why the block no longer matches the scaffold, or None."""
        try:
            generated = self.generated
        except KeyError:
            return f"{self.path} is not a file the scaffold writes for a {self.kind}"
        if self.mode == "listing" and self.language == "python" and not self.guarded:
            return f"the listing of {self.path} is not preceded by <!-- fmt: off -->: ruff format would rewrite it"
        if self.mode == "listing" and self.code != generated:
            return f"the listing of {self.path} ({self.name}, {self.kind}) differs from what the scaffold writes"
        if self.mode == "excerpt" and self.code not in generated:
            return f"the excerpt of {self.path} ({self.name}, {self.kind}) is not in what the scaffold writes"
        return None


def listings(page: str) -> list[Listing]:
    """Every marked code block of a page, in order."""
    return [_listing(match) for match in _MARKER.finditer(page)]


def _listing(match: re.Match[str]) -> Listing:
    return Listing(
        match["mode"],
        match["name"],
        match["kind"],
        match["path"],
        match["language"],
        match["code"],
        guarded=match["guard"] is not None,
    )


def refreshed(page: str) -> str:
    """The page with every full listing replaced by the scaffold's current text (excerpts are left alone)."""

    def replace(match: re.Match[str]) -> str:
        if match["mode"] != "listing":
            return match.group(0)
        listing = _listing(match)
        head = match.group(0)[: match.start("code") - match.start(0)]
        return f"{head}{listing.generated}```"

    return _MARKER.sub(replace, page)


def main(argv: list[str] | None = None) -> int:
    """``--write`` refreshes the listings of the pages given; ``--check`` exits 1 naming the ones that drifted."""
    parser = argparse.ArgumentParser(prog="python -m tradekit.scaffold.listings", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the listings")
    action.add_argument("--check", action="store_true", help="exit 1 when a listing differs")
    parser.add_argument("pages", nargs="+", type=Path)
    arguments = parser.parse_args(argv)
    failed = False
    for path in arguments.pages:
        page = path.read_text(encoding="utf-8")
        if arguments.write:
            path.write_text(refreshed(page), encoding="utf-8", newline="\n")
            continue
        for listing in listings(page):
            problem = listing.problem()
            if problem is not None:
                failed = True
                print(f"{path}: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
