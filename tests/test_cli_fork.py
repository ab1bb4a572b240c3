"""`ape pst fork start|status|stop` against the record they keep: a record
that is corrupt or stale never blocks them, and a pid that is not our anvil
is never signalled. Each test works in a scratch project folder (the
repository's own stand-in record is left alone)."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ape_pst_plugin import fork
from ape_pst_plugin._cli import cli


@pytest.fixture
def root(tmp_path, monkeypatch, project):
    """A scratch project whose node_modules are this repository's."""
    (tmp_path / "node_modules").symlink_to(project.path / "node_modules")
    (tmp_path / ".build").mkdir()
    monkeypatch.setattr(fork, "project_root", lambda: tmp_path)
    return tmp_path


def run(*args):
    return CliRunner(mix_stderr=False).invoke(cli, ["fork", *args], catch_exceptions=False)


@pytest.fixture
def unrelated():
    """A process that is not anvil (its pid may end up in a record)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def record(root, **state):
    fork.state_file(root).write_text(json.dumps({"log": "pst-fork.log", **state}))


def test_status_with_a_corrupt_record_names_the_file_in_one_line(root):
    fork.state_file(root).write_text("{not json")
    result = run("status")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert f"{fork.state_file(root)} was corrupt" in line and "no stand-in is running" in line
    assert not fork.state_file(root).exists()


def test_stop_with_a_corrupt_record_says_so_and_succeeds(root):
    fork.state_file(root).write_text('{"pid": "twelve"}')
    result = run("stop", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["stopped"] is False
    assert [f"{fork.state_file(root)} was corrupt" in note for note in out["notes"]] == [True]


def test_start_over_a_corrupt_record_starts_the_standin(root):
    fork.state_file(root).write_text("")
    port = fork.free_port()
    result = run("start", "--port", str(port), "--json")
    try:
        assert result.exit_code == 0, result.stderr
        started = json.loads(result.stdout)
        assert started["port"] == port and fork._rpc(started["uri"], "eth_chainId") == "0x1"
        assert "was corrupt" in started["notes"][0]
    finally:
        fork.stop(root)


def test_stop_never_signals_a_pid_that_is_not_our_anvil(root, unrelated):
    record(root, pid=unrelated.pid, port=fork.free_port())
    result = run("stop")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "no stand-in was running"
    assert unrelated.poll() is None  # still running
    assert not fork.state_file(root).exists()  # the stale record is gone


def test_status_does_not_report_an_unrelated_process(root):
    record(root, pid=1, port=fork.free_port())
    result = run("status")
    assert result.exit_code == 1
    assert "no stand-in is running (removed the stale record" in result.stderr
    assert "pid 1 is not an anvil" in result.stderr


def test_start_status_stop_json_for_scripts(root):
    port = fork.free_port()
    started = json.loads(run("start", "--port", str(port), "--json").stdout)
    try:
        status = json.loads(run("status", "--json").stdout)
        assert status["running"] is True and status["pid"] == started["pid"] and status["port"] == port
    finally:
        stopped = run("stop", "--json")
    assert json.loads(stopped.stdout)["stopped"] is True
    assert json.loads(run("status", "--json").stdout) == {"running": False, "notes": []}
