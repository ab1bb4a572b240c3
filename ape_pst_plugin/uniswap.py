"""Uniswap V2 from its npm build artifacts: deploy it, seed a pool, trade."""

from dataclasses import dataclass

from ape.api import AccountAPI
from ape.contracts import ContractInstance

from ape_pst_plugin.npm import npm_contract

ZERO = "0x0000000000000000000000000000000000000000"
MAX = 2**256 - 1


@dataclass
class Uniswap:
    factory: ContractInstance
    router: ContractInstance
    weth: ContractInstance

    def pair(self, token_a, token_b) -> ContractInstance:
        address = self.factory.getPair(token_a, token_b)
        if address == ZERO:
            raise LookupError(f"no Uniswap V2 pair for {token_a} / {token_b}")
        return npm_contract("UniswapV2Pair").at(address)


def deploy_uniswap(deployer: AccountAPI) -> Uniswap:
    """WETH9, UniswapV2Factory and UniswapV2Router02, exactly as built by Uniswap."""
    weth = deployer.deploy(npm_contract("WETH9"))
    factory = deployer.deploy(npm_contract("UniswapV2Factory"), deployer)
    router = deployer.deploy(npm_contract("UniswapV2Router02"), factory, weth)
    return Uniswap(factory=factory, router=router, weth=weth)


def connect_uniswap(factory: str, router: str, weth: str | None = None) -> Uniswap:
    """Uniswap V2 contracts that are already deployed (e.g. mainnet's)."""
    router_instance = npm_contract("UniswapV2Router02").at(router)
    weth = weth or router_instance.WETH()
    return Uniswap(
        factory=npm_contract("UniswapV2Factory").at(factory),
        router=router_instance,
        weth=npm_contract("WETH9").at(weth),
    )


def add_liquidity(uniswap: Uniswap, provider: AccountAPI, token_a, amount_a: int, token_b, amount_b: int):
    """Adds liquidity through Router02 (approving it first)."""
    token_a.approve(uniswap.router, amount_a, sender=provider)
    token_b.approve(uniswap.router, amount_b, sender=provider)
    deadline = 2**64
    return uniswap.router.addLiquidity(token_a, token_b, amount_a, amount_b, 0, 0, provider, deadline, sender=provider)


def swap_exact_in(uniswap: Uniswap, trader: AccountAPI, token_in, amount_in: int, token_out):
    """Swaps `amount_in` of `token_in` for `token_out` through Router02."""
    token_in.approve(uniswap.router, amount_in, sender=trader)
    return uniswap.router.swapExactTokensForTokens(amount_in, 0, [token_in, token_out], trader, 2**64, sender=trader)
