"""The kit's ``tk_clean_environment``, ``tk_shared_data`` and ``tk_data_file`` fixtures, and the search behind them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tradekit.testing import real_data


def test_a_missing_data_file_skips_the_test_naming_the_file_and_the_folder(
    tk_data_file: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEKIT_TEST_DATA", str(tmp_path))
    with pytest.raises(
        pytest.skip.Exception, match=re.escape(f"real market data file absent.feather not found in {tmp_path}")
    ):
        tk_data_file("absent.feather")


def test_no_data_folder_skips_the_test_saying_where_it_looked_and_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(real_data, "data_folders", lambda: [tmp_path / "nowhere" / "shared" / "data"])
    with pytest.raises(pytest.skip.Exception, match=r"no shared/data folder beside .*set TRADEKIT_TEST_DATA"):
        real_data.shared_data_folder()


def test_the_data_variable_naming_a_file_gives_that_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bars.feather").write_bytes(b"")
    monkeypatch.setenv("TRADEKIT_TEST_DATA", str(tmp_path / "bars.feather"))
    assert real_data.shared_data_folder() == tmp_path
    assert real_data.shared_data_file("bars.feather") == tmp_path / "bars.feather"


def test_a_misspelt_data_variable_is_an_error_not_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEKIT_TEST_DATA", str(tmp_path / "typo"))
    with pytest.raises(
        FileNotFoundError, match=r"TRADEKIT_TEST_DATA names .*typo, which is neither a file nor a folder"
    ):
        real_data.shared_data_folder()


def test_the_project_data_folder_is_found_beside_the_repository(tk_shared_data: Path) -> None:
    assert tk_shared_data.name == "data" and tk_shared_data.parent.name == "shared"
    assert (tk_shared_data / "README.md").is_file()


def test_the_clean_environment_hides_the_shells_variables_and_forgets_secrets_only_where_asked(
    subprocess_pytest: Any, tmp_path: Path
) -> None:
    source = """
        import os

        from tradekit import secrets

        os.environ["TRADEKIT_LEAK"] = "from the shell"


        def test_1_without_the_fixture_the_variable_is_seen():
            assert os.environ["TRADEKIT_LEAK"] == "from the shell"


        def test_2_with_the_fixture_it_is_hidden(tk_clean_environment):
            assert "TRADEKIT_LEAK" not in os.environ
            secrets.register_secret("hunter22-secret")
            assert secrets.redact("pw hunter22-secret") == "pw ***"


        def test_3_afterwards_the_variable_is_back_and_the_secret_forgotten():
            assert os.environ["TRADEKIT_LEAK"] == "from the shell"
            assert secrets.redact("pw hunter22-secret") == "pw hunter22-secret"
    """
    run = subprocess_pytest(tmp_path / "suite", {"test_environment.py": source})
    assert set(run.outcomes) == {
        "test_1_without_the_fixture_the_variable_is_seen",
        "test_2_with_the_fixture_it_is_hidden",
        "test_3_afterwards_the_variable_is_back_and_the_secret_forgotten",
    }, run.output
    assert all(outcome.outcome == "passed" for outcome in run.outcomes.values()), run.output
