"""scripts/tree-state, which scripts/run-tests compares before and after the suites so that `make test`
fails when it changed the working tree: every kind of change shows, ignored files never do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TREE_STATE = Path(__file__).resolve().parents[1] / "scripts" / "tree-state"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args], cwd=repo,
                   check=True, capture_output=True)


def state(repo: Path, *args: str) -> str:
    return subprocess.run([str(TREE_STATE), str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("test-output/*\n!test-output/screenshots/\n")
    (tmp_path / "results.jsonl").write_text('{"run": 1}\n')
    (tmp_path / "test-output" / "screenshots").mkdir(parents=True)
    (tmp_path / "test-output" / "screenshots" / "overview.png").write_bytes(b"png 1")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_a_clean_tree_has_an_empty_state_and_ignored_files_never_show(repo):
    assert state(repo) == ""
    (repo / "test-output" / "run").mkdir()
    (repo / "test-output" / "run" / "overview.png").write_bytes(b"png 2")
    assert state(repo) == ""


def test_a_changed_tracked_file_and_a_new_file_show(repo):
    (repo / "results.jsonl").write_text('{"run": 1}\n{"run": 2}\n')
    (repo / "new folder").mkdir()
    (repo / "new folder" / "notes.txt").write_text("new")
    without_hashes = [line.rsplit(" ", 1)[0] for line in state(repo).splitlines()]
    assert without_hashes == [" M results.jsonl", "?? new folder/notes.txt"]


def test_a_file_already_modified_before_the_run_and_changed_again_shows(repo):
    (repo / "results.jsonl").write_text('{"run": 1}\n{"run": 2}\n')
    before = state(repo)
    (repo / "results.jsonl").write_text('{"run": 1}\n{"run": 2}\n{"run": 3}\n')
    after = state(repo)
    assert before.split(" ")[:3] == after.split(" ")[:3] == ["", "M", "results.jsonl"], "git status alone is the same"
    assert before != after


def test_a_deleted_file_shows(repo):
    (repo / "results.jsonl").unlink()
    assert state(repo) == " D results.jsonl\n"


def test_the_screenshot_refresh_leaves_out_only_the_committed_screenshots(repo):
    (repo / "test-output" / "screenshots" / "overview.png").write_bytes(b"png 2")
    (repo / "results.jsonl").write_text("changed\n")
    assert "test-output/screenshots/overview.png" in state(repo)
    assert state(repo, "--except", "test-output/screenshots/").splitlines()[0].startswith(" M results.jsonl ")
    assert len(state(repo, "--except", "test-output/screenshots/").splitlines()) == 1
