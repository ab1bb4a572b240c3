# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title The merchant's token allocation, vesting
@custom:contract-name MerchantVesting
@license GNU Affero General Public License v3.0 only
@notice Holds a listing's merchant allocation (everything the reserve's
        inventory does not get). `INITIAL_UNLOCK_BPS` of it is releasable at
        listing, the rest linearly over `DURATION`; vesting stops for good
        when the listing defaults (the reserve's `defaulted_at`). Only the
        merchant releases, to any address it names. The contract is an
        insider of the listing: its tokens count as circulating for PE
        (so vesting never moves PE) but cannot be staked.
"""

from ethereum.ercs import IERC20

from modules import constants as c


interface IReserve:
    def defaulted_at() -> uint256: view


event Released:
    to: indexed(address)
    amount: uint256


TOKEN: public(immutable(IERC20))
MERCHANT: public(immutable(address))
RESERVE: public(immutable(IReserve))
ALLOCATION: public(immutable(uint256))
START: public(immutable(uint256))
INITIAL_UNLOCK_BPS: public(constant(uint256)) = c.INITIAL_UNLOCK_BPS
DURATION: public(constant(uint256)) = c.VESTING_DURATION

released: public(uint256)


@deploy
def __init__(token: IERC20, merchant: address, reserve: IReserve, allocation: uint256):
    """
    @notice Vests `allocation` listing tokens (minted to this contract by the
            token's constructor) for `merchant` from now on.
    @param token The listing token.
    @param merchant Who may release.
    @param reserve The listing's reserve (whose default stops vesting).
    @param allocation The merchant allocation, token wei.
    """
    assert token.address != empty(address), "vesting: token is the zero address"
    assert merchant != empty(address), "vesting: merchant is the zero address"
    assert reserve.address != empty(address), "vesting: reserve is the zero address"
    TOKEN = token
    MERCHANT = merchant
    RESERVE = reserve
    ALLOCATION = allocation
    START = block.timestamp


@external
@view
def vested() -> uint256:
    """
    @notice Tokens unlocked so far (released or not).
    """
    return self._vested()


@external
@view
def releasable() -> uint256:
    """
    @notice Tokens the merchant may release now.
    """
    return self._vested() - self.released


@external
@nonreentrant
def release(to: address, amount: uint256):
    """
    @notice Sends `amount` unlocked tokens to `to`. Merchant only; after
            the listing's default only to the merchant itself (its tokens
            are frozen there, outside the protection fund's pot).
    @param to Recipient, not the zero address.
    @param amount Token wei, > 0, at most `releasable()`.
    """
    assert msg.sender == MERCHANT, "vesting: caller is not the merchant"
    assert to != empty(address), "vesting: recipient is the zero address"
    assert amount != 0, "vesting: zero amount"
    # after default the merchant's tokens are frozen where they are: a fresh
    # address would claim the protection fund's pot with them
    if staticcall RESERVE.defaulted_at() != 0:
        assert to == MERCHANT, "vesting: after default only to the merchant"
    released: uint256 = self.released + amount
    assert released <= self._vested(), "vesting: amount exceeds the releasable tokens"
    self.released = released
    assert extcall TOKEN.transfer(to, amount, default_return_value=True), "vesting: transfer failed"
    log Released(to=to, amount=amount)


@internal
@view
def _vested() -> uint256:
    until: uint256 = block.timestamp
    defaulted: uint256 = staticcall RESERVE.defaulted_at()
    if defaulted != 0:
        until = min(until, defaulted)
    elapsed: uint256 = min(until - START, DURATION)
    initial: uint256 = ALLOCATION * INITIAL_UNLOCK_BPS // c.BPS
    return initial + (ALLOCATION - initial) * elapsed // DURATION
