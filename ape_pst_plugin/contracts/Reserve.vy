# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title ALAR: Automated Liquidity Assurance Reserve
@custom:contract-name Reserve
@license GNU Affero General Public License v3.0 only
@notice One listing's reserve, a thin wrapper over two modules:
        - `modules/credit.vy`: the merchant's performance stake, the
          listing's status (ACTIVE, LATE, DEFAULTED) and `assess()`;
        - `modules/stabiliser.vy`: `stabilise()`, which trades the free
          balance and the token inventory on the listing's Uniswap V2 pair
          to keep the TWAP PE inside the band.
        Setters answer to the owner (the governance timelock); a guardian
        may pause the stabiliser, only the owner unpauses.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.utils import pausable

from modules import constants as c
from modules import reserve_base as base
from modules import credit
from modules import stabiliser

initializes: ownable
initializes: pausable
initializes: base
initializes: credit[base := base]
initializes: stabiliser[base := base, credit := credit]

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
    base.TOKEN,
    base.SETTLEMENT,
    base.PAIR,
    base.ORACLE,
    base.ROUTER,
    base.STAKING,
    base.VESTING,
    base.VERIFIER,
    base.FUND,
    base.MERCHANT,
    base.SETTLEMENT_SCALE,
    base.TOKEN_IS_TOKEN0,
    credit.LISTING_STAKE,
    credit.STAKE_BPS,
    credit.stake,
    credit.status,
    credit.consecutive_misses,
    credit.next_period,
    credit.reference_price,
    credit.defaulted_at,
    credit.held_for_fund,
    credit.owed_to_stakers,
    credit.waived,
    stabiliser.net_spent,
)


event TreasuryWithdrawal:
    to: indexed(address)
    amount: uint256


event GuardianChanged:
    guardian: indexed(address)


SLASH_BPS: public(constant(uint256)) = c.SLASH_BPS
MAX_MISSES: public(constant(uint256)) = c.MAX_MISSES

guardian: public(address)


@deploy
def __init__(
    wiring: base.Wiring,
    settlement_decimals: uint8,
    stake_: uint256,
    stake_bps: uint256,
    revenue_target_: uint256,
    owner_: address,
    guardian_: address,
):
    """
    @notice Creates the reserve of one listing. The factory transfers the
            merchant's stake (`stake_`) right after deployment.
    @param wiring The listing's token, settlement token, pair, oracle,
           router, staking, vesting, revenue verifier, the protocol's
           protection fund and the merchant.
    @param settlement_decimals Decimals of the settlement token (<= 18).
    @param stake_ The listing-time stake, settlement units.
    @param stake_bps The stake's share of the market cap, bps.
    @param revenue_target_ Gross revenue per period the merchant commits to.
    @param owner_ The admin of the setters (the governance timelock).
    @param guardian_ May pause the stabiliser (zero address: none).
    """
    assert owner_ != empty(address), "reserve: owner is the zero address"
    ownable.__init__()
    ownable._transfer_ownership(owner_)
    pausable.__init__()
    base.__init__(wiring, settlement_decimals)
    credit.__init__(stake_, stake_bps, revenue_target_)
    stabiliser.__init__()
    self.guardian = guardian_


# ---------------------------------------------------------------- keepers


@external
@nonreentrant
def stabilise() -> uint256:
    """
    @notice Anyone may call. Buys tokens when the TWAP PE is below `pe_low`,
            sells inventory when it is above `pe_high`, does nothing (and
            changes nothing) inside the band. Reverts with the reason when
            the oracle is stale or PE undefined, when paused, during the
            cooldown, when a buy is due but the listing is late, defaulted
            or its verified revenue stale, when the spot is too far from the
            TWAP, or when no trade is possible.
    @return The amount given to the pool (settlement for a buy, tokens for
            a sell); 0 inside the band.
    """
    pausable._require_not_paused()
    return stabiliser._stabilise()


@external
@nonreentrant
def assess() -> uint256:
    """
    @notice Judges the oldest finished, unassessed period (anyone; one per
            call). A miss slashes `SLASH_BPS` of the remaining stake to the
            stakers; the `MAX_MISSES`-th miss in a row defaults the listing
            and holds the rest for the protection fund.
    @return The amount slashed to the stakers.
    """
    return credit._assess()


@external
@nonreentrant
def deliver_compensation():
    """
    @notice Sends the slashed stake the staking distributor could not
            receive earlier (anyone).
    """
    credit._deliver_compensation()


@external
def release_to_fund() -> uint256:
    """
    @notice Sends what is held for the protection fund to it. The fund
            only, when it opens the listing's pot (called from inside
            `assess()`, so it takes no reentrancy lock).
    @return The amount sent.
    """
    return credit._release_to_fund()


# ---------------------------------------------------------------- merchant


@external
@nonreentrant
def withdraw_excess_stake(amount: uint256):
    """
    @notice The merchant takes back stake above the floor
            (`max(LISTING_STAKE, STAKE_BPS * TWAP market cap)`), only while
            `ACTIVE` with every finished period assessed.
    @param amount Settlement units, > 0.
    """
    credit._withdraw_excess_stake(amount)


@external
@nonreentrant
def top_up_stake(amount: uint256):
    """
    @notice The merchant adds to its stake (approve this reserve first).
    @param amount Settlement units, > 0.
    """
    credit._top_up_stake(amount)


# ---------------------------------------------------------------- views


@external
@view
def free_balance() -> uint256:
    """
    @notice Settlement the stabiliser may spend: the balance less the stake
            and what is held for the protection fund.
    """
    return credit._free_balance()


@external
@view
def inventory() -> uint256:
    """
    @notice Listing tokens the reserve holds.
    """
    return staticcall base.TOKEN.balanceOf(self)


@external
@view
def required_stake() -> uint256:
    """
    @notice `STAKE_BPS` of the market cap at the TWAP, settlement units.
    """
    return credit._required_stake()


@external
@view
def stake_floor() -> uint256:
    """
    @notice The stake the merchant cannot withdraw below.
    """
    return credit._stake_floor()


@external
@view
def revenue_target() -> uint256:
    """
    @notice The target of the running period, settlement units.
    """
    return credit._target_of(staticcall base.ROUTER.current_period())


@external
@view
def revenue_target_of(period: uint256) -> uint256:
    """
    @notice The target in force when `period` began.
    @param period A period index (0 starts at listing).
    """
    return credit._target_of(period)


@external
@view
def pe_low() -> uint256:
    """
    @notice Below this TWAP PE (wad) the stabiliser buys.
    """
    return stabiliser._pe_low()


@external
@view
def pe_high() -> uint256:
    """
    @notice Above this TWAP PE (wad) the stabiliser sells.
    """
    return stabiliser._pe_high()


@external
@view
def capacity_bps() -> uint256:
    """
    @notice Share of holdings (free balance for buys, inventory for sells)
            the stabiliser may trade per epoch, bps.
    """
    return stabiliser._limit(128, 65535)


@external
@view
def max_slippage_bps() -> uint256:
    """
    @notice Tolerated shortfall of a trade's output against the TWAP pool, bps.
    """
    return stabiliser._limit(144, 65535)


@external
@view
def max_deviation_bps() -> uint256:
    """
    @notice Farthest the spot may be from the TWAP for a trade, either way, bps.
    """
    return stabiliser._limit(160, 65535)


@external
@view
def max_exposure_bps() -> uint256:
    """
    @notice Most of (free balance + net_spent) that net buying may have spent, bps.
    """
    return stabiliser._limit(176, 65535)


@external
@view
def cooldown() -> uint256:
    """
    @notice Least seconds between two trades.
    """
    return stabiliser._limit(64, 2**64 - 1)


@external
@view
def last_trade() -> uint256:
    """
    @notice Time of the last stabiliser trade (0: none yet).
    """
    return stabiliser._limit(0, 2**64 - 1)


@external
@view
def buy_window() -> (uint256, uint256, uint256):
    """
    @notice (epoch, budget, spent) of the current buy window; a new epoch's
            budget is fixed by its first buy.
    """
    return stabiliser._unpack_window(stabiliser._buy_window)


@external
@view
def sell_window() -> (uint256, uint256, uint256):
    """
    @notice (epoch, budget, spent) of the current sell window.
    """
    return stabiliser._unpack_window(stabiliser._sell_window)


# ---------------------------------------------------------------- governance


@external
def set_band(pe_low_: uint256, pe_high_: uint256):
    """
    @notice Sets the PE band. Admin only (timelock).
    @param pe_low_ Wad, >= 1e18.
    @param pe_high_ Wad, > pe_low_, <= 100e18.
    """
    ownable._check_owner()
    stabiliser._set_band(pe_low_, pe_high_)


@external
def set_limits(
    capacity_bps_: uint256,
    cooldown_: uint256,
    max_slippage_bps_: uint256,
    max_deviation_bps_: uint256,
    max_exposure_bps_: uint256,
):
    """
    @notice Sets the trading limits. Admin only (timelock).
    @param capacity_bps_ Per-epoch share of holdings the stabiliser may trade, <= 2500.
    @param cooldown_ Seconds between trades, 600 .. 30 days.
    @param max_slippage_bps_ Tolerated shortfall against the TWAP pool, <= 1000.
    @param max_deviation_bps_ Farthest spot from the TWAP, 100 .. 5000.
    @param max_exposure_bps_ Net buying limit, 1000 .. 10000.
    """
    ownable._check_owner()
    stabiliser._set_limits(capacity_bps_, cooldown_, max_slippage_bps_, max_deviation_bps_, max_exposure_bps_)


@external
def set_revenue_target(revenue_target_: uint256):
    """
    @notice Sets the gross revenue per period the merchant is held to, from
            the next period on. Admin only (timelock).
    @param revenue_target_ Settlement units per period.
    """
    ownable._check_owner()
    credit._set_revenue_target(revenue_target_)


@external
def waive(period: uint256):
    """
    @notice Force majeure: `period` (not yet assessed) counts neither as met
            nor as missed. Admin only (timelock).
    @param period The period index.
    """
    ownable._check_owner()
    credit._waive(period)


@external
def set_guardian(guardian_: address):
    """
    @notice Sets who may pause the stabiliser. Admin only.
    @param guardian_ The guardian (zero address: none).
    """
    ownable._check_owner()
    self.guardian = guardian_
    log GuardianChanged(guardian=guardian_)


@external
def pause():
    """
    @notice Stops `stabilise`. The guardian or the admin.
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "reserve: caller is not the guardian"
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes `stabilise`. Admin only (timelocked).
    """
    ownable._check_owner()
    pausable._unpause()


@external
@nonreentrant
def withdraw(to: address, amount: uint256):
    """
    @notice Treasury withdrawal of free settlement balance. Admin only
            (timelock). The stake and what is held for the protection fund
            cannot be withdrawn this way.
    @param to Recipient, not the zero address.
    @param amount Settlement units, > 0, at most the free balance.
    """
    ownable._check_owner()
    assert to != empty(address), "reserve: recipient is the zero address"
    assert amount != 0, "reserve: zero amount"
    assert amount <= credit._free_balance(), "reserve: amount exceeds the free balance"
    base._send(base.SETTLEMENT, to, amount)
    log TreasuryWithdrawal(to=to, amount=amount)
