"""Contracts nobody here wrote, loaded from npm build artifacts (ABI and
bytecode; no Solidity compiler needed): the Uniswap V2 AMM, Synthetix-style
StakingRewards, OpenZeppelin 4.9.6 and Safe 1.4.1."""

import json
from functools import cache
from pathlib import Path

from ape.contracts import ContractContainer
from ethpm_types import ContractType

#: (npm package, artifact path inside it) for every peer contract we use.
ARTIFACTS = {
    "UniswapV2Factory": ("@uniswap/v2-core", "build/UniswapV2Factory.json"),
    "UniswapV2Pair": ("@uniswap/v2-core", "build/UniswapV2Pair.json"),
    # the LP token's ERC-20 with its EIP-2612 permit (the gas anchor of an EIP-712 signature check)
    "UniswapV2ERC20": ("@uniswap/v2-core", "build/UniswapV2ERC20.json"),
    "UniswapV2Router02": ("@uniswap/v2-periphery", "build/UniswapV2Router02.json"),
    "WETH9": ("@uniswap/v2-periphery", "build/WETH9.json"),
    "StakingRewards": ("@uniswap/liquidity-staker", "build/StakingRewards.json"),
    "PaymentSplitter": ("@openzeppelin/contracts", "build/contracts/PaymentSplitter.json"),
    "TimelockController": ("@openzeppelin/contracts", "build/contracts/TimelockController.json"),
    "ERC20PresetMinterPauser": ("@openzeppelin/contracts", "build/contracts/ERC20PresetMinterPauser.json"),
    "Safe": ("@safe-global/safe-contracts", "build/artifacts/contracts/Safe.sol/Safe.json"),
    "SafeProxyFactory": (
        "@safe-global/safe-contracts",
        "build/artifacts/contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    ),
}


class ArtifactNotFound(FileNotFoundError):
    """An npm artifact is missing: run ``npm ci`` in the project."""


def node_modules_dir() -> Path:
    """The ``node_modules`` folder named by the ``pst`` config section."""
    from ape import config

    from ape_pst_plugin.config import CONFIG_KEY

    root = Path(config.local_project.path)
    return (root / config.get_config(CONFIG_KEY).node_modules).resolve()


@cache
def _load(name: str, root: Path) -> ContractType:
    if name not in ARTIFACTS:
        raise KeyError(f"unknown npm artifact {name!r}; known: {', '.join(sorted(ARTIFACTS))}")
    package, relative = ARTIFACTS[name]
    path = root / package / relative
    if not path.is_file():
        raise ArtifactNotFound(f"{path} is missing: run `npm ci` (package {package})")
    data = json.loads(path.read_text())
    bytecode = data["bytecode"]
    if isinstance(bytecode, dict):  # hardhat-style {"object": ...}
        bytecode = bytecode["object"]
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return ContractType.model_validate(
        {"contractName": name, "abi": data["abi"], "deploymentBytecode": {"bytecode": bytecode}}
    )


def npm_contract(name: str, root: Path | None = None) -> ContractContainer:
    """A deployable container for the npm artifact ``name`` (see :data:`ARTIFACTS`)."""
    return ContractContainer(_load(name, Path(root) if root else node_modules_dir()))
