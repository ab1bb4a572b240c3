"""`ape pst devnet start|status|stop`: one persistent anvil (chain id 31337,
a block a second) seeded like the stand-in, that `ethereum:local:node`
reaches, so commands compose across processes: `deploy` records a protocol
the next command finds, `faucet` funds, a second `deploy` refuses to
replace a deployment that still exists. Each test works in a scratch
project (its own ape-config.yaml pointing ethereum:local:node at the test's
devnet port); the commands run as a user runs them, one process each."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ape_pst_plugin import fork
from ape_pst_plugin._cli import cli
from ape_pst_plugin.keeper_cluster import wait_for

NODE = "ethereum:local:node"


@pytest.fixture
def port():
    return fork.free_port()


@pytest.fixture
def root(tmp_path, monkeypatch, project, port):
    """A scratch project whose node_modules are this repository's and whose
    ethereum:local:node is a devnet on a port of its own."""
    (tmp_path / "node_modules").symlink_to(project.path / "node_modules")
    (tmp_path / ".build").mkdir()
    (tmp_path / "ape-config.yaml").write_text(
        "name: devnet-user\n"
        f"node:\n  ethereum:\n    local:\n      uri: http://127.0.0.1:{port}\n      chain_id: 31337\n"
        "      block_time: 1\n"
    )
    monkeypatch.setattr(fork, "project_root", lambda: tmp_path)
    return tmp_path


def run(*args):
    return CliRunner(mix_stderr=False).invoke(cli, ["devnet", *args], catch_exceptions=False)


@pytest.fixture
def devnet(root, port):
    result = run("start", "--port", str(port), "--json")
    assert result.exit_code == 0, result.stderr
    yield json.loads(result.stdout)
    fork.stop(root, node=fork.DEVNET)


def ape_pst(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`ape pst ARGS --network ethereum:local:node` in the scratch project, as a user runs it."""
    ape = Path(sys.executable).with_name("ape")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    command = [str(ape), "pst", *args, "--network", NODE]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)


def test_start_runs_a_seeded_chain_31337_with_a_block_a_second(root, port, devnet):
    uri = devnet["uri"]
    assert devnet["port"] == port and fork._rpc(uri, "eth_chainId") == hex(31337)
    for address in (fork.UNISWAP_V2_FACTORY, fork.UNISWAP_V2_ROUTER02, fork.WETH, fork.USDC):
        assert fork._rpc(uri, "eth_getCode", [address, "latest"]) != "0x", address
    first = int(fork._rpc(uri, "eth_blockNumber"), 16)
    assert wait_for(lambda: int(fork._rpc(uri, "eth_blockNumber"), 16) > first, 5)  # no transaction needed
    assert fork.state_file(root, fork.DEVNET).is_file() and not fork.state_file(root).exists()


def test_status_and_stop(root, port, devnet):
    status = run("status", "--json")
    assert json.loads(status.stdout)["running"] is True and json.loads(status.stdout)["pid"] == devnet["pid"]
    stopped = run("stop")
    assert stopped.exit_code == 0 and f"stopped the devnet (pid {devnet['pid']}" in stopped.stdout
    status = run("status")
    assert status.exit_code == 1 and "no devnet is running" in status.stderr
    assert not fork.port_open(port)


def test_start_twice_is_one_line(root, port, devnet):
    result = run("start", "--port", str(port))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "the devnet already runs" in line and "`ape pst devnet stop` first" in line


def test_a_command_on_the_devnet_while_it_is_down_is_one_line(root):
    result = ape_pst(root, "list")
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert "the devnet is not running" in line and "ape pst devnet start" in line


def test_commands_compose_across_processes(root, devnet):
    """deploy records the protocol, the next processes find it; a second deploy refuses to replace it."""
    deployed = ape_pst(root, "deploy", "--min-delay", "60", "--json")
    assert deployed.returncode == 0, deployed.stderr[-2000:]
    addresses = json.loads(deployed.stdout)
    # the devnet's seeded Uniswap V2 and USDC stand-in, not fresh ones
    assert (addresses["uniswap_router"], addresses["settlement"]) == (fork.UNISWAP_V2_ROUTER02, fork.USDC)
    listed = ape_pst(root, "list", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert json.loads(listed.stdout) == []
    again = ape_pst(root, "deploy")
    assert again.returncode == 1
    [line] = again.stderr.strip().splitlines()
    assert f"still exists (factory {addresses['factory']})" in line and "--replace" in line
    funded = ape_pst(root, "faucet", "1234.5", "--to", "0x000000000000000000000000000000000000dEaD", "--json")
    assert funded.returncode == 0, funded.stderr[-2000:]
    out = json.loads(funded.stdout)
    assert (out["token"], out["amount"], out["balance"]) == (fork.USDC, "1234.500000", "1234.500000")


def test_the_keeper_runs_on_the_devnet(root, devnet):
    """`ape pst keeper` starts Silverback on the devnet for the recorded factory and serves its listings."""
    assert ape_pst(root, "deploy", "--min-delay", "60").returncode == 0
    ape = Path(sys.executable).with_name("ape")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    log = root / "keeper.log"
    with log.open("w") as out:
        keeper = subprocess.Popen(
            [str(ape), "pst", "keeper", "--network", NODE, "--account", "TEST::1"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_for(lambda: "listings: 0" in log.read_text() or keeper.poll() is not None, 120), log.read_text()
        assert keeper.poll() is None, log.read_text()[-3000:]
        assert "ethereum:local" in log.read_text() and "ERROR" not in log.read_text()
    finally:
        os.killpg(keeper.pid, signal.SIGINT)
        try:
            keeper.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(keeper.pid, signal.SIGKILL)
            keeper.wait()
