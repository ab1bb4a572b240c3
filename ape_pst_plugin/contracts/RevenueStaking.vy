# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST revenue staking
@custom:contract-name RevenueStaking
@license GNU Affero General Public License v3.0 only
@notice Holders stake the listing token here and earn the holder share of
        the listing's revenue, in the settlement token. A reward-per-token
        accumulator keeps every call O(1) whatever the number of stakers.
        New revenue streams to the stakers linearly over `VESTING` (with what
        is left of earlier revenue), so a stake placed just before a large
        payment and removed just after earns almost nothing of it. What is
        streamed is what actually arrived (the balance growth since the last
        notice), so a fee the token switches on later cannot leave the
        distributor owing more than it holds. Revenue that arrives, or
        streams, while nobody is staked belongs to the ALAR reserve
        (`sweep_to_reserve`). Insiders of the listing (the merchant, its
        payout addresses, its vesting contract, the reserve) cannot stake:
        neither the holder share nor slashed stake can flow back to them.
"""

from ethereum.ercs import IERC20

from modules import transfers


event Staked:
    account: indexed(address)
    amount: uint256


event Unstaked:
    account: indexed(address)
    amount: uint256


event Claimed:
    account: indexed(address)
    amount: uint256


event RevenueNotified:
    amount: uint256
    rate: uint256
    finish: uint256


event SentToReserve:
    amount: uint256


# The accumulator counts settlement units per staked wei times SCALE, so that
# even one wei of a 6-decimal token streamed over 7 days to 1e27 staked wei
# is counted. A staker's accrued reward is kept in units of 1e-18 settlement
# wei (USER_SCALE), so rounding never loses a whole wei over any number of
# updates, and it shares one storage slot with the stake: a claim or a
# second stake rewrites a warm, non-zero slot instead of a fresh one.
SCALE: constant(uint256) = 10**36
USER_SCALE: constant(uint256) = 10**18
RPT_TO_USER: constant(uint256) = SCALE // USER_SCALE
BALANCE_BITS: constant(uint256) = 96
BALANCE_MASK: constant(uint256) = (1 << BALANCE_BITS) - 1
MAX_ACCRUED: constant(uint256) = (1 << (256 - BALANCE_BITS)) - 1
TIME_MASK: constant(uint256) = (1 << 64) - 1
SEEN_MASK: constant(uint256) = (1 << 128) - 1

LISTING_TOKEN: public(immutable(IERC20))
SETTLEMENT: public(immutable(IERC20))
ROUTER: public(immutable(address))
RESERVE: public(immutable(address))
MERCHANT: public(immutable(address))
PAYOUT: public(immutable(address))
MERCHANT_VESTING: public(immutable(address))
VESTING: public(immutable(uint256))

total_staked: public(uint256)
reward_per_token_stored: public(uint256)
# settlement units per second, times SCALE
reward_rate: public(uint256)
# (settlement balance accounted for << 128) | (period_finish << 64) |
# last_update, one slot
_times: uint256
reward_per_token_paid: public(HashMap[address, uint256])
# (accrued reward in 1e-18 wei << 96) | staked balance
_accounts: HashMap[address, uint256]
# streamed while nobody was staked, times SCALE: the reserve's
_unallocated: uint256
# payout addresses the router named after listing
insider: public(HashMap[address, bool])


@deploy
def __init__(
    listing_token: IERC20,
    settlement: IERC20,
    router: address,
    reserve: address,
    merchant: address,
    payout: address,
    merchant_vesting: address,
    vesting: uint256,
):
    """
    @notice Creates the distributor of one listing.
    @param listing_token The token that is staked.
    @param settlement The token revenue is paid in.
    @param router The listing's `RevenueRouter`, the only revenue notifier.
    @param reserve The ALAR reserve, which gets revenue nobody is staked for.
    @param merchant The listing's merchant (an insider).
    @param payout The merchant's payout address (an insider).
    @param merchant_vesting The merchant's `MerchantVesting` (an insider).
    @param vesting Seconds over which each new revenue amount streams (> 0).
    """
    assert listing_token.address != empty(address), "staking: token is the zero address"
    assert settlement.address != empty(address), "staking: settlement is the zero address"
    assert router != empty(address), "staking: router is the zero address"
    assert reserve != empty(address), "staking: reserve is the zero address"
    assert merchant != empty(address), "staking: merchant is the zero address"
    assert payout != empty(address), "staking: payout is the zero address"
    assert merchant_vesting != empty(address), "staking: vesting contract is the zero address"
    assert vesting != 0, "staking: zero vesting"
    LISTING_TOKEN = listing_token
    SETTLEMENT = settlement
    ROUTER = router
    RESERVE = reserve
    MERCHANT = merchant
    PAYOUT = payout
    MERCHANT_VESTING = merchant_vesting
    VESTING = vesting


@external
@nonreentrant
def stake(amount: uint256):
    """
    @notice Stakes `amount` listing tokens (approve this contract first).
            Insiders of the listing cannot stake.
    @param amount Token amount, 18 decimals, > 0.
    """
    assert amount != 0, "staking: zero amount"
    assert (
        msg.sender != MERCHANT
        and msg.sender != PAYOUT
        and msg.sender != MERCHANT_VESTING
        and msg.sender != RESERVE
        and not self.insider[msg.sender]
    ), "staking: insiders cannot stake"
    packed: uint256 = self._accrue(msg.sender, self._update_global())
    # the listing supply is below 2**96, so the balance cannot carry over
    self._accounts[msg.sender] = packed + amount
    self.total_staked += amount
    assert extcall LISTING_TOKEN.transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "staking: transfer failed"
    log Staked(account=msg.sender, amount=amount)


@external
@nonreentrant
def unstake(amount: uint256):
    """
    @notice Returns `amount` staked listing tokens. Accrued rewards stay
            claimable.
    @param amount Token amount, > 0 and at most the caller's stake.
    """
    assert amount != 0, "staking: zero amount"
    packed: uint256 = self._accrue(msg.sender, self._update_global())
    assert amount <= packed & BALANCE_MASK, "staking: unstake exceeds stake"
    self._accounts[msg.sender] = packed - amount
    self._unstake(msg.sender, amount)


@external
@nonreentrant
def claim(receiver: address = msg.sender) -> uint256:
    """
    @notice Sends the caller's accrued revenue share (settlement token) to
            `receiver`. If the token refuses the transfer the claim reverts
            and the share stays the caller's.
    @param receiver Who is paid (default: the caller), not the zero address.
    @return The amount sent.
    """
    assert receiver != empty(address), "staking: receiver is the zero address"
    packed: uint256 = self._accrue(msg.sender, self._update_global())
    amount: uint256 = self._claim(msg.sender, receiver, packed)
    assert amount != 0, "staking: nothing to claim"
    return amount


@external
@nonreentrant
def exit() -> uint256:
    """
    @notice Unstakes everything and claims the accrued revenue share.
    @return The settlement amount claimed.
    """
    packed: uint256 = self._accrue(msg.sender, self._update_global())
    staked: uint256 = packed & BALANCE_MASK
    assert staked != 0, "staking: nothing staked"
    self._unstake(msg.sender, staked)
    return self._claim(msg.sender, msg.sender, packed - staked)


@external
@nonreentrant
def notify_revenue(amount: uint256):
    """
    @notice Starts streaming what has arrived since the last notice: the
            router's holder share or the reserve's slashed merchant stake
            (`amount` is what the caller sent; a token fee may have taken
            part of it, and anything else that arrived is streamed too).
            With nobody staked it goes to the reserve (or, if the token
            refuses that transfer, is set aside for `sweep_to_reserve`).
    @param amount The amount the caller sent, for the event.
    """
    assert msg.sender == ROUTER or msg.sender == RESERVE, "staking: caller is not the router or the reserve"
    self._update_global()
    times: uint256 = self._times
    balance: uint256 = staticcall SETTLEMENT.balanceOf(self)
    seen: uint256 = times >> 128
    received: uint256 = 0
    if balance > seen:
        received = balance - seen
    times = (times & ~(SEEN_MASK << 128)) | (min(balance, SEEN_MASK) << 128)
    if self.total_staked == 0:
        if received != 0 and transfers._try_transfer(SETTLEMENT, RESERVE, received):
            times -= received << 128
            log SentToReserve(amount=received)
        else:
            self._unallocated += received * SCALE
        self._times = times
        return
    finish: uint256 = (times >> 64) & TIME_MASK
    leftover: uint256 = 0
    if block.timestamp < finish:
        leftover = (finish - block.timestamp) * self.reward_rate
    rate: uint256 = (received * SCALE + leftover) // VESTING
    finish = block.timestamp + VESTING
    self.reward_rate = rate
    self._times = (times & (SEEN_MASK << 128)) | (finish << 64) | block.timestamp
    log RevenueNotified(amount=received, rate=rate, finish=finish)


@external
def add_insider(account: address):
    """
    @notice Makes `account` (a new payout address) an insider: it can no
            longer stake. Router only.
    @param account The new payout address.
    """
    assert msg.sender == ROUTER, "staking: caller is not the router"
    self.insider[account] = True


@external
@nonreentrant
def sweep_to_reserve() -> uint256:
    """
    @notice Sends the revenue that streamed while nobody was staked to the
            reserve. Anyone may call.
    @return The amount sent.
    """
    self._update_global()
    amount: uint256 = self._unallocated // SCALE
    assert amount != 0, "staking: nothing to sweep"
    self._unallocated -= amount * SCALE
    self._times -= amount << 128
    assert extcall SETTLEMENT.transfer(RESERVE, amount, default_return_value=True), "staking: transfer failed"
    log SentToReserve(amount=amount)
    return amount


@external
@view
def earned(account: address) -> uint256:
    """
    @notice Settlement amount `account` could claim now.
    """
    packed: uint256 = self._accounts[account]
    pending: uint256 = (packed & BALANCE_MASK) * (
        self._reward_per_token() - self.reward_per_token_paid[account]
    ) // RPT_TO_USER
    return ((packed >> BALANCE_BITS) + pending) // USER_SCALE


@external
@view
def balanceOf(account: address) -> uint256:
    """
    @notice Listing tokens `account` has staked.
    """
    return self._accounts[account] & BALANCE_MASK


@external
@view
def reward_per_token() -> uint256:
    """
    @notice The accumulator now: settlement units per staked wei, times 1e36.
    """
    return self._reward_per_token()


@external
@view
def period_finish() -> uint256:
    """
    @notice When the current revenue stream ends.
    """
    return (self._times >> 64) & TIME_MASK


@external
@view
def last_update() -> uint256:
    """
    @notice When the accumulator was last brought up to date.
    """
    return self._times & TIME_MASK


@external
@view
def unallocated() -> uint256:
    """
    @notice Revenue that streamed while nobody was staked, not yet swept.
    """
    unallocated: uint256 = self._unallocated
    if self.total_staked == 0:
        unallocated += self._streamed_since_update()
    return unallocated // SCALE


@internal
@view
def _streamed_since_update() -> uint256:
    times: uint256 = self._times
    last: uint256 = times & TIME_MASK
    until: uint256 = min(block.timestamp, (times >> 64) & TIME_MASK)
    if until <= last:
        return 0
    return (until - last) * self.reward_rate


@internal
@view
def _reward_per_token() -> uint256:
    total: uint256 = self.total_staked
    if total == 0:
        return self.reward_per_token_stored
    return self.reward_per_token_stored + self._streamed_since_update() // total


@internal
def _update_global() -> uint256:
    # Brings the accumulator up to now; what streamed while nobody was
    # staked is set aside for the reserve.
    streamed: uint256 = self._streamed_since_update()
    rpt: uint256 = self.reward_per_token_stored
    if streamed != 0:
        total: uint256 = self.total_staked
        if total == 0:
            self._unallocated += streamed
        else:
            rpt += streamed // total
            self.reward_per_token_stored = rpt
    times: uint256 = self._times
    if (times & TIME_MASK) != block.timestamp:
        self._times = (times & ~TIME_MASK) | block.timestamp
    return rpt


@internal
def _accrue(account: address, rpt: uint256) -> uint256:
    # The account's packed slot with its reward accrued up to `rpt`; the
    # caller writes it back once.
    packed: uint256 = self._accounts[account]
    paid: uint256 = self.reward_per_token_paid[account]
    if paid == rpt:
        return packed
    self.reward_per_token_paid[account] = rpt
    accrued: uint256 = (packed >> BALANCE_BITS) + (packed & BALANCE_MASK) * (rpt - paid) // RPT_TO_USER
    assert accrued <= MAX_ACCRUED, "staking: accrued reward overflow"
    return (accrued << BALANCE_BITS) | (packed & BALANCE_MASK)


@internal
def _unstake(account: address, amount: uint256):
    self.total_staked -= amount
    assert extcall LISTING_TOKEN.transfer(account, amount, default_return_value=True), "staking: transfer failed"
    log Unstaked(account=account, amount=amount)


@internal
def _claim(account: address, receiver: address, packed: uint256) -> uint256:
    # Writes `packed` back less the whole wei paid out; the sub-wei part stays.
    amount: uint256 = (packed >> BALANCE_BITS) // USER_SCALE
    self._accounts[account] = packed - ((amount * USER_SCALE) << BALANCE_BITS)
    if amount != 0:
        self._times -= amount << 128
        assert extcall SETTLEMENT.transfer(receiver, amount, default_return_value=True), "staking: transfer failed"
        log Claimed(account=account, amount=amount)
    return amount
