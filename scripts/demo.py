"""Local demo on anvil: deploy the protocol (real Uniswap V2 from npm), list a
merchant with a 6-decimal settlement token, pay orders, stake, claim; then a
panic sell-off and the ALAR reserve buying back over several keeper calls
until the PE is back at 8.

    ape run demo        (or `make demo`)
"""

from ape import accounts, chain, project
from ape.exceptions import ContractLogicError
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from ape_pst_plugin import pe as pem
from ape_pst_plugin.deployment import deploy_protocol
from ape_pst_plugin.market import MarketPlan, open_market
from ape_pst_plugin.uniswap import deploy_uniswap

UNITS = 10**6
WAD = 10**18
DAY = 86_400
ORDERS = [129_990_000, 54_500_000, 1_250_000_000, 19_990_000, 310_000_000, 75_250_000]  # 6-decimal amounts


def usd(amount: int) -> str:
    return f"{amount / UNITS:,.2f}"


def wad(amount: int, places: int = 2) -> str:
    return f"{amount / WAD:,.{places}f}"


def table(title, *columns):
    t = Table(title=title)
    for column in columns:
        t.add_column(column, justify="right")
    return t


def revenue(console, market, customer, holders):
    listing, usdc = market.listing, market.usdc
    for holder, amount in holders:
        listing.token.transfer(holder, amount, sender=market.trader)
        listing.token.approve(listing.staking, amount, sender=holder)
        listing.staking.stake(amount, sender=holder)
    usdc.faucet(customer, 10_000 * UNITS, sender=customer)
    usdc.approve(listing.router, 2**256 - 1, sender=customer)
    payments = table("Payments through the revenue router (USDC)", "order", "gross", "merchant part", "holder part")
    merchant_total = holder_total = 0
    for number, amount in enumerate(ORDERS, start=1):
        before = usdc.balanceOf(listing.merchant)
        receipt = listing.router.pay(f"order-{number}".encode().ljust(32, b"\0"), amount, sender=customer)
        [event] = receipt.events.filter(listing.router.Payment)
        merchant_part = usdc.balanceOf(listing.merchant) - before
        merchant_total += merchant_part
        holder_total += event.holder_share
        payments.add_row(f"order-{number}", usd(amount), usd(merchant_part), usd(event.holder_share))
        chain.pending_timestamp += 6 * 3_600
    payments.add_row("total", usd(sum(ORDERS)), usd(merchant_total), usd(holder_total), style="bold")
    console.print(payments)

    market.sleep(8 * DAY)  # the 7-day revenue stream has fully vested
    claims = table("Stakers after 8 days (USDC)", "staker", "staked tokens", "claimed")
    claimed_total = 0
    for name, (holder, _) in zip(("alice", "bob"), holders):
        before = usdc.balanceOf(holder)
        listing.staking.claim(sender=holder)
        claimed = usdc.balanceOf(holder) - before
        claimed_total += claimed
        claims.add_row(name, wad(listing.staking.balanceOf(holder), 0), usd(claimed))
    claims.add_row("total", "", usd(claimed_total), style="bold")
    console.print(claims)
    console.print(
        f"holder share {usd(holder_total)} USDC, claimed {usd(claimed_total)} USDC "
        f"({holder_total - claimed_total} wei still streaming or left to rounding)\n"
    )


def selloff(console, market, keeper):
    reserve, oracle = market.reserve, market.oracle
    market.observe()
    console.print(f"before the sell-off: TWAP PE {wad(oracle.pe())}, spot {wad(market.spot(), 4)} USDC")
    market.sell_tokens(50_000 * WAD)
    console.print(f"[bold red]panic sell-off[/]: 50,000 tokens dumped, spot {wad(market.spot(), 4)} USDC\n")
    steps = table(
        "ALAR buys back: one keeper round a day (update, 30 min, update, stabilise)",
        "day", "TWAP PE", "P_low", "spot before", "spot after", "reserve USDC (free)", "inventory", "trade",
    )
    start = chain.blocks.head.timestamp
    for _ in range(20):
        market.settle()  # update; a TWAP window; update
        spot_before = market.spot()
        pe = oracle.pe()
        low, _ = pem.target_prices(oracle.eps(), reserve.pe_low(), reserve.pe_high())
        try:
            receipt = reserve.stabilise(sender=keeper)
        except ContractLogicError as err:
            trade = str(err)
        else:
            bought = receipt.events.filter(reserve.Bought)
            trade = f"paid {usd(bought[0].spent)} for {wad(bought[0].received, 0)} tokens" if bought else "none: PE in band"
        day = (chain.blocks.head.timestamp - start) / DAY
        steps.add_row(
            f"{day:.1f}", wad(pe), wad(low, 4), wad(spot_before, 4), wad(market.spot(), 4),
            usd(reserve.free_balance()), wad(reserve.inventory(), 0), trade,
        )
        if pe >= reserve.pe_low():
            break
        market.sleep(DAY - 2 * oracle.twap_window())
    console.print(steps)
    console.print(
        f"merchant stake untouched: {usd(reserve.stake())} USDC; "
        f"TWAP PE now {wad(oracle.pe())} (band {wad(reserve.pe_low(), 0)}-{wad(reserve.pe_high(), 0)})"
    )


def main():
    logger.set_level("WARNING")  # one line per transaction would drown the tables
    console = Console(width=160)
    admin, merchant, customer, guardian, alice, bob, trader, keeper, payer = accounts.test_accounts[:9]

    usdc = admin.deploy(project.TestStablecoin, "Test USD Coin", "USDC", 6)
    protocol = deploy_protocol(admin, deploy_uniswap(admin), guardian=guardian)
    market = open_market(chain, protocol, admin, merchant, payer, trader, keeper, usdc,
                         plan=MarketPlan(reserve_float=100_000))
    listing = market.listing
    console.print(
        f"listed [bold]{listing.token.symbol()}[/] on a Uniswap V2 pool of {wad(market.reserves()[0], 0)} tokens / "
        f"{usd(market.reserves()[1])} USDC; merchant stake {usd(listing.reserve.stake())} USDC in ALAR; "
        f"30 days of revenue history; TWAP PE {wad(listing.oracle.pe())}\n"
    )
    revenue(console, market, customer, [(alice, 30_000 * WAD), (bob, 10_000 * WAD)])
    selloff(console, market, keeper)
