# pragma version ~=0.4.3
"""
@title What a stablecoin issuer can switch on
@custom:contract-name token_faults
@license GNU Affero General Public License v3.0 only
@notice The faults the protocol must survive (docs/PROTOCOL.md "Token
        faults"): a blacklist (USDC, USDT), a global pause (USDC) and a fee
        switched on after listing (USDT's dormant fee). Shared by the test
        tokens that fail in different ways: by reverting, by returning
        nothing, by returning false. Test contracts: anyone may switch.
"""


event Blacklisted:
    account: indexed(address)
    blocked: bool


event Paused:
    paused: bool


event FeeChanged:
    fee_bps: uint256


blacklisted: public(HashMap[address, bool])
paused: public(bool)
fee_bps: public(uint256)


@external
def blacklist(account: address):
    """
    @notice Blocks every transfer from or to `account`.
    @param account The account.
    """
    self.blacklisted[account] = True
    log Blacklisted(account=account, blocked=True)


@external
def unblacklist(account: address):
    """
    @notice Lifts the block on `account`.
    @param account The account.
    """
    self.blacklisted[account] = False
    log Blacklisted(account=account, blocked=False)


@external
def pause():
    """
    @notice Blocks every transfer.
    """
    self.paused = True
    log Paused(paused=True)


@external
def unpause():
    """
    @notice Lets transfers through again.
    """
    self.paused = False
    log Paused(paused=False)


@external
def set_fee_bps(fee_bps_: uint256):
    """
    @notice Switches the transfer fee: `fee_bps_` of every transfer is burnt.
    @param fee_bps_ Basis points, at most 10,000.
    """
    assert fee_bps_ <= 10_000, "faults: fee above 100%"
    self.fee_bps = fee_bps_
    log FeeChanged(fee_bps=fee_bps_)


@internal
@view
def _blocked(spender: address, owner: address, to: address) -> bool:
    """
    @notice Whether the issuer blocks this transfer.
    """
    return self.paused or self.blacklisted[owner] or self.blacklisted[to] or self.blacklisted[spender]


@internal
@view
def _fee(amount: uint256) -> uint256:
    """
    @notice The part of `amount` burnt by the fee.
    """
    return amount * self.fee_bps // 10_000
