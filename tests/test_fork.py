"""The mainnet stand-in: what `ape pst fork start` puts at the mainnet
addresses is what mainnet code expects there (tests marked `fork` run on
--network ethereum:mainnet-fork:foundry with the stand-in up; elsewhere they
are skipped), and the stand-in's lifecycle (local)."""

import json
import socket
import subprocess

import pytest
from eth_utils import keccak, to_checksum_address

from ape_pst_plugin import fork
from ape_pst_plugin import pe as pem
from ape_pst_plugin.npm import npm_contract

WAD = 10**18


def _create2(factory: str, token_a: str, token_b: str) -> str:
    """UniswapV2Library.pairFor: the address Router02 computes for a pair."""
    t0, t1 = sorted([token_a.lower(), token_b.lower()])
    salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    raw = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + bytes.fromhex(fork.PAIR_INIT_CODE_HASH[2:]))
    return to_checksum_address(raw[12:])


@pytest.mark.fork
def test_standin_has_uniswap_and_usdc_at_mainnet_addresses(chain, uniswap, usdc):
    assert chain.chain_id == 1
    assert (uniswap.factory.address, uniswap.router.address, uniswap.weth.address) == (
        fork.UNISWAP_V2_FACTORY,
        fork.UNISWAP_V2_ROUTER02,
        fork.WETH,
    )
    # Router02's immutables point at mainnet's factory and WETH
    assert (uniswap.router.factory(), uniswap.router.WETH()) == (fork.UNISWAP_V2_FACTORY, fork.WETH)
    # storage came along with the code: WETH9's name/decimals, the factory's fee setter
    assert (uniswap.weth.symbol(), uniswap.weth.decimals()) == ("WETH", 18)
    assert int(uniswap.factory.feeToSetter(), 16) != 0
    assert usdc.address == fork.USDC and usdc.decimals() == 6


@pytest.mark.fork
def test_router_pair_address_equals_factory_get_pair(deployer, project, uniswap):
    """Router02 finds pairs by CREATE2 with mainnet's init-code hash: it only
    works if the factory creates pairs from exactly mainnet's pair code."""
    assert "0x" + keccak(hexstr=npm_contract("UniswapV2Pair").contract_type.deployment_bytecode.bytecode).hex() == (
        fork.PAIR_INIT_CODE_HASH
    )
    a = deployer.deploy(project.TestStablecoin, "Token A", "A", 18)
    b = deployer.deploy(project.TestStablecoin, "Token B", "B", 6)
    a.faucet(deployer, 1_000 * WAD, sender=deployer)
    b.faucet(deployer, 3_000 * 10**6, sender=deployer)
    a.approve(uniswap.router, 2**256 - 1, sender=deployer)
    b.approve(uniswap.router, 2**256 - 1, sender=deployer)
    # addLiquidity creates the pair through the factory, then pays into pairFor(a, b)
    uniswap.router.addLiquidity(a, b, 1_000 * WAD, 3_000 * 10**6, 0, 0, deployer, 2**64, sender=deployer)
    pair = uniswap.pair(a, b)
    assert pair.address == _create2(fork.UNISWAP_V2_FACTORY, a.address, b.address)
    assert pair.balanceOf(deployer) > 0  # the liquidity landed in the factory's pair
    # getAmountsOut reads reserves at pairFor(a, b): the factory's pair
    r_a, r_b = (
        (pair.getReserves()[0], pair.getReserves()[1])
        if pair.token0() == a.address
        else (pair.getReserves()[1], pair.getReserves()[0])
    )
    assert uniswap.router.getAmountsOut(10 * WAD, [a, b])[1] == pem.amount_out(10 * WAD, r_a, r_b)


@pytest.mark.fork
def test_fund_finds_the_balance_slot(usdc, deployer):
    """On a fork of real mainnet there is no faucet: `fork.write_balance`
    funds simulation accounts by writing the token's balance slot (shown
    here on the stand-in, a Vyper token: the probe must find its layout)."""
    before = usdc.balanceOf(deployer)
    supply = usdc.totalSupply()
    fork.write_balance(usdc, deployer, 1_234 * 10**6)
    assert usdc.balanceOf(deployer) == before + 1_234 * 10**6
    usdc.transfer(usdc.address, 34 * 10**6, sender=deployer)  # and the balance is spendable
    assert usdc.balanceOf(deployer) == before + 1_200 * 10**6
    assert usdc.totalSupply() == supply  # only the balance slot was written


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fork_start_seeds_records_and_stop_ends_it(tmp_path, project):
    """`ape pst fork start [--rpc URL --block N]` / `stop` as the functions
    behind them, on spare ports in scratch project folders (the real stand-in
    is left alone)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "node_modules").symlink_to(project.path / "node_modules")
    port = _free_port()
    state = fork.start(port=port, root=root)
    try:
        recorded = json.loads(fork.state_file(root).read_text())
        assert recorded["pid"] == state.pid and recorded["port"] == port
        assert fork._rpc(state.uri, "eth_chainId") == "0x1"
        for address in (fork.UNISWAP_V2_FACTORY, fork.UNISWAP_V2_ROUTER02, fork.WETH, fork.USDC):
            assert len(fork._rpc(state.uri, "eth_getCode", [address, "latest"])) > 2, address
        with pytest.raises(fork.ForkError, match="already runs"):
            fork.start(port=_free_port(), root=root)
        # --rpc: a fork of a running network (here this stand-in) instead of the seeding
        other = tmp_path / "other"
        other.mkdir()
        (other / "node_modules").symlink_to(project.path / "node_modules")
        block = int(fork._rpc(state.uri, "eth_blockNumber"), 16)
        forked = fork.start(port=_free_port(), rpc=state.uri, block=block, root=other)
        try:
            assert fork._rpc(forked.uri, "eth_chainId") == "0x1"
            assert int(fork._rpc(forked.uri, "eth_blockNumber"), 16) == block
            assert fork._rpc(forked.uri, "eth_getCode", [fork.USDC, "latest"]) == (
                fork._rpc(state.uri, "eth_getCode", [fork.USDC, "latest"])
            )
            assert json.loads(fork.state_file(other).read_text())["rpc"] == state.uri
        finally:
            fork.stop(other)
    finally:
        stopped = fork.stop(root)
    assert stopped.pid == state.pid
    assert not fork.state_file(root).exists()
    assert not fork.port_open(port)
    assert fork.stop(root) is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["pst", "simulate", "crash"], "Invalid value for 'SCENARIO'"),
        (["pst", "simulate", "selloff", "--days", "0"], "Invalid value for '--days'"),
        (
            ["pst", "simulate", "selloff", "--network", "ethereum:mainnet-fork:foundry"],
            "the mainnet stand-in is not running",
        ),
        # without the check, anvil fails to fork it with a long debug text
        (["pst", "list", "--network", "ethereum:mainnet-fork:foundry"], "the mainnet stand-in is not running"),
        (["pst", "list", "--network", "ethereum:mainnet:node"], "the mainnet stand-in is not running"),
        (["pst", "fork", "start", "--block", "5"], "--block needs --rpc"),
    ],
)
def test_cli_bad_input_is_one_line_error(tmp_path, args, message):
    # a scratch project whose stand-in port nobody listens on, whatever runs on 8555
    (tmp_path / "ape-config.yaml").write_text(
        f"name: scratch\nnode:\n  ethereum:\n    mainnet:\n      uri: http://127.0.0.1:{_free_port()}\n"
        "foundry:\n  fork:\n    ethereum:\n      mainnet:\n        upstream_provider: node\n"
    )
    result = subprocess.run(["ape", *args], check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1, result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("ERROR: ") and message in line


def _executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_anvil_comes_from_pst_node_modules_then_the_project_then_path(tmp_path, monkeypatch):
    root, configured, on_path = tmp_path / "project", tmp_path / "shared" / "node_modules", tmp_path / "bin"
    monkeypatch.setenv("PATH", str(on_path))
    with pytest.raises(fork.ForkError, match="no anvil in .* or on PATH: `npm install @foundry-rs/anvil`"):
        fork.anvil_executable(root, configured)
    path_anvil = _executable(on_path / "anvil")
    assert fork.anvil_executable(root, configured) == path_anvil
    project_anvil = _executable(root / "node_modules" / ".bin" / "anvil")
    assert fork.anvil_executable(root, configured) == project_anvil
    configured_anvil = _executable(configured / ".bin" / "anvil")
    assert fork.anvil_executable(root, configured) == configured_anvil
