"""Local demo: deploy the protocol on anvil, list a merchant with a 6-decimal
settlement token, pay orders, stake, let time pass, claim.

    ape run demo        (or `make demo`)
"""

from ape import accounts, chain, project
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from ape_pst_plugin.deployment import create_listing, deploy_protocol

UNITS = 10**6
WAD = 10**18
DAY = 86_400
ORDERS = [129_990_000, 54_500_000, 1_250_000_000, 19_990_000, 310_000_000, 75_250_000]  # 6-decimal amounts


def usd(amount: int) -> str:
    return f"{amount / UNITS:,.2f}"


def main():
    logger.set_level("WARNING")  # one line per transaction would drown the tables
    console = Console()
    admin, merchant, customer, guardian, alice, bob = accounts.test_accounts[:6]
    reserve = accounts.test_accounts[6]  # ALAR stands in as an address until the reserve contract lands

    usdc = admin.deploy(project.TestStablecoin, "Test USD Coin", "USDC", 6)
    protocol = deploy_protocol(admin, guardian=guardian)
    usdc.faucet(merchant, 200_000 * UNITS, sender=merchant)
    listing = create_listing(protocol, admin, merchant=merchant, settlement=usdc, reserve=reserve.address)
    console.print(
        f"listed [bold]{listing.token.symbol()}[/]: token {listing.token.address}, router {listing.router.address}, "
        f"staking {listing.staking.address}; merchant stake {usd(listing.stake)} USDC in the reserve"
    )

    for holder, amount in ((alice, 30_000 * WAD), (bob, 10_000 * WAD)):
        listing.token.transfer(holder, amount, sender=merchant)
        listing.token.approve(listing.staking, amount, sender=holder)
        listing.staking.stake(amount, sender=holder)

    usdc.faucet(customer, 10_000 * UNITS, sender=customer)
    usdc.approve(listing.router, 2**256 - 1, sender=customer)
    payments = Table(title="Payments through the revenue router (USDC)")
    for column in ("order", "gross", "merchant part", "holder part"):
        payments.add_column(column, justify="right")
    merchant_total = holder_total = 0
    for number, amount in enumerate(ORDERS, start=1):
        before = usdc.balanceOf(merchant)
        receipt = listing.router.pay(f"order-{number}".encode().ljust(32, b"\0"), amount, sender=customer)
        [event] = receipt.events.filter(listing.router.Payment)
        merchant_part = usdc.balanceOf(merchant) - before
        merchant_total += merchant_part
        holder_total += event.holder_share
        payments.add_row(f"order-{number}", usd(amount), usd(merchant_part), usd(event.holder_share))
        chain.pending_timestamp += 6 * 3_600
    payments.add_row("total", usd(sum(ORDERS)), usd(merchant_total), usd(holder_total), style="bold")
    console.print(payments)

    chain.pending_timestamp += 8 * DAY  # the 7-day revenue stream has fully vested
    claims = Table(title="Stakers after 8 days (USDC)")
    for column in ("staker", "staked tokens", "claimed"):
        claims.add_column(column, justify="right")
    claimed_total = 0
    for name, holder in (("alice", alice), ("bob", bob)):
        staked = listing.staking.balanceOf(holder)
        before = usdc.balanceOf(holder)
        listing.staking.claim(sender=holder)
        claimed = usdc.balanceOf(holder) - before
        claimed_total += claimed
        claims.add_row(name, f"{staked / WAD:,.0f}", usd(claimed))
    claims.add_row("total", "", usd(claimed_total), style="bold")
    console.print(claims)
    console.print(
        f"holder share {usd(holder_total)} USDC, claimed {usd(claimed_total)} USDC "
        f"({holder_total - claimed_total} wei left to rounding)"
    )
