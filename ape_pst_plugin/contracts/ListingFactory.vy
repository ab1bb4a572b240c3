# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST listing factory
@custom:contract-name ListingFactory
@license GNU Affero General Public License v3.0 only
@notice The registry of PST listings. `create_listing` (admin only: the
        governance timelock, so a listing needs DAO approval) deploys one
        listing's token, revenue router, staking distributor, PE oracle and
        ALAR reserve from blueprints, creates (or finds) the token's Uniswap
        V2 pair with the settlement token, and pulls the merchant's
        performance stake into the reserve, checking that exactly the stake
        arrived (fee-on-transfer and rebasing settlement tokens are refused).
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.utils import create

from interfaces import IUniswapV2Factory

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


event ListingCreated:
    id: indexed(uint256)
    token: indexed(address)
    merchant: indexed(address)
    router: address
    staking: address
    oracle: address
    reserve: address
    pair: address
    stake: uint256


BPS: constant(uint256) = 10_000
WAD: constant(uint256) = 10**18
MAX_SETTLEMENT_DECIMALS: constant(uint8) = 18
RESERVE_ALLOCATION_BPS: constant(uint256) = 1_000
STAKE_BPS: constant(uint256) = 500
MAX_SUPPLY: constant(uint256) = (1 << 96) - 1  # as ListingToken
DEFAULT_SHARE_BPS: constant(uint256) = 1_000
VESTING: constant(uint256) = 7 * 86_400
PERIOD: constant(uint256) = 30 * 86_400
TWAP_WINDOW: constant(uint256) = 30 * 60
MAX_AGE: constant(uint256) = 2 * 3_600

UNISWAP_FACTORY: public(immutable(IUniswapV2Factory))
TOKEN_BLUEPRINT: public(immutable(address))
ROUTER_BLUEPRINT: public(immutable(address))
STAKING_BLUEPRINT: public(immutable(address))
ORACLE_BLUEPRINT: public(immutable(address))
RESERVE_BLUEPRINT: public(immutable(address))

listing_count: public(uint256)
listings: public(HashMap[uint256, Listing])
listing_id_of_token: public(HashMap[address, uint256])  # id + 1; 0 = unknown
guardian: public(address)

# CREATE nonce of this contract (EIP-161: starts at 1). The factory predicts
# the addresses of a listing's five contracts so that each can hold the
# others as immutables.
_nonce: uint256


@deploy
def __init__(uniswap_factory: IUniswapV2Factory, blueprints: Blueprints, guardian_: address):
    """
    @notice Sets the AMM and the blueprints every listing is deployed from.
    @param uniswap_factory The Uniswap V2 factory whose pairs listings trade on.
    @param blueprints EIP-5202 blueprints of the five listing contracts.
    @param guardian_ The pause guardian handed to each new router and reserve.
    """
    assert uniswap_factory.address != empty(address), "factory: uniswap factory is the zero address"
    assert blueprints.token != empty(address), "factory: blueprint is the zero address"
    assert blueprints.router != empty(address), "factory: blueprint is the zero address"
    assert blueprints.staking != empty(address), "factory: blueprint is the zero address"
    assert blueprints.oracle != empty(address), "factory: blueprint is the zero address"
    assert blueprints.reserve != empty(address), "factory: blueprint is the zero address"
    ownable.__init__()
    UNISWAP_FACTORY = uniswap_factory
    TOKEN_BLUEPRINT = blueprints.token
    ROUTER_BLUEPRINT = blueprints.router
    STAKING_BLUEPRINT = blueprints.staking
    ORACLE_BLUEPRINT = blueprints.oracle
    RESERVE_BLUEPRINT = blueprints.reserve
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
    settlement: address,
    revenue_target: uint256,
) -> uint256:
    """
    @notice Lists a merchant: deploys its token, router, staking, oracle and
            reserve, mints the supply (10% to the reserve's inventory),
            creates the Uniswap V2 pair and pulls the performance stake (5% of
            `initial_price * supply`) from the merchant into the reserve.
            Admin only. The merchant must have approved this factory for the
            stake.
    @param name Token name.
    @param symbol Token symbol.
    @param supply Fixed token supply, 18 decimals, at most 2**96 - 1.
    @param initial_price Settlement token per listing token, 18 decimals.
    @param merchant The merchant: gets the token supply, posts the stake.
    @param payout Where the merchant's part of every payment goes.
    @param settlement The payment token (at most 18 decimals).
    @param revenue_target Gross revenue per 30-day period the merchant commits to.
    @return The new listing's id.
    """
    ownable._check_owner()
    assert merchant != empty(address), "factory: merchant is the zero address"
    assert payout != empty(address), "factory: payout is the zero address"
    assert settlement != empty(address), "factory: settlement is the zero address"
    assert supply != 0, "factory: zero supply"
    assert supply <= MAX_SUPPLY, "factory: supply above 2**96 - 1"
    assert initial_price != 0, "factory: zero price"
    decimals: uint8 = staticcall IERC20Detailed(settlement).decimals()
    assert decimals <= MAX_SETTLEMENT_DECIMALS, "factory: settlement token has more than 18 decimals"

    stake: uint256 = self._required_stake(supply, initial_price, decimals)
    assert stake != 0, "factory: stake rounds to zero"

    nonce: uint256 = self._nonce
    staking: address = create._compute_create_address_self(nonce + 1)
    router: address = create._compute_create_address_self(nonce + 2)
    oracle: address = create._compute_create_address_self(nonce + 3)
    reserve: address = create._compute_create_address_self(nonce + 4)
    owner: address = ownable.owner

    token: address = create_from_blueprint(
        TOKEN_BLUEPRINT, name, symbol, supply, merchant, reserve, RESERVE_ALLOCATION_BPS
    )
    pair: address = staticcall UNISWAP_FACTORY.getPair(token, settlement)
    if pair == empty(address):
        pair = extcall UNISWAP_FACTORY.createPair(token, settlement)
    deployed: address = create_from_blueprint(
        STAKING_BLUEPRINT, token, settlement, router, reserve, VESTING
    )
    assert deployed == staking, "factory: address prediction failed"
    deployed = create_from_blueprint(
        ROUTER_BLUEPRINT, settlement, staking, payout, DEFAULT_SHARE_BPS, PERIOD, owner, self.guardian
    )
    assert deployed == router, "factory: address prediction failed"
    deployed = create_from_blueprint(
        ORACLE_BLUEPRINT, pair, token, router, reserve, decimals, TWAP_WINDOW, MAX_AGE, owner
    )
    assert deployed == oracle, "factory: address prediction failed"
    deployed = create_from_blueprint(
        RESERVE_BLUEPRINT, token, settlement, pair, oracle, router, staking, merchant, decimals, stake,
        revenue_target, owner, self.guardian
    )
    assert deployed == reserve, "factory: address prediction failed"
    self._nonce = nonce + 5

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
        pair=pair,
        settlement=settlement,
        merchant=merchant,
        created_at=block.timestamp,
    )
    self.listing_id_of_token[token] = id + 1
    self.listing_count = id + 1
    log ListingCreated(
        id=id, token=token, merchant=merchant, router=router, staking=staking, oracle=oracle, reserve=reserve,
        pair=pair, stake=stake
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
    assert settlement_decimals <= MAX_SETTLEMENT_DECIMALS, "factory: settlement token has more than 18 decimals"
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
    market_cap: uint256 = initial_price * supply // WAD
    return market_cap * STAKE_BPS // BPS // 10 ** (18 - convert(decimals, uint256))
