"""Where tests find real market data: a ``shared/data`` folder of bar files, or the one ``$TRADEKIT_TEST_DATA`` names.

Every test that wants real bars looks in the same places, in this order: the
folder ``$TRADEKIT_TEST_DATA`` names (the folder of the file, when it names a
file), then a ``shared/data`` folder beside the current folder or any folder
above it, then beside the tradekit source tree (``../shared/data`` from the
repository root). :func:`shared_data_folder` and :func:`shared_data_file` skip
the calling test, saying where they looked, when the data is absent; the
``tk_shared_data`` and ``tk_data_file`` fixtures of the pytest plugin call them.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming a bar file (or a folder of them) tests should use as real data.
DATA_ENV = "TRADEKIT_TEST_DATA"


def data_folders() -> list[Path]:
    """The folders real bar files are looked for in, first choice first (existing or not).

    Raises :class:`FileNotFoundError` when ``$TRADEKIT_TEST_DATA`` is set but
    names neither a file nor a folder, so a typo there is not read as "no data".
    """
    configured = os.environ.get(DATA_ENV)
    if configured:
        path = Path(configured)
        if path.is_file():
            return [path.parent]
        if not path.is_dir():
            raise FileNotFoundError(f"{DATA_ENV} names {configured}, which is neither a file nor a folder")
        return [path]
    here = Path.cwd().resolve()
    source_tree = Path(__file__).resolve().parents[3]
    return [folder / "shared" / "data" for folder in (here, *here.parents, source_tree, *source_tree.parents)]


def find_shared_data() -> Path | None:
    """The first folder of :func:`data_folders` that exists, or None."""
    return next((folder for folder in data_folders() if folder.is_dir()), None)


def shared_data_folder() -> Path:
    """The folder of real bar files; skips the calling test, saying where it looked, when there is none."""
    import pytest

    folder = find_shared_data()
    if folder is None:
        pytest.skip(
            f"real market data not found: no shared/data folder beside {Path.cwd()} or a folder above it, "
            f"nor beside the tradekit source tree; set {DATA_ENV} to a folder of bar files to run this test"
        )
    return folder


def shared_data_file(name: str) -> Path:
    """The path of the real bar file ``name``; skips the calling test, naming the file, when it is absent."""
    import pytest

    path = shared_data_folder() / name
    if not path.is_file():
        pytest.skip(f"real market data file {name} not found in {path.parent}")
    return path
