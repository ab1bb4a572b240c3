# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST underwriting registry
@custom:contract-name UnderwritingRegistry
@license GNU Affero General Public License v3.0 only
@notice Bonded risk agents attest merchants' financial data as EIP-712
        typed messages (domain "PST Underwriting", version "1", this chain,
        this registry). The registry checks every attestation (an
        allow-listed signer with enough bond, low-s, the merchant's next
        nonce, inside its validity, at most `MAX_VALIDITY` long, the current
        model version), scores the attested inputs itself (`modules/scoring.vy`)
        and keeps every merchant's records. The newest record caps what a
        listing's router counts (`verified_cap`, `is_fresh`: the
        `IRevenueVerifier` views) and gives the factory the listing's grade
        and terms (`record_listing`). An agent's bond must stay at least
        `min_agent_bond_bps` of the listing-time market cap of the live
        listings it underwrote; a default slashes `agent_slash_bps` of it,
        held here for that listing's protection-fund pot.
        Amounts are in the protocol's settlement token (`SETTLEMENT`):
        bonds, attested revenue and caps share one unit.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.utils import ecdsa
from snekmate.utils import eip712_domain_separator
from snekmate.utils import math

from modules import constants as c
from modules import scoring
from interfaces import IRevenueVerifier

implements: IRevenueVerifier

initializes: ownable
initializes: eip712_domain_separator

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    eip712_domain_separator.eip712Domain,
)


interface IFactoryFund:
    def FUND() -> address: view


event HeldReleased:
    reserve: indexed(address)
    amount: uint256


struct Attestation:
    merchant: address
    merchant_id: bytes32
    history_months: uint256
    avg_monthly_revenue: uint256
    month_revenue: uint256
    volatility_bps: uint256
    growth_bps: int256
    refund_bps: uint256
    top_channel_bps: uint256
    issued_at: uint256
    expires_at: uint256
    nonce: uint256
    model_version: uint256
    evidence_hash: bytes32


# the newest accepted attestation of a merchant, as scored (`latest`; stored packed)
struct Latest:
    agent: address
    grade: uint256
    score: uint256
    avg_monthly_revenue: uint256
    month_revenue: uint256
    volatility_bps: uint256
    issued_at: uint256
    expires_at: uint256
    recorded_at: uint256


# what the factory lists a merchant on
struct ListingTerms:
    agent: address
    grade: uint256
    stake_bps: uint256
    target_ratio_bps: uint256
    max_listing_pe: uint256
    premium_bps: uint256
    avg_monthly_revenue: uint256


struct Withdrawal:
    amount: uint256
    ready_at: uint256


event AgentAdded:
    agent: indexed(address)


event AgentRemoved:
    agent: indexed(address)


event BondPosted:
    agent: indexed(address)
    amount: uint256
    bond: uint256


event BondWithdrawalRequested:
    agent: indexed(address)
    amount: uint256
    ready_at: uint256


event BondWithdrawn:
    agent: indexed(address)
    to: indexed(address)
    amount: uint256
    bond: uint256


event Attested:
    merchant: indexed(address)
    agent: indexed(address)
    nonce: uint256
    grade: uint256
    score: uint256
    month_revenue: uint256
    cap: uint256
    expires_at: uint256
    evidence_hash: bytes32


event ListingUnderwritten:
    merchant: indexed(address)
    agent: indexed(address)
    reserve: address
    market_cap: uint256
    grade: uint256


event AgentSlashed:
    agent: indexed(address)
    reserve: indexed(address)
    amount: uint256
    bond: uint256


event FactorySet:
    factory: address


event ParameterChanged:
    name: String[24]
    value: uint256


ATTESTATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Attestation(address merchant,bytes32 merchant_id,uint256 history_months,uint256 avg_monthly_revenue,uint256 month_revenue,uint256 volatility_bps,int256 growth_bps,uint256 refund_bps,uint256 top_channel_bps,uint256 issued_at,uint256 expires_at,uint256 nonce,uint256 model_version,bytes32 evidence_hash)"
)
MAX_VALIDITY: public(constant(uint256)) = c.MAX_VALIDITY
BOND_COOLDOWN: public(constant(uint256)) = c.BOND_COOLDOWN
# a record packs (recorded_at << 192) | (expires_at << 128) | cap
CAP_MASK: constant(uint256) = (1 << 128) - 1
TIME_MASK: constant(uint256) = (1 << 64) - 1
# the newest attestation of a merchant packs into three slots (`_latest`):
#   [0] (expires_at << 192) | (grade << 168) | (score << 160) | agent
#   [1] (avg_monthly_revenue << 128) | month_revenue
#   [2] (issued_at << 192) | (recorded_at << 128) | volatility_bps
BYTE_MASK: constant(uint256) = (1 << 8) - 1

SETTLEMENT: public(immutable(IERC20))
DECIMALS: public(immutable(uint8))
# whole settlement unit, and the factor to 18 decimals
UNIT: immutable(uint256)
SCALE: immutable(uint256)

factory: public(address)
is_agent: public(HashMap[address, bool])
bond: public(HashMap[address, uint256])
# listing-time market cap (18 decimals) of the live listings an agent underwrote
underwritten: public(HashMap[address, uint256])
withdrawal: public(HashMap[address, Withdrawal])
# a merchant's next nonce, which is also its number of records (each accepted nonce adds one)
nonces: public(HashMap[address, uint256])
_latest: HashMap[address, uint256[3]]
_records: HashMap[address, HashMap[uint256, uint256]]

# per listing (by its reserve): who underwrote it and at what market cap
listing_merchant: public(HashMap[address, address])
listing_agent: public(HashMap[address, address])
listing_market_cap: public(HashMap[address, uint256])
defaulted: public(HashMap[address, bool])
# agent slashes held for each defaulted listing's protection-fund pot
held_for_pot: public(HashMap[address, uint256])
total_held: public(uint256)

tolerance_bps: public(uint256)
min_agent_bond_bps: public(uint256)
agent_slash_bps: public(uint256)
model_version: public(uint256)


@deploy
def __init__(settlement: IERC20):
    """
    @notice Sets the protocol's settlement token (bonds and attested
            amounts are in it) and the default parameters; the deployer
            owns the registry until governance takes it over.
    @param settlement The settlement token, at most 18 decimals.
    """
    assert settlement.address != empty(address), "registry: settlement is the zero address"
    decimals: uint8 = staticcall IERC20Detailed(settlement.address).decimals()
    assert decimals <= c.MAX_SETTLEMENT_DECIMALS, "registry: settlement token has more than 18 decimals"
    ownable.__init__()
    eip712_domain_separator.__init__("PST Underwriting", "1")
    SETTLEMENT = settlement
    DECIMALS = decimals
    UNIT = 10**convert(decimals, uint256)
    SCALE = 10**(18 - convert(decimals, uint256))
    self.tolerance_bps = c.DEFAULT_TOLERANCE_BPS
    self.min_agent_bond_bps = c.DEFAULT_MIN_AGENT_BOND_BPS
    self.agent_slash_bps = c.DEFAULT_AGENT_SLASH_BPS
    self.model_version = c.MODEL_VERSION


# ---------------------------------------------------------------- agents and bonds


@external
def add_agent(agent: address):
    """
    @notice Allow-lists a risk agent. Admin only (timelock).
    @param agent The agent's signing address.
    """
    ownable._check_owner()
    assert agent != empty(address), "registry: agent is the zero address"
    assert not self.is_agent[agent], "registry: already an agent"
    self.is_agent[agent] = True
    log AgentAdded(agent=agent)


@external
def remove_agent(agent: address):
    """
    @notice Removes a risk agent: it can no longer attest or underwrite a
            listing; its bond stays bound to the listings it underwrote.
            Admin only (timelock).
    @param agent The agent.
    """
    ownable._check_owner()
    assert self.is_agent[agent], "registry: not an agent"
    self.is_agent[agent] = False
    log AgentRemoved(agent=agent)


@external
@nonreentrant
def post_bond(amount: uint256):
    """
    @notice Adds `amount` settlement tokens to the caller's bond. Only an
            allow-listed agent; the caller must have approved the registry.
    @param amount Settlement units (> 0).
    """
    assert self.is_agent[msg.sender], "registry: not an agent"
    assert amount != 0, "registry: zero amount"
    before: uint256 = staticcall SETTLEMENT.balanceOf(self)
    assert extcall SETTLEMENT.transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "registry: bond transfer failed"
    assert (
        staticcall SETTLEMENT.balanceOf(self) - before == amount
    ), "registry: settlement token is fee-on-transfer or rebasing"
    bond: uint256 = self.bond[msg.sender] + amount
    self.bond[msg.sender] = bond
    log BondPosted(agent=msg.sender, amount=amount, bond=bond)


@external
def request_bond_withdrawal(amount: uint256):
    """
    @notice Starts the `BOND_COOLDOWN` (7 days) for withdrawing `amount` of
            the caller's bond; replaces an earlier request.
    @param amount Settlement units (> 0, at most the bond).
    """
    assert amount != 0, "registry: zero amount"
    assert amount <= self.bond[msg.sender], "registry: amount over the bond"
    ready_at: uint256 = block.timestamp + c.BOND_COOLDOWN
    self.withdrawal[msg.sender] = Withdrawal(amount=amount, ready_at=ready_at)
    log BondWithdrawalRequested(agent=msg.sender, amount=amount, ready_at=ready_at)


@external
@nonreentrant
def withdraw_bond(to: address):
    """
    @notice Pays out the caller's requested withdrawal once its cooldown has
            passed, if the bond left stays at or above the minimum for the
            live listings the caller underwrote.
    @param to Receiver of the settlement tokens.
    """
    assert to != empty(address), "registry: receiver is the zero address"
    request: Withdrawal = self.withdrawal[msg.sender]
    assert request.amount != 0, "registry: no withdrawal requested"
    assert block.timestamp >= request.ready_at, "registry: bond cooldown not over"
    bond: uint256 = self.bond[msg.sender]
    assert request.amount <= bond, "registry: amount over the bond"
    bond -= request.amount
    assert bond >= self._required_bond(msg.sender, 0), "registry: bond would fall below the minimum"
    self.bond[msg.sender] = bond
    self.withdrawal[msg.sender] = empty(Withdrawal)
    assert extcall SETTLEMENT.transfer(to, request.amount, default_return_value=True), "registry: transfer failed"
    log BondWithdrawn(agent=msg.sender, to=to, amount=request.amount, bond=bond)


@external
@view
def required_bond(agent: address, extra_market_cap: uint256) -> uint256:
    """
    @notice The least bond `agent` needs to underwrite its live listings
            plus one more of market cap `extra_market_cap`.
    @param agent The agent.
    @param extra_market_cap 18 decimals (0: just the live listings).
    @return Settlement units, rounded up.
    """
    return self._required_bond(agent, extra_market_cap)


@internal
@view
def _required_bond(agent: address, extra_market_cap: uint256) -> uint256:
    covered: uint256 = (self.underwritten[agent] + extra_market_cap) * self.min_agent_bond_bps
    return math._ceil_div(covered, c.BPS * SCALE)


# ---------------------------------------------------------------- attestations


@external
@view
def attestation_digest(attestation: Attestation) -> bytes32:
    """
    @notice The EIP-712 digest an agent signs for `attestation`.
    @param attestation The attested data.
    """
    return self._digest(attestation)


@external
def submit(attestation: Attestation, signature: Bytes[65]) -> uint256:
    """
    @notice Accepts an agent's signed attestation of a merchant (anyone may
            relay it) and records the merchant's scored data and verified
            revenue cap. Reverts on a replayed or out-of-order nonce, a
            wrong chain or registry (the signature then recovers another
            address), an attestation not yet issued, expired or valid for
            longer than `MAX_VALIDITY`, a signer that is not an agent or is
            under-bonded, a high-s signature, another model version, or
            inputs the model rejects outright.
    @param attestation The attested data.
    @param signature The agent's 65-byte (r, s, v) signature of its
           EIP-712 digest.
    @return The grade (1 = A .. 4 = D; 0 = scored but not listable).
    """
    assert attestation.merchant != empty(address), "registry: merchant is the zero address"
    assert attestation.model_version == self.model_version, "registry: wrong model version"
    assert attestation.issued_at <= block.timestamp, "registry: attestation issued in the future"
    assert block.timestamp < attestation.expires_at, "registry: attestation expired"
    assert attestation.expires_at - attestation.issued_at <= c.MAX_VALIDITY, "registry: validity over 35 days"
    assert attestation.expires_at <= TIME_MASK, "registry: expiry out of range"
    assert attestation.nonce == self.nonces[attestation.merchant], "registry: wrong nonce"
    assert len(signature) == 65, "registry: signature is not 65 bytes"
    agent: address = ecdsa._recover_sig(self._digest(attestation), signature)
    assert self.is_agent[agent], "registry: signer is not an agent"
    bond: uint256 = self.bond[agent]
    assert bond != 0 and bond >= self._required_bond(agent, 0), "registry: agent bond below the minimum"

    s: scoring.Score = scoring._score(
        attestation.history_months,
        attestation.avg_monthly_revenue,
        attestation.volatility_bps,
        attestation.growth_bps,
        attestation.refund_bps,
        attestation.top_channel_bps,
        UNIT,
    )
    # checked before the multiplication too: a month revenue near 2**256 would overflow it
    assert attestation.month_revenue <= CAP_MASK, "registry: month revenue out of range"
    cap: uint256 = attestation.month_revenue * (c.BPS + self.tolerance_bps) // c.BPS
    assert cap <= CAP_MASK, "registry: month revenue out of range"
    assert attestation.avg_monthly_revenue <= CAP_MASK, "registry: average revenue out of range"
    assert attestation.volatility_bps <= CAP_MASK, "registry: volatility out of range"

    merchant: address = attestation.merchant
    # the nonce is the merchant's record count: record `nonce` is this one
    self.nonces[merchant] = attestation.nonce + 1
    self._records[merchant][attestation.nonce] = (block.timestamp << 192) | (attestation.expires_at << 128) | cap
    self._latest[merchant] = [
        (attestation.expires_at << 192) | (s.grade << 168) | (s.total << 160) | convert(agent, uint256),
        (attestation.avg_monthly_revenue << 128) | attestation.month_revenue,
        (attestation.issued_at << 192) | (block.timestamp << 128) | attestation.volatility_bps,
    ]
    log Attested(
        merchant=merchant,
        agent=agent,
        nonce=attestation.nonce,
        grade=s.grade,
        score=s.total,
        month_revenue=attestation.month_revenue,
        cap=cap,
        expires_at=attestation.expires_at,
        evidence_hash=attestation.evidence_hash,
    )
    return s.grade


@external
@view
def score(attestation: Attestation) -> (scoring.Score, scoring.Terms):
    """
    @notice The model's points, grade and terms for `attestation`'s inputs
            (signature, nonce and times are not looked at). Reverts on the
            model's hard rejections.
    @param attestation The data to score.
    """
    s: scoring.Score = scoring._score(
        attestation.history_months,
        attestation.avg_monthly_revenue,
        attestation.volatility_bps,
        attestation.growth_bps,
        attestation.refund_bps,
        attestation.top_channel_bps,
        UNIT,
    )
    return s, scoring._terms(s.grade, attestation.volatility_bps)


@internal
@view
def _digest(a: Attestation) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(
            ATTESTATION_TYPEHASH,
            a.merchant,
            a.merchant_id,
            a.history_months,
            a.avg_monthly_revenue,
            a.month_revenue,
            a.volatility_bps,
            a.growth_bps,
            a.refund_bps,
            a.top_channel_bps,
            a.issued_at,
            a.expires_at,
            a.nonce,
            a.model_version,
            a.evidence_hash,
        )
    )
    return eip712_domain_separator._hash_typed_data_v4(struct_hash)


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @notice The EIP-712 domain separator of this registry on this chain.
    """
    return eip712_domain_separator._domain_separator_v4()


# ---------------------------------------------------------------- revenue verifier


@external
@view
def verified_cap(merchant: address, at: uint256) -> uint256:
    """
    @notice The cap on `merchant`'s counted revenue for a period starting
            at `at`: `month_revenue * (10_000 + tolerance_bps) // 10_000` of
            the newest attestation recorded at or before `at`, if it had not
            expired by then; 0 otherwise. An attestation submitted later
            never changes the cap of a period that had already begun.
    @param merchant The merchant.
    @param at A timestamp (a period's start).
    """
    count: uint256 = self.nonces[merchant]
    if count == 0:
        return 0
    # binary search for the newest record recorded at or before `at`
    lo: uint256 = 0
    hi: uint256 = count
    for _: uint256 in range(64):
        if lo >= hi:
            break
        mid: uint256 = (lo + hi) // 2
        if self._records[merchant][mid] >> 192 <= at:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0:
        return 0
    record: uint256 = self._records[merchant][lo - 1]
    if at >= (record >> 128) & TIME_MASK:
        return 0
    return record & CAP_MASK


@external
@view
def is_fresh(merchant: address) -> bool:
    """
    @notice Whether `merchant`'s newest attestation has not expired.
    @param merchant The merchant.
    """
    return block.timestamp < self._latest[merchant][0] >> 192


@external
@view
def verified_at(merchant: address) -> uint256:
    """
    @notice When `merchant`'s newest attestation was recorded (0: never).
    @param merchant The merchant.
    """
    return (self._latest[merchant][2] >> 128) & TIME_MASK


@external
@view
def latest(merchant: address) -> Latest:
    """
    @notice `merchant`'s newest accepted attestation, as scored (all zero:
            none yet).
    @param merchant The merchant.
    """
    packed: uint256[3] = self._latest[merchant]
    return Latest(
        agent=convert(convert(packed[0] & convert(max_value(uint160), uint256), uint160), address),
        grade=(packed[0] >> 168) & BYTE_MASK,
        score=(packed[0] >> 160) & BYTE_MASK,
        avg_monthly_revenue=packed[1] >> 128,
        month_revenue=packed[1] & CAP_MASK,
        volatility_bps=packed[2] & CAP_MASK,
        issued_at=packed[2] >> 192,
        expires_at=packed[0] >> 192,
        recorded_at=(packed[2] >> 128) & TIME_MASK,
    )


@external
@view
def record_count(merchant: address) -> uint256:
    """
    @notice How many attestations of `merchant` the registry recorded (its
            next nonce).
    @param merchant The merchant.
    """
    return self.nonces[merchant]


# ---------------------------------------------------------------- listings


@external
@view
def listing_terms(merchant: address) -> ListingTerms:
    """
    @notice The grade and terms `merchant` would be listed on now, from its
            newest attestation; reverts without a fresh one.
    @param merchant The merchant.
    """
    return self._listing_terms(merchant)


@internal
@view
def _listing_terms(merchant: address) -> ListingTerms:
    head: uint256 = self._latest[merchant][0]
    assert block.timestamp < head >> 192, "registry: no fresh attestation"
    grade: uint256 = (head >> 168) & BYTE_MASK
    t: scoring.Terms = scoring._terms(grade, self._latest[merchant][2] & CAP_MASK)
    return ListingTerms(
        agent=convert(convert(head & convert(max_value(uint160), uint256), uint160), address),
        grade=grade,
        stake_bps=t.stake_bps,
        target_ratio_bps=t.target_ratio_bps,
        max_listing_pe=t.max_listing_pe,
        premium_bps=t.premium_bps,
        avg_monthly_revenue=self._latest[merchant][1] >> 128,
    )


@external
def record_listing(merchant: address, reserve: address, market_cap: uint256) -> ListingTerms:
    """
    @notice The factory lists `merchant`: returns the terms of its fresh
            attestation and binds the attesting agent's bond to the listing
            (its listing-time `market_cap`), which needs the bond to cover
            `min_agent_bond_bps` of all its live listings with this one.
            Factory only.
    @param merchant The merchant.
    @param reserve The new listing's reserve (reports its default here).
    @param market_cap Listing-time market cap, 18 decimals.
    """
    assert msg.sender == self.factory, "registry: caller is not the factory"
    assert reserve != empty(address), "registry: reserve is the zero address"
    assert self.listing_merchant[reserve] == empty(address), "registry: reserve already recorded"
    terms: ListingTerms = self._listing_terms(merchant)
    agent: address = terms.agent
    assert self.is_agent[agent], "registry: attesting agent was removed"
    assert self.bond[agent] >= self._required_bond(agent, market_cap), "registry: agent bond below the minimum"
    self.underwritten[agent] += market_cap
    self.listing_merchant[reserve] = merchant
    self.listing_agent[reserve] = agent
    self.listing_market_cap[reserve] = market_cap
    log ListingUnderwritten(merchant=merchant, agent=agent, reserve=reserve, market_cap=market_cap, grade=terms.grade)
    return terms


@external
def report_default(merchant: address):
    """
    @notice A listing's reserve reports its default: `agent_slash_bps` of
            the underwriting agent's bond is held for the listing's
            protection-fund pot, and the listing no longer counts towards
            the agent's minimum bond. Only the listing's reserve, once.
    @param merchant The listing's merchant.
    """
    assert (
        merchant != empty(address) and self.listing_merchant[msg.sender] == merchant
    ), "registry: caller is not the merchant's reserve"
    assert not self.defaulted[msg.sender], "registry: default already reported"
    self.defaulted[msg.sender] = True
    agent: address = self.listing_agent[msg.sender]
    self.underwritten[agent] -= self.listing_market_cap[msg.sender]
    bond: uint256 = self.bond[agent]
    slashed: uint256 = bond * self.agent_slash_bps // c.BPS
    bond -= slashed
    self.bond[agent] = bond
    self.held_for_pot[msg.sender] += slashed
    self.total_held += slashed
    log AgentSlashed(agent=agent, reserve=msg.sender, amount=slashed, bond=bond)


@external
def release_held(reserve: address) -> uint256:
    """
    @notice Sends the agent slash held for `reserve`'s pot to the protection
            fund (the factory's `FUND`), which calls this when it opens the pot.
    @param reserve The defaulted listing's reserve.
    @return The amount sent.
    """
    factory: address = self.factory
    assert factory != empty(address), "registry: factory not set"
    fund: address = staticcall IFactoryFund(factory).FUND()
    assert msg.sender == fund, "registry: caller is not the fund"
    amount: uint256 = self.held_for_pot[reserve]
    if amount != 0:
        self.held_for_pot[reserve] = 0
        self.total_held -= amount
        assert extcall SETTLEMENT.transfer(fund, amount, default_return_value=True), "registry: transfer failed"
        log HeldReleased(reserve=reserve, amount=amount)
    return amount


# ---------------------------------------------------------------- governance


@external
def set_factory(factory_: address):
    """
    @notice Names the listing factory, once. Admin only.
    @param factory_ The factory.
    """
    ownable._check_owner()
    assert factory_ != empty(address), "registry: factory is the zero address"
    assert self.factory == empty(address), "registry: factory already set"
    self.factory = factory_
    log FactorySet(factory=factory_)


@external
def set_tolerance_bps(tolerance_bps_: uint256):
    """
    @notice How far counted revenue may exceed attested month revenue, for
            attestations recorded from now on. Admin only (timelock).
    @param tolerance_bps_ Basis points, 0..2000.
    """
    ownable._check_owner()
    assert tolerance_bps_ <= c.MAX_TOLERANCE_BPS, "registry: tolerance_bps out of bounds"
    self.tolerance_bps = tolerance_bps_
    log ParameterChanged(name="tolerance_bps", value=tolerance_bps_)


@external
def set_min_agent_bond_bps(min_agent_bond_bps_: uint256):
    """
    @notice The least bond an agent keeps, bps of the listing-time market
            cap of its live listings. Admin only (timelock).
    @param min_agent_bond_bps_ Basis points, 50..2000.
    """
    ownable._check_owner()
    assert (
        min_agent_bond_bps_ >= c.MIN_MIN_AGENT_BOND_BPS and min_agent_bond_bps_ <= c.MAX_MIN_AGENT_BOND_BPS
    ), "registry: min_agent_bond_bps out of bounds"
    self.min_agent_bond_bps = min_agent_bond_bps_
    log ParameterChanged(name="min_agent_bond_bps", value=min_agent_bond_bps_)


@external
def set_agent_slash_bps(agent_slash_bps_: uint256):
    """
    @notice The share of an agent's bond a default of a listing it
            underwrote takes. Admin only (timelock).
    @param agent_slash_bps_ Basis points, 0..5000.
    """
    ownable._check_owner()
    assert agent_slash_bps_ <= c.MAX_AGENT_SLASH_BPS, "registry: agent_slash_bps out of bounds"
    self.agent_slash_bps = agent_slash_bps_
    log ParameterChanged(name="agent_slash_bps", value=agent_slash_bps_)


@external
def set_model_version(model_version_: uint256):
    """
    @notice Moves to a new scoring model version: attestations signed for
            another version are refused from now on. Admin only (timelock).
    @param model_version_ Greater than the current version.
    """
    ownable._check_owner()
    assert model_version_ > self.model_version, "registry: model version must increase"
    self.model_version = model_version_
    log ParameterChanged(name="model_version", value=model_version_)
