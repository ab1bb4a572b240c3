"""The mainnet stand-in: a local anvil with chain id 1 that has the real
Uniswap V2 contracts (npm build artifacts) at their real mainnet addresses and
a 6-decimal stablecoin at USDC's mainnet address.

Nothing here reaches the internet. The Uniswap V2 ``UniswapV2Factory``,
``UniswapV2Router02`` and ``WETH9`` are the npm build artifacts, i.e. the
bytecode Uniswap deployed; the "USDC" is :file:`TestStablecoin.vy`, a plain
ERC-20 with a public ``faucet`` and 6 decimals -- a stand-in, *not* Circle's
FiatToken. ``ape pst fork start --rpc URL`` forks a real network instead; then
every contract is the real one.

How the contracts get to their addresses: each is deployed normally by an
anvil dev account, then its runtime code is copied to the mainnet address with
``anvil_setCode`` and its storage slots with ``anvil_setStorageAt`` (read from
``anvil_dumpState``). Immutables live in the runtime code, so Router02 is
deployed with the *mainnet* factory and WETH addresses as constructor
arguments; WETH9's name/symbol/decimals and the factory's ``feeToSetter``
are storage and are copied.

ape-foundry's ``ethereum:mainnet-fork:foundry`` forks this node (see
``ape-config.yaml``), so tests and ``ape pst simulate`` run on a throw-away
fork of it and the stand-in itself stays as seeded.
"""

import gzip
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ape_pst_plugin.exceptions import CorruptFile, ForkError, StandInNotRunning

#: Mainnet addresses (checksummed) of what the stand-in provides.
UNISWAP_V2_FACTORY = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"
UNISWAP_V2_ROUTER02 = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
#: keccak256 of UniswapV2Pair's creation code, hard-coded in mainnet's Router02
#: (UniswapV2Library.pairFor): pairs must be created from this exact code.
PAIR_INIT_CODE_HASH = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"

DEFAULT_PORT = 8555
DEVNET_PORT = 8545
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Node:
    """A kind of local anvil the plugin runs and records: the mainnet
    stand-in (chain id 1, ``ape pst fork``) or the devnet (chain id 31337,
    ``ape pst devnet``). Both are seeded the same way (Uniswap V2 and the USDC
    stand-in at their mainnet addresses)."""

    name: str  # in messages
    command: str  # the `ape pst` group that manages it
    record: str  # .build/<record>.json and .build/<record>.log
    chain_id: int
    block_time: int | None = None  # anvil --block-time (None: a block per transaction)


STANDIN = Node("stand-in", "fork", "pst-fork", 1)
#: the devnet mines a block every second, so a keeper sees time pass without transactions
DEVNET = Node("devnet", "devnet", "pst-devnet", 31337, block_time=1)


__all__ = [
    "DEVNET",
    "STANDIN",
    "ForkError",
    "ForkState",
    "Node",
    "StandInNotRunning",
    "anvil_executable",
    "read_state",
    "require_standin",
    "start",
    "state_file",
    "stop",
    "upstream_is_local",
]


@dataclass
class ForkState:
    """What ``ape pst fork start`` records in ``.build/pst-fork.json``."""

    pid: int
    port: int
    log: str
    rpc: str | None = None  # upstream when forking a real network
    block: int | None = None

    @property
    def uri(self) -> str:
        return f"http://{HOST}:{self.port}"


def project_root() -> Path:
    from ape import config

    return Path(config.local_project.path)


def state_file(root: Path | None = None, node: Node = STANDIN) -> Path:
    return (root or project_root()) / ".build" / f"{node.record}.json"


def node_modules_path(root: Path | None = None) -> Path:
    """``pst.node_modules`` (absolute, or relative to the project ``root``)."""
    from ape import config

    from ape_pst_plugin.config import CONFIG_KEY

    return ((root or project_root()) / config.get_config(CONFIG_KEY).node_modules).resolve()


def anvil_executable(root: Path | None = None, node_modules: Path | None = None) -> Path:
    """The anvil to run: ``<pst.node_modules>/.bin/anvil``, else the
    project's ``node_modules/.bin/anvil``, else ``anvil`` on PATH."""
    root = root or project_root()
    node_modules = node_modules if node_modules is not None else node_modules_path(root)
    candidates = [Path(node_modules) / ".bin" / "anvil", root / "node_modules" / ".bin" / "anvil"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    if found := shutil.which("anvil"):
        return Path(found)
    raise ForkError(
        f"no anvil in {candidates[0].parent}, {candidates[1].parent} or on PATH: "
        "`npm install @foundry-rs/anvil` in the project (or install Foundry)"
    )


def upstream_is_local() -> bool:
    """Whether :func:`upstream_uri` is on this machine (the stand-in)."""
    from urllib.parse import urlparse

    return urlparse(upstream_uri()).hostname in ("127.0.0.1", "localhost", "::1")


def require_standin(choice: str) -> None:
    """Raises :class:`StandInNotRunning` unless the node that ``choice``
    (``ethereum:mainnet-fork:...``) forks answers on loopback."""
    from urllib.parse import urlparse

    uri = upstream_uri()
    upstream = urlparse(uri)
    if not port_open(upstream.port or 80, upstream.hostname or HOST):
        raise StandInNotRunning(
            f"the mainnet stand-in is not running ({uri}, "
            + (f"which {choice} forks" if "-fork" in choice else "ethereum:mainnet's node")
            + "): start it with `ape pst fork start`"
        )


def require_devnet(provider: str = "node") -> None:
    """Raises :class:`StandInNotRunning` unless the node ``ethereum:local:node``
    reaches answers (a loopback one: the devnet). ``provider`` is the last
    part of the network choice: ``node``, or the URI ape put in its place."""
    from urllib.parse import urlparse

    uri = provider if "://" in provider else devnet_uri()
    where = urlparse(uri)
    if where.hostname in ("127.0.0.1", "localhost", "::1") and not port_open(where.port or 80, where.hostname):
        raise StandInNotRunning(
            f"the devnet is not running ({uri}, which ethereum:local:node reaches): start it with `ape pst devnet start`"
        )


def upstream_uri() -> str:
    """What ``ethereum:mainnet-fork:foundry`` forks: ``node: ethereum:
    mainnet: uri`` in ape-config.yaml (http://127.0.0.1:8555 here)."""
    from ape import config

    try:
        uri = config.get_config("node").ethereum.mainnet.get("uri")
    except (AttributeError, KeyError):
        uri = None
    return uri or f"http://{HOST}:{DEFAULT_PORT}"


def configured_port(node: Node = STANDIN) -> int:
    """The stand-in's port: ``pst.fork_port`` (env ``APE_PST_FORK_PORT``),
    else the port of :func:`upstream_uri`. The devnet's: ``pst.devnet_port``,
    else the port of ``node: ethereum: local: uri``, else 8545."""
    from urllib.parse import urlparse

    from ape import config

    from ape_pst_plugin.config import CONFIG_KEY

    if node is DEVNET:
        port = config.get_config(CONFIG_KEY).devnet_port
        return int(port) if port else (urlparse(devnet_uri()).port or DEVNET_PORT)
    port = config.get_config(CONFIG_KEY).fork_port
    return int(port) if port else (urlparse(upstream_uri()).port or DEFAULT_PORT)


def devnet_uri() -> str:
    """What ``ethereum:local:node`` reaches: ``node: ethereum: local: uri`` in ape-config.yaml."""
    from ape import config

    try:
        uri = config.get_config("node").ethereum.local.get("uri")
    except (AttributeError, KeyError):
        uri = None
    return uri or f"http://{HOST}:{DEVNET_PORT}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers signal 0: look at its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _cmdline(pid: int) -> list[str] | None:
    """The command line of ``pid`` from /proc, [] if it is gone (or a
    zombie), None where there is no /proc to ask."""
    if not Path("/proc/self/cmdline").exists():
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_our_anvil(pid: int, port: int) -> bool:
    """Whether ``pid`` is an anvil serving ``port`` (its executable or, for
    npm's node wrapper, its script is named anvil and it has ``--port PORT``).
    Without /proc: the process is alive and the port answers."""
    args = _cmdline(pid)
    if args is None:
        return _alive(pid) and port_open(port)
    named = any("anvil" in part for part in args[:2])
    ported = any(a == "--port" and b == str(port) for a, b in itertools.pairwise(args))
    return named and ported


def _note(notes: list[str] | None, message: str) -> None:
    if notes is None:
        from ape.logging import logger

        logger.warning(message)
    else:
        notes.append(message)


def _parse_state(path: Path) -> ForkState:
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(ForkState)}
        if not isinstance(data, dict) or not {"pid", "port", "log"} <= set(data) <= known:
            raise ValueError(f"expected the keys {', '.join(sorted(known))}")
        state = ForkState(**data)
        if not isinstance(state.pid, int) or not isinstance(state.port, int) or state.pid <= 0:
            raise ValueError("pid and port must be positive integers")
    except (OSError, UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
        raise CorruptFile(path, str(err)) from None
    return state


def read_state(root: Path | None = None, notes: list[str] | None = None, node: Node = STANDIN) -> ForkState | None:
    """The running stand-in (or devnet), or None. A record whose pid is not
    an anvil on the recorded port any more (stale), or that cannot be read
    (corrupt), is removed and counts as none; what was removed goes to
    ``notes`` (else to ape's log as a warning). No process is touched."""
    path = state_file(root, node)
    if not path.is_file():
        return None
    try:
        state = _parse_state(path)
    except CorruptFile as err:
        path.unlink(missing_ok=True)
        _note(notes, f"{err.path} was corrupt ({err.reason}): removed it, no {node.name} recorded")
        return None
    if not is_our_anvil(state.pid, state.port):
        path.unlink(missing_ok=True)
        _note(notes, f"removed the stale record {path}: pid {state.pid} is not an anvil on port {state.port}")
        return None
    return state


def _write_state(path: Path, state: ForkState) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(state)) + "\n")
    tmp.replace(path)


def _rpc(uri: str, method: str, params: list | None = None, timeout: float = 30):
    import requests

    response = requests.post(
        uri, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout
    )
    body = response.json()
    if "error" in body:
        raise ForkError(f"{method}: {body['error'].get('message', body['error'])}")
    return body["result"]


def _wait_ready(uri: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
            raise ForkError(f"anvil exited with code {process.returncode}: {' '.join(tail) or 'see ' + str(log)}")
        try:
            _rpc(uri, "eth_chainId", timeout=2)
            return
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.2)
    raise ForkError(f"anvil did not answer on {uri} within {timeout:.0f} s (log: {log})")


def start(
    port: int | None = None,
    rpc: str | None = None,
    block: int | None = None,
    root: Path | None = None,
    notes: list[str] | None = None,
    node: Node = STANDIN,
) -> ForkState:
    """Starts the stand-in (or a fork of ``rpc``), or the devnet, on loopback and records it."""
    if block is not None and rpc is None:
        raise ForkError("--block needs --rpc (the block of the network to fork)")
    root = root or project_root()
    if (running := read_state(root, notes, node)) is not None:
        raise ForkError(
            f"the {node.name} already runs (pid {running.pid}, {running.uri}): `ape pst {node.command} stop` first"
        )
    port = port or configured_port(node)
    if port_open(port):
        raise ForkError(f"port {port} on {HOST} is taken by another process: choose another with --port")
    node_modules = node_modules_path(root)
    anvil = anvil_executable(root, node_modules)
    log = root / ".build" / f"{node.record}.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
    except OSError as err:
        raise ForkError(f"cannot write {log} ({err.strerror or err}): make {log.parent} writable") from None
    cmd = [str(anvil), "--host", HOST, "--port", str(port), "--base-fee", "0", "--gas-price", "0"]
    if rpc:
        cmd += ["--fork-url", rpc]
        if block is not None:
            cmd += ["--fork-block-number", str(block)]
    else:
        cmd += ["--chain-id", str(node.chain_id)]
    if node.block_time:
        cmd += ["--block-time", str(node.block_time)]
    with log.open("w") as out:
        # own session: Ctrl-C in the shell that started it does not stop it
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    state = ForkState(pid=process.pid, port=port, log=str(log), rpc=rpc, block=block)
    try:
        _wait_ready(state.uri, process, log, timeout=120 if rpc else 30)
        if not rpc:
            seed(state.uri, root, node_modules)
        _write_state(state_file(root, node), state)
    except BaseException:
        _terminate(process.pid)
        raise
    return state


def _terminate(pid: int, timeout: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # reap it if it is our child (same process started it)
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            if not _alive(pid):
                return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def stop(root: Path | None = None, notes: list[str] | None = None, node: Node = STANDIN) -> ForkState | None:
    """Stops the recorded stand-in (or devnet); None if none was running. Only a
    process that is an anvil on the recorded port is ever signalled (:func:`read_state`)."""
    root = root or project_root()
    state = read_state(root, notes, node)
    if state is None:
        return None
    _terminate(state.pid)
    state_file(root, node).unlink(missing_ok=True)
    return state


# --------------------------------------------------------------------- seeding
def _deploy(uri: str, sender: str, bytecode: str) -> str:
    tx = _rpc(uri, "eth_sendTransaction", [{"from": sender, "data": bytecode, "gas": hex(10_000_000)}])
    receipt = _rpc(uri, "eth_getTransactionReceipt", [tx])
    deadline = time.monotonic() + 30
    while receipt is None and time.monotonic() < deadline:  # anvil mines in the background
        time.sleep(0.02)
        receipt = _rpc(uri, "eth_getTransactionReceipt", [tx])
    if receipt is None or int(receipt["status"], 16) != 1:
        raise ForkError(f"seeding the node: deployment {tx} failed")
    return receipt["contractAddress"]


def _storage(uri: str, address: str) -> dict[str, str]:
    """Every non-zero storage slot of ``address`` (from anvil_dumpState)."""
    dump = _rpc(uri, "anvil_dumpState")
    state = json.loads(gzip.decompress(bytes.fromhex(dump.removeprefix("0x"))))
    for account, data in state["accounts"].items():
        if account.lower() == address.lower():
            return data.get("storage", {})
    return {}


def _move(uri: str, temporary: str, target: str) -> None:
    """Puts the code and storage of ``temporary`` at ``target``; clears ``temporary``."""
    _rpc(uri, "anvil_setCode", [target, _rpc(uri, "eth_getCode", [temporary, "latest"])])
    for slot, value in _storage(uri, temporary).items():
        _rpc(uri, "anvil_setStorageAt", [target, hex(int(slot, 16)), "0x" + format(int(value, 16), "064x")])
    _rpc(uri, "anvil_setCode", [temporary, "0x"])


def _encode(types: list[str], values: list) -> str:
    from eth_abi import encode

    return encode(types, values).hex()


def seed(uri: str, root: Path | None = None, node_modules: Path | None = None) -> None:
    """Puts WETH9, UniswapV2Factory, UniswapV2Router02 and the USDC stand-in
    at their mainnet addresses on the anvil at ``uri`` (the Uniswap build
    artifacts from ``pst.node_modules``)."""
    from ape_pst_plugin.npm import _load

    node_modules = node_modules or node_modules_path(root)
    [deployer] = _rpc(uri, "eth_accounts")[:1]

    def code(name):
        return _load(name, node_modules).deployment_bytecode.bytecode

    # feeToSetter: mainnet's is a Uniswap multisig; here an anvil dev account
    weth = _deploy(uri, deployer, code("WETH9"))
    factory = _deploy(uri, deployer, code("UniswapV2Factory") + _encode(["address"], [deployer]))
    router = _deploy(
        uri, deployer, code("UniswapV2Router02") + _encode(["address", "address"], [UNISWAP_V2_FACTORY, WETH])
    )
    usdc = _deploy(
        uri,
        deployer,
        stablecoin_bytecode() + _encode(["string", "string", "uint8"], ["USD Coin (stand-in)", "USDC", 6]),
    )
    for temporary, target in ((weth, WETH), (factory, UNISWAP_V2_FACTORY), (router, UNISWAP_V2_ROUTER02), (usdc, USDC)):
        _move(uri, temporary, target)
    _rpc(uri, "evm_mine")


def stablecoin_bytecode() -> str:
    from ape_pst_plugin.deployment import _containers

    bytecode = _containers().TestStablecoin.contract_type.deployment_bytecode.bytecode
    return bytecode if bytecode.startswith("0x") else "0x" + bytecode


# ---------------------------------------------------------------- for ape code
def has_standin(provider=None) -> bool:
    """True when the connected chain has chain id 1 and Uniswap V2 at the
    mainnet addresses (the stand-in, a fork of it, or a fork of mainnet)."""
    from ape import chain

    return chain.chain_id == 1 and has_seeded_uniswap(provider)


def has_seeded_uniswap(provider=None) -> bool:
    """True when the connected chain has Uniswap V2 at the mainnet addresses
    (the stand-in, the devnet, or a fork of mainnet)."""
    from ape import chain

    provider = provider or chain.provider
    return len(provider.get_code(UNISWAP_V2_FACTORY)) > 0 and len(provider.get_code(UNISWAP_V2_ROUTER02)) > 0


def mainnet_uniswap():
    """Uniswap V2 at the mainnet addresses."""
    from ape_pst_plugin.uniswap import connect_uniswap

    return connect_uniswap(UNISWAP_V2_FACTORY, UNISWAP_V2_ROUTER02, WETH)


def mainnet_usdc():
    """The token at USDC's mainnet address: the stand-in (``TestStablecoin``,
    with ``faucet``) on the offline stand-in, Circle's USDC on a real fork."""
    from ape_pst_plugin.deployment import _containers

    return _containers().TestStablecoin.at(USDC)


def is_standin_usdc(token) -> bool:
    """Whether ``token`` is the faucet-able stand-in, not a real stablecoin."""
    from ape import chain

    # Vyper appends the immutables to the runtime code: compare the prefix
    return bytes(chain.provider.get_code(token.address)).startswith(project_runtime_code())


def project_runtime_code() -> bytes:
    from eth_utils import to_bytes

    from ape_pst_plugin.deployment import _containers

    return to_bytes(hexstr=_containers().TestStablecoin.contract_type.runtime_bytecode.bytecode)


def fund(token, to, amount: int) -> None:
    """Gives ``to`` ``amount`` more of ``token``: the stand-in's faucet, else
    (a real fork) by writing its balance slot with ``anvil_setStorageAt``,
    found by probing ``mapping(address => uint256)`` at slots 0..19 in
    Solidity's (key, slot) and Vyper's (slot, key) hashing order."""
    if is_standin_usdc(token):
        token.faucet(to, amount, sender=_any_sender())
        return
    write_balance(token, to, amount)


def write_balance(token, to, amount: int) -> None:
    """Adds ``amount`` to ``to``'s balance by writing the token's storage."""
    from ape import chain
    from eth_abi import encode
    from eth_utils import keccak, to_checksum_address

    address = to_checksum_address(str(getattr(to, "address", to)))
    provider = chain.provider
    target = token.balanceOf(address) + amount
    keys = [
        keccak(encode(types, values))
        for slot in range(20)
        for types, values in ((["address", "uint256"], [address, slot]), (["uint256", "address"], [slot, address]))
    ]
    for raw in keys:
        key = "0x" + raw.hex()
        before = provider.get_storage(token.address, key)
        provider.make_request("anvil_setStorageAt", [token.address, key, "0x" + format(target, "064x")])
        if token.balanceOf(address) == target:
            return
        provider.make_request("anvil_setStorageAt", [token.address, key, "0x" + bytes(before).rjust(32, b"\0").hex()])
    raise ForkError(f"cannot find the balance slot of {token.address} to fund {address}")


def _any_sender():
    from ape import accounts

    return accounts.test_accounts[0]
