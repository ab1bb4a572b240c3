# pragma version ~=0.4.3
"""
@title The ALAR stabiliser
@custom:contract-name stabiliser
@license GNU Affero General Public License v3.0 only
@notice Below `pe_low` (TWAP PE) the reserve buys tokens, moving the spot
        price up towards `P_low = pe_low * EPS`; above `pe_high` it sells
        inventory down towards `P_high`; inside the band nothing happens.
        The size is `min(x_spot, x_twap)`: what moves the current pool to the
        target, and what would move the pool at the TWAP price (today's
        depth) there, so a same-block spot move never makes it trade more.
        It is then capped by the epoch's capacity, by what the reserve holds
        and, for buys, by the exposure limit. A spot more than
        `max_deviation_bps` away from the TWAP is refused. Buys only while
        the listing is `ACTIVE`, its verified revenue is fresh and the
        protection fund is not in stress; sells
        while it is not `DEFAULTED`. The merchant stake is never spent.
"""

from snekmate.utils import math

from . import constants as c
from . import reserve_base as base
from . import credit
from . import swap_math

uses: base
uses: credit


event Bought:
    spent: uint256
    received: uint256
    pe: uint256
    target_price: uint256
    spot_after: uint256


event Sold:
    sold: uint256
    received: uint256
    pe: uint256
    target_price: uint256
    spot_after: uint256


event BandChanged:
    pe_low: uint256
    pe_high: uint256


event LimitsChanged:
    capacity_bps: uint256
    cooldown: uint256
    max_slippage_bps: uint256
    max_deviation_bps: uint256
    max_exposure_bps: uint256


# Hot parameters share slots so a keeper's call reads few of them:
# _band = (pe_low << 128) | pe_high;
# _limits = (exposure << 176) | (deviation << 160) | (slippage << 144)
#           | (capacity << 128) | (cooldown << 64) | last_trade
_band: uint256
_limits: uint256
# settlement spent on buys less received from sells, floor 0
net_spent: public(uint256)
# an epoch window packs (epoch << 224) | (budget << 112) | spent
_buy_window: uint256
_sell_window: uint256

AMOUNT_MASK: constant(uint256) = (1 << 112) - 1
HALF: constant(uint256) = (1 << 128) - 1
QUARTER: constant(uint256) = (1 << 64) - 1
SHORT: constant(uint256) = (1 << 16) - 1


@deploy
def __init__():
    """
    @notice Starts with the protocol's default band and limits.
    """
    self._set_band(c.DEFAULT_PE_LOW, c.DEFAULT_PE_HIGH)
    self._set_limits(
        c.DEFAULT_CAPACITY_BPS,
        c.DEFAULT_COOLDOWN,
        c.DEFAULT_SLIPPAGE_BPS,
        c.DEFAULT_DEVIATION_BPS,
        c.DEFAULT_EXPOSURE_BPS,
    )


@internal
def _stabilise() -> uint256:
    """
    @notice Buys below the band, sells above it, nothing inside.
    @return What was given to the pool (settlement for a buy, tokens for a
            sell); 0 inside the band.
    """
    twap: uint256 = 0
    eps: uint256 = 0
    twap, eps = staticcall base.ORACLE.price_and_eps()
    pe: uint256 = twap * c.WAD // eps
    band: uint256 = self._band
    pe_low: uint256 = band >> 128
    pe_high: uint256 = band & HALF
    if pe < pe_low:
        status: uint256 = credit.status
        assert status != c.DEFAULTED, "reserve: listing defaulted, no buys"
        assert status == c.ACTIVE, "reserve: listing is late, no buys"
        assert staticcall base.VERIFIER.is_fresh(base.MERCHANT), "reserve: verified revenue is stale, no buys"
        assert not staticcall base.FUND.in_stress(), "reserve: protection fund in stress, no buys"
        return self._trade(True, pe, pe_low * eps // c.WAD, twap)
    if pe > pe_high:
        assert credit.status != c.DEFAULTED, "reserve: listing defaulted, no sells"
        return self._trade(False, pe, pe_high * eps // c.WAD, twap)
    return 0


@internal
def _trade(buying: bool, pe: uint256, target: uint256, twap: uint256) -> uint256:
    # One core for both sides: r_in/r_out are the pool's reserves of what
    # goes in and what comes out, t_in/t_out the same at the TWAP price.
    limits: uint256 = self._limits
    last: uint256 = limits & QUARTER
    assert last == 0 or block.timestamp >= last + (
        (limits >> 64) & QUARTER
    ), "reserve: cooldown, too soon after the last trade"
    r_token: uint256 = 0
    r_settlement: uint256 = 0
    r_token, r_settlement = base._reserves()
    scale: uint256 = base.SETTLEMENT_SCALE * c.WAD
    spot: uint256 = math._mul_div(r_settlement, scale, r_token, False)
    deviation: uint256 = (limits >> 160) & SHORT
    assert spot * c.BPS <= twap * (c.BPS + deviation) and spot * c.BPS >= twap * (
        c.BPS - deviation
    ), "reserve: spot too far from TWAP"
    t_token: uint256 = 0
    t_settlement: uint256 = 0
    t_token, t_settlement = swap_math._reserves_at_price(r_token, r_settlement, twap, scale)

    r_in: uint256 = r_settlement
    r_out: uint256 = r_token
    t_in: uint256 = t_settlement
    t_out: uint256 = t_token
    num: uint256 = target
    den: uint256 = scale
    held: uint256 = 0
    packed: uint256 = 0
    if buying:
        held = credit._free_balance()
        packed = self._buy_window
    else:
        r_in = r_token
        r_out = r_settlement
        t_in = t_token
        t_out = t_settlement
        num = scale
        den = target
        held = staticcall base.TOKEN.balanceOf(self)
        packed = self._sell_window

    wanted: uint256 = min(
        swap_math._amount_to_target(r_in, r_out, num, den), swap_math._amount_to_target(t_in, t_out, num, den)
    )
    assert wanted != 0, "reserve: spot price already at target"
    window: uint256 = self._window(packed, held, limits)
    amount: uint256 = min(min(wanted, held), ((window >> 112) & AMOUNT_MASK) - (window & AMOUNT_MASK))
    net: uint256 = self.net_spent
    if buying:
        assert amount != 0, "reserve: no buy capacity left this epoch"
        room: uint256 = ((limits >> 176) & SHORT) * (held + net) // c.BPS
        assert room > net, "reserve: exposure limit reached"
        amount = min(amount, room - net)
    else:
        assert amount != 0, "reserve: no sell capacity left this epoch"
    out: uint256 = swap_math._amount_out(amount, r_in, r_out)
    assert out != 0, "reserve: trade too small"
    slippage: uint256 = (limits >> 144) & SHORT
    assert (
        out >= swap_math._amount_out(amount, t_in, t_out) * (c.BPS - slippage) // c.BPS
    ), "reserve: output below the TWAP minimum (slippage)"

    self._limits = (limits & ~QUARTER) | block.timestamp
    if buying:
        self._buy_window = window + amount
        self.net_spent = net + amount
        base._send(base.SETTLEMENT, base.PAIR.address, amount)
    else:
        self._sell_window = window + amount
        self.net_spent = net - min(net, out)
        base._send(base.TOKEN, base.PAIR.address, amount)
    if buying == base.TOKEN_IS_TOKEN0:
        extcall base.PAIR.swap(out, 0, self, b"")
    else:
        extcall base.PAIR.swap(0, out, self, b"")
    spot_after: uint256 = math._mul_div(r_out - out, scale, r_in + amount, False)
    if buying:
        spot_after = math._mul_div(r_in + amount, scale, r_out - out, False)
        log Bought(spent=amount, received=out, pe=pe, target_price=target, spot_after=spot_after)
    else:
        log Sold(sold=amount, received=out, pe=pe, target_price=target, spot_after=spot_after)
    return amount


@internal
@view
def _window(packed: uint256, base_amount: uint256, limits: uint256) -> uint256:
    # The epoch's (budget, spent) pair; a new epoch starts with
    # capacity_bps of what the reserve holds now and nothing spent.
    epoch: uint256 = block.timestamp // c.EPOCH
    if packed >> 224 == epoch:
        return packed
    budget: uint256 = min(base_amount * ((limits >> 128) & SHORT) // c.BPS, AMOUNT_MASK)
    return (epoch << 224) | (budget << 112)


@internal
def _set_band(pe_low_: uint256, pe_high_: uint256):
    assert pe_low_ >= c.MIN_PE and pe_low_ < pe_high_ and pe_high_ <= c.MAX_PE, "reserve: band out of bounds"
    self._band = (pe_low_ << 128) | pe_high_
    log BandChanged(pe_low=pe_low_, pe_high=pe_high_)


@internal
def _set_limits(
    capacity_bps_: uint256,
    cooldown_: uint256,
    max_slippage_bps_: uint256,
    max_deviation_bps_: uint256,
    max_exposure_bps_: uint256,
):
    assert capacity_bps_ <= c.MAX_CAPACITY_BPS, "reserve: capacity_bps out of bounds"
    assert cooldown_ >= c.MIN_COOLDOWN, "reserve: cooldown below 10 minutes"
    assert cooldown_ <= c.MAX_COOLDOWN, "reserve: cooldown above 30 days"
    assert max_slippage_bps_ <= c.MAX_SLIPPAGE_BPS, "reserve: max_slippage_bps out of bounds"
    assert (
        max_deviation_bps_ >= c.MIN_DEVIATION_BPS and max_deviation_bps_ <= c.MAX_DEVIATION_BPS
    ), "reserve: max_deviation_bps out of bounds"
    assert (
        max_exposure_bps_ >= c.MIN_EXPOSURE_BPS and max_exposure_bps_ <= c.MAX_EXPOSURE_BPS
    ), "reserve: max_exposure_bps out of bounds"
    last_trade: uint256 = self._limits & QUARTER
    self._limits = (
        (max_exposure_bps_ << 176)
        | (max_deviation_bps_ << 160)
        | (max_slippage_bps_ << 144)
        | (capacity_bps_ << 128)
        | (cooldown_ << 64)
        | last_trade
    )
    log LimitsChanged(
        capacity_bps=capacity_bps_,
        cooldown=cooldown_,
        max_slippage_bps=max_slippage_bps_,
        max_deviation_bps=max_deviation_bps_,
        max_exposure_bps=max_exposure_bps_,
    )


@internal
@view
def _pe_low() -> uint256:
    return self._band >> 128


@internal
@view
def _pe_high() -> uint256:
    return self._band & HALF


@internal
@view
def _limit(offset: uint256, mask: uint256) -> uint256:
    return (self._limits >> offset) & mask


@internal
@view
def _unpack_window(packed: uint256) -> (uint256, uint256, uint256):
    return packed >> 224, (packed >> 112) & AMOUNT_MASK, packed & AMOUNT_MASK
