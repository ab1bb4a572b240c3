# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST listing factory
@custom:contract-name ListingFactory
@license GNU Affero General Public License v3.0 only
@notice The registry of PST listings. `create_listing` (admin only: the
        governance timelock, so a listing needs DAO approval) deploys one
        listing's token, revenue router, staking distributor, PE oracle,
        ALAR reserve and merchant vesting from blueprints, creates (or finds)
        the token's Uniswap V2 pair with the settlement token, and pulls the
        merchant's performance stake into the reserve, checking that exactly
        the stake arrived (fee-on-transfer and rebasing settlement tokens are
        refused).
        Until the underwriting registry serves attestations, the factory is
        the listings' revenue verifier: the admin records a merchant's
        verified month revenue (at listing, then at least every
        `MAX_VALIDITY`), and routers cap counted revenue at it plus
        `tolerance_bps`, through the same `IRevenueVerifier` views. A
        merchant's revenue is verified in one settlement token (its first
        listing's), so a later listing in a token of other decimals cannot
        rescale an earlier listing's cap.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.utils import create

from modules import constants as c
from modules import reserve_base
from interfaces import IPEOracle
from interfaces import IRevenueRouter
from interfaces import IUniswapV2Factory
from interfaces import IUniswapV2Pair
from interfaces import IRevenueVerifier

implements: IRevenueVerifier

initializes: ownable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
)


struct Listing:
    token: address
    router: address
    staking: address
    oracle: address
    reserve: address
    vesting: address
    pair: address
    settlement: address
    merchant: address
    created_at: uint256


struct Blueprints:
    token: address
    router: address
    staking: address
    oracle: address
    reserve: address
    vesting: address


struct Parties:
    staking: address
    merchant: address
    payout: address
    vesting: address
    reserve: address
    verifier: address


event ListingCreated:
    id: indexed(uint256)
    token: indexed(address)
    merchant: indexed(address)
    router: address
    staking: address
    oracle: address
    reserve: address
    vesting: address
    pair: address
    stake: uint256


event MonthRevenueVerified:
    merchant: indexed(address)
    month_revenue: uint256
    cap: uint256
    issued_at: uint256


event ToleranceChanged:
    tolerance_bps: uint256


MAX_VALIDITY: public(constant(uint256)) = c.MAX_VALIDITY
# a verification record packs (issued_at << 192) | cap
CAP_MASK: constant(uint256) = (1 << 192) - 1

UNISWAP_FACTORY: public(immutable(IUniswapV2Factory))
TOKEN_BLUEPRINT: public(immutable(address))
ROUTER_BLUEPRINT: public(immutable(address))
STAKING_BLUEPRINT: public(immutable(address))
ORACLE_BLUEPRINT: public(immutable(address))
RESERVE_BLUEPRINT: public(immutable(address))
VESTING_BLUEPRINT: public(immutable(address))

listing_count: public(uint256)
listings: public(HashMap[uint256, Listing])
listing_id_of_token: public(HashMap[address, uint256])  # id + 1; 0 = unknown
guardian: public(address)
tolerance_bps: public(uint256)
month_revenue: public(HashMap[address, uint256])
# the settlement token a merchant's verified revenue is denominated in (its first listing's)
revenue_token: public(HashMap[address, address])
verification_count: public(HashMap[address, uint256])
_verifications: HashMap[address, HashMap[uint256, uint256]]

# CREATE nonce of this contract (EIP-161: starts at 1). The factory predicts
# the addresses of a listing's five contracts so that each can hold the
# others as immutables.
_nonce: uint256


@deploy
def __init__(uniswap_factory: IUniswapV2Factory, blueprints: Blueprints, guardian_: address):
    """
    @notice Sets the AMM and the blueprints every listing is deployed from.
    @param uniswap_factory The Uniswap V2 factory whose pairs listings trade on.
    @param blueprints EIP-5202 blueprints of the six listing contracts.
    @param guardian_ The pause guardian handed to each new router and reserve.
    """
    assert uniswap_factory.address != empty(address), "factory: uniswap factory is the zero address"
    assert blueprints.token != empty(address), "factory: blueprint is the zero address"
    assert blueprints.router != empty(address), "factory: blueprint is the zero address"
    assert blueprints.staking != empty(address), "factory: blueprint is the zero address"
    assert blueprints.oracle != empty(address), "factory: blueprint is the zero address"
    assert blueprints.reserve != empty(address), "factory: blueprint is the zero address"
    assert blueprints.vesting != empty(address), "factory: blueprint is the zero address"
    ownable.__init__()
    UNISWAP_FACTORY = uniswap_factory
    TOKEN_BLUEPRINT = blueprints.token
    ROUTER_BLUEPRINT = blueprints.router
    STAKING_BLUEPRINT = blueprints.staking
    ORACLE_BLUEPRINT = blueprints.oracle
    RESERVE_BLUEPRINT = blueprints.reserve
    VESTING_BLUEPRINT = blueprints.vesting
    self.guardian = guardian_
    self.tolerance_bps = c.DEFAULT_TOLERANCE_BPS
    self._nonce = 1


@external
@nonreentrant
def create_listing(
    name: String[25],
    symbol: String[5],
    supply: uint256,
    initial_price: uint256,
    merchant: address,
    payout: address,
    settlement: address,
    revenue_target: uint256,
    month_revenue: uint256,
) -> uint256:
    """
    @notice Lists a merchant: deploys its token, router, staking, oracle,
            reserve and vesting, mints the supply (10% to the reserve's
            inventory, the rest to the merchant's vesting), creates the
            Uniswap V2 pair, records the merchant's verified month revenue
            and pulls the performance stake (5% of `initial_price * supply`)
            from the merchant into the reserve. Admin only. The merchant
            must have approved this factory for the stake.
    @param name Token name.
    @param symbol Token symbol.
    @param supply Fixed token supply, 18 decimals, at most 2**96 - 1.
    @param initial_price Settlement token per listing token, 18 decimals.
    @param merchant The merchant: gets the token supply, posts the stake.
    @param payout Where the merchant's part of every payment goes.
    @param settlement The payment token (at most 18 decimals).
    @param revenue_target Gross revenue per 30-day period the merchant commits to.
    @param month_revenue The merchant's verified revenue of its last full
           month, settlement units (> 0): caps counted revenue.
    @return The new listing's id.
    """
    ownable._check_owner()
    assert merchant != empty(address), "factory: merchant is the zero address"
    assert payout != empty(address), "factory: payout is the zero address"
    assert settlement != empty(address), "factory: settlement is the zero address"
    assert supply != 0, "factory: zero supply"
    assert supply <= c.MAX_SUPPLY, "factory: supply above 2**96 - 1"
    assert initial_price != 0, "factory: zero price"
    assert month_revenue != 0, "factory: zero month revenue"
    denominated: address = self.revenue_token[merchant]
    assert denominated == empty(address) or denominated == settlement, "factory: merchant's verified revenue is in another settlement token"
    decimals: uint8 = staticcall IERC20Detailed(settlement).decimals()
    assert decimals <= c.MAX_SETTLEMENT_DECIMALS, "factory: settlement token has more than 18 decimals"

    stake: uint256 = self._required_stake(supply, initial_price, decimals)
    assert stake != 0, "factory: stake rounds to zero"

    nonce: uint256 = self._nonce
    staking: address = create._compute_create_address_self(nonce + 1)
    router: address = create._compute_create_address_self(nonce + 2)
    oracle: address = create._compute_create_address_self(nonce + 3)
    reserve: address = create._compute_create_address_self(nonce + 4)
    vesting: address = create._compute_create_address_self(nonce + 5)
    owner: address = ownable.owner
    guardian: address = self.guardian

    token: address = create_from_blueprint(
        TOKEN_BLUEPRINT, name, symbol, supply, vesting, reserve, c.RESERVE_ALLOCATION_BPS
    )
    pair: address = staticcall UNISWAP_FACTORY.getPair(token, settlement)
    if pair == empty(address):
        pair = extcall UNISWAP_FACTORY.createPair(token, settlement)
    deployed: address = create_from_blueprint(
        STAKING_BLUEPRINT, token, settlement, router, reserve, merchant, payout, vesting, c.STAKING_VESTING
    )
    assert deployed == staking, "factory: address prediction failed"
    deployed = create_from_blueprint(
        ROUTER_BLUEPRINT,
        settlement,
        Parties(staking=staking, merchant=merchant, payout=payout, vesting=vesting, reserve=reserve, verifier=self),
        c.DEFAULT_SHARE_BPS,
        c.PERIOD,
        owner,
        guardian,
    )
    assert deployed == router, "factory: address prediction failed"
    deployed = create_from_blueprint(
        ORACLE_BLUEPRINT, pair, token, router, reserve, vesting, decimals, c.DEFAULT_TWAP_WINDOW, c.DEFAULT_MAX_AGE, owner
    )
    assert deployed == oracle, "factory: address prediction failed"
    deployed = create_from_blueprint(
        RESERVE_BLUEPRINT,
        reserve_base.Wiring(
            token=IERC20(token), settlement=IERC20(settlement), pair=IUniswapV2Pair(pair), oracle=IPEOracle(oracle),
            router=IRevenueRouter(router), staking=staking, vesting=vesting, verifier=IRevenueVerifier(self),
            merchant=merchant
        ),
        decimals,
        stake,
        c.STAKE_BPS,
        revenue_target,
        owner,
        guardian,
    )
    assert deployed == reserve, "factory: address prediction failed"
    deployed = create_from_blueprint(
        VESTING_BLUEPRINT, token, merchant, reserve, supply - supply * c.RESERVE_ALLOCATION_BPS // c.BPS
    )
    assert deployed == vesting, "factory: address prediction failed"
    self._nonce = nonce + 6
    self.revenue_token[merchant] = settlement
    self._verify(merchant, month_revenue)

    before: uint256 = staticcall IERC20(settlement).balanceOf(reserve)
    assert extcall IERC20(settlement).transferFrom(merchant, reserve, stake, default_return_value=True), "factory: stake transfer failed"
    received: uint256 = staticcall IERC20(settlement).balanceOf(reserve) - before
    assert received == stake, "factory: settlement token is fee-on-transfer or rebasing"

    id: uint256 = self.listing_count
    self.listings[id] = Listing(
        token=token,
        router=router,
        staking=staking,
        oracle=oracle,
        reserve=reserve,
        vesting=vesting,
        pair=pair,
        settlement=settlement,
        merchant=merchant,
        created_at=block.timestamp,
    )
    self.listing_id_of_token[token] = id + 1
    self.listing_count = id + 1
    log ListingCreated(
        id=id, token=token, merchant=merchant, router=router, staking=staking, oracle=oracle, reserve=reserve,
        vesting=vesting, pair=pair, stake=stake
    )
    return id
@external
@view
def required_stake(supply: uint256, initial_price: uint256, settlement_decimals: uint8) -> uint256:
    """
    @notice The performance stake for a listing: 5% of
            `initial_price * supply`, in settlement token units.
    @param supply Token supply, 18 decimals.
    @param initial_price Settlement per token, 18 decimals.
    @param settlement_decimals Decimals of the settlement token (<= 18).
    """
    assert settlement_decimals <= c.MAX_SETTLEMENT_DECIMALS, "factory: settlement token has more than 18 decimals"
    return self._required_stake(supply, initial_price, settlement_decimals)


@external
def set_guardian(new_guardian: address):
    """
    @notice Sets the pause guardian given to routers and reserves created
            from now on.
            Admin only.
    @param new_guardian The guardian (zero address: none).
    """
    ownable._check_owner()
    self.guardian = new_guardian


@internal
@pure
def _required_stake(supply: uint256, initial_price: uint256, decimals: uint8) -> uint256:
    # market cap in 18-decimal settlement units, then scaled to the token's decimals
    market_cap: uint256 = initial_price * supply // c.WAD
    return market_cap * c.STAKE_BPS // c.BPS // 10 ** (18 - convert(decimals, uint256))


# ---------------------------------------------------------------- revenue verifier


@external
def set_month_revenue(merchant: address, month_revenue: uint256):
    """
    @notice Records `merchant`'s verified revenue of its last full month,
            issued now; fresh for `MAX_VALIDITY`. Admin only (timelock).
    @param merchant A listed merchant.
    @param month_revenue Units of the merchant's settlement token (`revenue_token`;
           0: the merchant has no verified revenue).
    """
    ownable._check_owner()
    assert merchant != empty(address), "factory: merchant is the zero address"
    self._verify(merchant, month_revenue)


@external
def set_tolerance_bps(tolerance_bps_: uint256):
    """
    @notice Sets how far counted revenue may exceed verified month revenue,
            for records issued from now on. Admin only (timelock).
    @param tolerance_bps_ Basis points, 0..2000.
    """
    ownable._check_owner()
    assert tolerance_bps_ <= c.MAX_TOLERANCE_BPS, "factory: tolerance_bps out of bounds"
    self.tolerance_bps = tolerance_bps_
    log ToleranceChanged(tolerance_bps=tolerance_bps_)


@external
@view
def verified_cap(merchant: address, at: uint256) -> uint256:
    """
    @notice The cap on `merchant`'s counted revenue for a period starting
            at `at`: `month_revenue * (10_000 + tolerance_bps) // 10_000` of
            the newest record issued at or before `at` and still fresh then
            (younger than `MAX_VALIDITY`); 0 if none.
    @param merchant The merchant.
    @param at A timestamp (a period's start).
    """
    count: uint256 = self.verification_count[merchant]
    if count == 0:
        return 0
    # binary search for the newest record issued at or before `at`
    lo: uint256 = 0
    hi: uint256 = count
    for _: uint256 in range(64):
        if lo >= hi:
            break
        mid: uint256 = (lo + hi) // 2
        if self._verifications[merchant][mid] >> 192 <= at:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0:
        return 0
    record: uint256 = self._verifications[merchant][lo - 1]
    if at - (record >> 192) >= c.MAX_VALIDITY:
        return 0
    return record & CAP_MASK


@external
@view
def is_fresh(merchant: address) -> bool:
    """
    @notice Whether `merchant`'s newest record is younger than `MAX_VALIDITY`.
    @param merchant The merchant.
    """
    count: uint256 = self.verification_count[merchant]
    if count == 0:
        return False
    return block.timestamp - (self._verifications[merchant][count - 1] >> 192) < c.MAX_VALIDITY


@external
@view
def verified_at(merchant: address) -> uint256:
    """
    @notice When `merchant`'s newest record was issued (0: never).
    @param merchant The merchant.
    """
    count: uint256 = self.verification_count[merchant]
    if count == 0:
        return 0
    return self._verifications[merchant][count - 1] >> 192


@internal
def _verify(merchant: address, month_revenue: uint256):
    cap: uint256 = month_revenue * (c.BPS + self.tolerance_bps) // c.BPS
    assert cap <= CAP_MASK, "factory: month revenue out of range"
    count: uint256 = self.verification_count[merchant]
    self._verifications[merchant][count] = (block.timestamp << 192) | cap
    self.verification_count[merchant] = count + 1
    self.month_revenue[merchant] = month_revenue
    log MonthRevenueVerified(merchant=merchant, month_revenue=month_revenue, cap=cap, issued_at=block.timestamp)
