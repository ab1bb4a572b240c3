# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST listing factory
@custom:contract-name ListingFactory
@license GNU Affero General Public License v3.0 only
@notice The registry of PST listings. `create_listing` (admin only: the
        governance timelock, so a listing needs DAO approval) lists a
        merchant on the terms of its fresh attestation in the
        `UnderwritingRegistry`: the grade sets the performance stake (bps of
        `initial_price * supply`), the revenue target (a ratio of the
        attested average monthly revenue) and the protection premium, and the
        listing PE (initial price over EPS from that revenue) must lie
        between `pe_low` and the grade's highest listing PE. It deploys the
        listing's token, revenue router, staking distributor, PE oracle,
        ALAR reserve and merchant vesting from blueprints, creates (or finds)
        the token's Uniswap V2 pair with the protocol's settlement token, and
        pulls the stake from the merchant into the reserve, checking that
        exactly the stake arrived (fee-on-transfer and rebasing settlement
        tokens are refused). The protocol's protection fund covers every
        listing (its router pays the grade's premium there); while the
        fund's coverage is under its minimum nothing is listed.
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
from interfaces import IProtectionFund

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
    grade: uint256
    premium_bps: uint256


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
    fund: address


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
    grade: uint256
    revenue_target: uint256


# the registry's answer to `record_listing` (UnderwritingRegistry.ListingTerms)
struct ListingTerms:
    agent: address
    grade: uint256
    stake_bps: uint256
    target_ratio_bps: uint256
    max_listing_pe: uint256
    premium_bps: uint256
    avg_monthly_revenue: uint256


interface IFund:
    def can_list() -> bool: view
    def cover_listing(
        id: uint256,
        token: address,
        router: address,
        reserve: address,
        vesting: address,
        merchant: address,
        market_cap: uint256,
    ): nonpayable


interface IUnderwritingRegistry:
    def SETTLEMENT() -> address: view
    def record_listing(merchant: address, reserve: address, market_cap: uint256) -> ListingTerms: nonpayable


UNISWAP_FACTORY: public(immutable(IUniswapV2Factory))
TOKEN_BLUEPRINT: public(immutable(address))
ROUTER_BLUEPRINT: public(immutable(address))
STAKING_BLUEPRINT: public(immutable(address))
ORACLE_BLUEPRINT: public(immutable(address))
RESERVE_BLUEPRINT: public(immutable(address))
VESTING_BLUEPRINT: public(immutable(address))
REGISTRY: public(immutable(IUnderwritingRegistry))
SETTLEMENT: public(immutable(address))
FUND: public(immutable(address))

listing_count: public(uint256)
listings: public(HashMap[uint256, Listing])
listing_id_of_token: public(HashMap[address, uint256])  # id + 1; 0 = unknown
guardian: public(address)

# CREATE nonce of this contract (EIP-161: starts at 1). The factory predicts
# the addresses of a listing's five contracts so that each can hold the
# others as immutables.
_nonce: uint256


@deploy
def __init__(
    uniswap_factory: IUniswapV2Factory,
    registry: IUnderwritingRegistry,
    fund: address,
    blueprints: Blueprints,
    guardian_: address,
):
    """
    @notice Sets the AMM, the underwriting registry and the blueprints every
            listing is deployed from.
    @param uniswap_factory The Uniswap V2 factory whose pairs listings trade on.
    @param registry The underwriting registry: attestations, terms, the
           revenue verifier of every listing and its settlement token.
    @param fund The protocol's protection fund (premiums, pots, breakers).
    @param blueprints EIP-5202 blueprints of the six listing contracts.
    @param guardian_ The pause guardian handed to each new router and reserve.
    """
    assert uniswap_factory.address != empty(address), "factory: uniswap factory is the zero address"
    assert registry.address != empty(address), "factory: registry is the zero address"
    assert fund != empty(address), "factory: fund is the zero address"
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
    REGISTRY = registry
    FUND = fund
    SETTLEMENT = staticcall registry.SETTLEMENT()
    self.guardian = guardian_
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
) -> uint256:
    """
    @notice Lists a merchant on the terms of its fresh attestation: deploys
            its token, router, staking, oracle, reserve and vesting, mints
            the supply (10% to the reserve's inventory, the rest to the
            merchant's vesting), creates the Uniswap V2 pair and pulls the
            grade's performance stake from the merchant into the reserve.
            Admin only. The merchant must have approved this factory for
            the stake (`quote`).
    @param name Token name.
    @param symbol Token symbol.
    @param supply Fixed token supply, 18 decimals, at most 2**96 - 1.
    @param initial_price Settlement token per listing token, 18 decimals.
    @param merchant The merchant: gets the token supply, posts the stake.
    @param payout Where the merchant's part of every payment goes.
    @return The new listing's id.
    """
    ownable._check_owner()
    assert merchant != empty(address), "factory: merchant is the zero address"
    assert payout != empty(address), "factory: payout is the zero address"
    assert supply != 0, "factory: zero supply"
    assert supply <= c.MAX_SUPPLY, "factory: supply above 2**96 - 1"
    assert initial_price != 0, "factory: zero price"
    assert staticcall IFund(FUND).can_list(), "factory: protection fund under minimum coverage"
    settlement: address = SETTLEMENT
    decimals: uint8 = staticcall IERC20Detailed(settlement).decimals()

    # the registry binds the attesting agent's bond to this listing
    market_cap: uint256 = initial_price * supply // c.WAD
    terms: ListingTerms = extcall REGISTRY.record_listing(
        merchant, create._compute_create_address_self(self._nonce + 4), market_cap
    )
    assert terms.grade != 0, "factory: grade below D"
    pe: uint256 = self._listing_pe(supply, initial_price, terms.avg_monthly_revenue, decimals)
    assert pe >= c.DEFAULT_PE_LOW, "factory: listing PE below pe_low"
    assert pe <= terms.max_listing_pe, "factory: listing PE above the grade's highest"
    stake: uint256 = self._stake(market_cap, terms.stake_bps, decimals)
    assert stake != 0, "factory: stake rounds to zero"
    revenue_target: uint256 = terms.avg_monthly_revenue * terms.target_ratio_bps // c.BPS

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
        Parties(
            staking=staking,
            merchant=merchant,
            payout=payout,
            vesting=vesting,
            reserve=reserve,
            verifier=REGISTRY.address,
            fund=FUND,
        ),
        c.DEFAULT_SHARE_BPS,
        terms.premium_bps,
        c.PERIOD,
        owner,
        guardian,
    )
    assert deployed == router, "factory: address prediction failed"
    deployed = create_from_blueprint(
        ORACLE_BLUEPRINT,
        pair,
        token,
        router,
        reserve,
        vesting,
        decimals,
        c.DEFAULT_TWAP_WINDOW,
        c.DEFAULT_MAX_AGE,
        owner,
    )
    assert deployed == oracle, "factory: address prediction failed"
    deployed = create_from_blueprint(
        RESERVE_BLUEPRINT,
        reserve_base.Wiring(
            token=IERC20(token),
            settlement=IERC20(settlement),
            pair=IUniswapV2Pair(pair),
            oracle=IPEOracle(oracle),
            router=IRevenueRouter(router),
            staking=staking,
            vesting=vesting,
            verifier=IRevenueVerifier(REGISTRY.address),
            fund=IProtectionFund(FUND),
            merchant=merchant,
        ),
        decimals,
        stake,
        terms.stake_bps,
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

    before: uint256 = staticcall IERC20(settlement).balanceOf(reserve)
    assert extcall IERC20(settlement).transferFrom(
        merchant, reserve, stake, default_return_value=True
    ), "factory: stake transfer failed"
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
        grade=terms.grade,
        premium_bps=terms.premium_bps,
    )
    self.listing_id_of_token[token] = id + 1
    self.listing_count = id + 1
    extcall IFund(FUND).cover_listing(
        id, token, router, reserve, vesting, merchant, market_cap // 10**(18 - convert(decimals, uint256))
    )
    log ListingCreated(
        id=id,
        token=token,
        merchant=merchant,
        router=router,
        staking=staking,
        oracle=oracle,
        reserve=reserve,
        vesting=vesting,
        pair=pair,
        stake=stake,
        grade=terms.grade,
        revenue_target=revenue_target,
    )
    return id


@external
@view
def listing_pe(supply: uint256, initial_price: uint256, avg_monthly_revenue: uint256) -> uint256:
    """
    @notice The PE a listing starts at: `initial_price` over the EPS of one
            period whose counted revenue is `avg_monthly_revenue` (the
            attested R), with 90% of `supply` circulating. Wad.
    @param supply Token supply, 18 decimals.
    @param initial_price Settlement per token, 18 decimals.
    @param avg_monthly_revenue R, settlement units (> 0).
    """
    assert avg_monthly_revenue != 0, "factory: zero revenue"
    return self._listing_pe(
        supply, initial_price, avg_monthly_revenue, staticcall IERC20Detailed(SETTLEMENT).decimals()
    )


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
def _stake(market_cap: uint256, stake_bps: uint256, decimals: uint8) -> uint256:
    # `stake_bps` of the market cap (18 decimals), in the token's decimals
    return market_cap * stake_bps // c.BPS // 10**(18 - convert(decimals, uint256))


@internal
@pure
def _listing_pe(supply: uint256, initial_price: uint256, revenue: uint256, decimals: uint8) -> uint256:
    # E = R * share_bps // BPS * YEAR // PERIOD; EPS = E (wad) / circulating; PE = price / EPS
    circulating: uint256 = supply - supply * c.RESERVE_ALLOCATION_BPS // c.BPS
    earnings: uint256 = revenue * c.DEFAULT_SHARE_BPS // c.BPS * c.YEAR // c.PERIOD
    eps: uint256 = earnings * 10**(18 - convert(decimals, uint256)) * c.WAD // circulating
    assert eps != 0, "factory: attested revenue gives no earnings"
    return initial_price * c.WAD // eps
