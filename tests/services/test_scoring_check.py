"""The shared scoring-script check: parsed, never run; each refusal names file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.errors import NotFoundError, SpecError
from ferry.services.scoring_check import check_scoring_script


def _script(folder: Path, text: str, name: str = "score.py") -> Path:
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_good_script_passes_without_running(tmp_path: Path) -> None:
    # Importing this would fail (no such module) and print; parsing it does neither.
    _script(tmp_path, "import not_installed_here\nprint('ran')\ndef init(): ...\ndef run(x): ...\n")
    check_scoring_script(tmp_path, "score.py", online=True)


@pytest.mark.parametrize(
    "text",
    [
        "try:\n    from fast import run\nexcept ImportError:\n    def run(mini_batch): ...\n",
        "run = lambda mini_batch: mini_batch\n",
        "from helpers import *\n",  # cannot tell without running it: accepted
        "if True:\n    async def run(mini_batch): ...\n",
    ],
)
def test_run_bound_other_ways_counts(tmp_path: Path, text: str) -> None:
    check_scoring_script(_script(tmp_path, text, "driver.py"), "driver.py", online=False)


def test_missing_script_lists_the_folder(tmp_path: Path) -> None:
    _script(tmp_path, "def run(x): ...\n", "driver.py")
    with pytest.raises(NotFoundError) as info:
        check_scoring_script(tmp_path, "batch_driver.py", online=False)
    assert "scoring_script 'batch_driver.py' is not in the code folder (it holds: driver.py)" in (
        info.value.message
    )
    assert "fix code_configuration.scoring_script" in info.value.message


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    _script(tmp_path, "def init():\n    pass\n\ndef run(mini_batch)\n    return []\n")
    with pytest.raises(SpecError) as info:
        check_scoring_script(tmp_path, "score.py", online=False)
    message = info.value.message
    assert message.startswith("score.py, line 4: ")
    assert "def run(mini_batch)" in message
    assert "python -m py_compile score.py" in message
    assert info.value.details["line"] == 4


@pytest.mark.parametrize(
    ("online", "text", "missing", "fix"),
    [
        (True, "def run(raw_data): ...\n", "init", "def init():"),
        (True, "def init(): ...\ndef predict(x): ...\n", "run", "def run(raw_data):"),
        (False, "def init(): ...\n", "run", "def run(mini_batch):"),
    ],
)
def test_missing_function_is_named_with_its_fix(
    tmp_path: Path, online: bool, text: str, missing: str, fix: str
) -> None:
    _script(tmp_path, text)
    with pytest.raises(SpecError) as info:
        check_scoring_script(tmp_path, "score.py", online=online)
    assert f"score.py defines no {missing}() function at module level" in info.value.message
    assert f"Add `{fix}` to score.py" in info.value.message


def test_batch_init_is_optional(tmp_path: Path) -> None:
    # As ParallelRunStep and Ferry's batch worker: only run(mini_batch) is required.
    check_scoring_script(_script(tmp_path, "def run(mini_batch): ...\n"), "score.py", online=False)


def test_nested_definitions_do_not_count(tmp_path: Path) -> None:
    _script(tmp_path, "def init():\n    def run(x): ...\n")
    with pytest.raises(SpecError, match=r"defines no run\(\)"):
        check_scoring_script(tmp_path, "score.py", online=True)


def test_a_warning_is_not_a_syntax_error(tmp_path: Path) -> None:
    # "\\d" in a plain string warns (SyntaxWarning/DeprecationWarning); pytest makes warnings
    # errors here, so this also checks that the checker does not.
    _script(tmp_path, 'import re\nPATTERN = "\\d+"\ndef run(mini_batch): ...\n')
    check_scoring_script(tmp_path, "score.py", online=False)
