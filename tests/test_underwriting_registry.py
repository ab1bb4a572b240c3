"""UnderwritingRegistry, one behaviour per test (docs/PROTOCOL.md
"Underwriting", U1): agents and their bonds, every check `submit` makes on an
attestation, the records behind `verified_cap` / `is_fresh` / `listing_terms`,
`record_listing` and `report_default`, the parameter setters. Every revert
reason is asserted exactly, and after every move of settlement tokens the
registry holds exactly the agents' bonds plus what it holds for pots.

Most tests use the session protocol's registry (`registry`, owned by `admin`,
`agent` bonded 20M USDC). Tests that record listings at chosen market caps use
`own_registry`: the same contract deployed by `deployer`, whose factory is a
plain account (`factory_account`), so a test can call `record_listing` and
report a default from a stand-in reserve account. The reserve -> registry
wiring itself is shown on a real listing driven into default.
"""

from dataclasses import replace

import ape
import pytest
from eth_account import Account
from eth_utils import keccak
from vyper_source import compile_source

from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.deployment import create_listing, default_inputs, sign_attestation

USDC = 10**6
WAD = 10**18
BPS = 10_000
DAY = 86_400
PERIOD = 30 * DAY
SCALE = 10**12  # USDC units -> 18 decimals
BOND = 1_000_000 * USDC  # `own_registry`'s agent bond
CAP_MASK = 2**128 - 1
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO = "0x0000000000000000000000000000000000000000"
OWNER_ONLY = "ownable: caller is not the owner"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def fresh_account(accounts, networks):
    def make():
        account = accounts.generate_test_account()
        networks.provider.set_balance(account.address, 10**21)
        return account

    return make


@pytest.fixture
def merchant(fresh_account):
    """A merchant with no attestation yet (the session's `merchant` is attested by the
    session listings, so its nonce and records depend on which tests ran before)."""
    return fresh_account()


@pytest.fixture
def factory_account(fresh_account):
    """A plain account named the factory of `own_registry`."""
    return fresh_account()


@pytest.fixture
def own_registry(project, deployer, usdc, factory_account, agent):
    """A registry owned by `deployer`, `factory_account` its factory, `agent` bonded `BOND`."""
    registry = deployer.deploy(project.UnderwritingRegistry, usdc)
    registry.set_factory(factory_account, sender=deployer)
    registry.add_agent(agent, sender=deployer)
    usdc.faucet(agent, BOND, sender=agent)
    usdc.approve(registry, BOND, sender=agent)
    registry.post_bond(BOND, sender=agent)
    return registry


def inputs(month_revenue=100_000 * USDC, **changes):
    """default_inputs (grade A), with some fields changed."""
    return replace(default_inputs(month_revenue), **changes)


def signed(registry, signer, merchant, attested=None, /, **fields):
    """`signer`'s attestation of `attested` (default: `inputs()`) for `registry` (`fields`: see sign_attestation)."""
    return sign_attestation(registry, signer, merchant, attested or inputs(), **fields)


def submit(registry, signer, merchant, attested=None, /, sender=None, **fields):
    message, signature = signed(registry, signer, merchant, attested, **fields)
    return registry.submit(message.as_tuple(), signature, sender=sender or signer)


def next_block_at(chain, t=None):
    """Puts the next block at `t` (default: a second after the head); returns it."""
    t = chain.blocks.head.timestamp + 1 if t is None else t
    chain.pending_timestamp = t
    return t


def cap_of(month_revenue, tolerance_bps):
    return month_revenue * (BPS + tolerance_bps) // BPS


def required_bond(underwritten, min_agent_bond_bps):
    """Settlement units, rounded up (the registry's `_required_bond`)."""
    return -(-underwritten * min_agent_bond_bps // (BPS * SCALE))


def assert_holds_bonds(registry, token, agents):
    """The registry holds exactly its agents' bonds plus what it holds for pots."""
    assert token.balanceOf(registry) == sum(registry.bond(a) for a in agents) + registry.total_held()


def record(registry, factory_account, merchant, reserve, market_cap):
    return registry.record_listing(merchant, reserve, market_cap, sender=factory_account)


def max_market_cap(registry, agent):
    """The largest listing market cap `agent`'s bond covers now (with its live listings)."""
    return registry.bond(agent) * BPS * SCALE // registry.min_agent_bond_bps() - registry.underwritten(agent)


def high_s(signature: bytes) -> bytes:
    """The other valid signature of the same digest: s -> n - s, v flipped."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


# A settlement token whose transfers can be switched to return false.
FALSE_TOKEN = """
# pragma version ~=0.4.3
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
decimals: public(uint8)
failing: public(bool)

@deploy
def __init__():
    self.decimals = 6

@external
def faucet(to: address, amount: uint256):
    self.balanceOf[to] += amount

@external
def set_failing(failing_: bool):
    self.failing = failing_

@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True

@external
def transfer(to: address, amount: uint256) -> bool:
    if self.failing:
        return False
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    return True

@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    if self.failing:
        return False
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    return True
"""


# Submits several attestations in one transaction (one block, one timestamp).
RELAY = """
# pragma version ~=0.4.3
@external
def relay(target: address, calls: DynArray[Bytes[1024], 4]):
    for data: Bytes[1024] in calls:
        raw_call(target, data)
"""


# ---------------------------------------------------------------- deployment and domain


def test_deploy_rejects_the_zero_settlement_address(project, deployer):
    with ape.reverts("registry: settlement is the zero address"):
        deployer.deploy(project.UnderwritingRegistry, ZERO)


def test_deploy_rejects_a_settlement_token_with_more_than_18_decimals(project, deployer):
    wide = deployer.deploy(project.WideDecimalsToken)
    with ape.reverts("registry: settlement token has more than 18 decimals"):
        deployer.deploy(project.UnderwritingRegistry, wide)


def test_deploy_sets_the_documented_defaults(registry, usdc):
    assert registry.SETTLEMENT() == usdc.address and registry.DECIMALS() == 6
    assert (registry.tolerance_bps(), registry.min_agent_bond_bps(), registry.agent_slash_bps()) == (500, 200, 2_000)
    assert registry.model_version() == uw.MODEL_VERSION
    assert registry.MAX_VALIDITY() == uw.MAX_VALIDITY == 35 * DAY
    assert registry.BOND_COOLDOWN() == 7 * DAY


def test_domain_is_pst_underwriting_1_on_this_chain_and_registry(registry, chain):
    domain = registry.eip712Domain()
    assert (domain[1], domain[2], domain[3], domain[4]) == ("PST Underwriting", "1", chain.chain_id, registry.address)


def test_digest_is_the_eip712_hash_of_the_python_message(registry, agent, merchant):
    message, _ = signed(registry, agent, merchant)
    header, body = message.signable_message.header, message.signable_message.body
    assert registry.DOMAIN_SEPARATOR() == header
    assert registry.attestation_digest(message.as_tuple()) == keccak(b"\x19\x01" + header + body)


# ---------------------------------------------------------------- agents


def test_owner_adds_an_agent(registry, admin, attacker):
    receipt = registry.add_agent(attacker, sender=admin)
    assert registry.is_agent(attacker)
    assert [e.agent for e in receipt.events.filter(registry.AgentAdded)] == [attacker.address]


def test_only_the_owner_adds_an_agent(registry, attacker):
    with ape.reverts(OWNER_ONLY):
        registry.add_agent(attacker, sender=attacker)


def test_the_zero_address_is_not_added_as_agent(registry, admin):
    with ape.reverts("registry: agent is the zero address"):
        registry.add_agent(ZERO, sender=admin)


def test_an_agent_is_not_added_twice(registry, admin, agent):
    with ape.reverts("registry: already an agent"):
        registry.add_agent(agent, sender=admin)


def test_owner_removes_an_agent_and_its_bond_stays(registry, admin, agent):
    bond = registry.bond(agent)
    receipt = registry.remove_agent(agent, sender=admin)
    assert not registry.is_agent(agent)
    assert registry.bond(agent) == bond
    assert [e.agent for e in receipt.events.filter(registry.AgentRemoved)] == [agent.address]


def test_only_the_owner_removes_an_agent(registry, agent, attacker):
    with ape.reverts(OWNER_ONLY):
        registry.remove_agent(agent, sender=attacker)


def test_removing_a_non_agent_reverts(registry, admin, attacker):
    with ape.reverts("registry: not an agent"):
        registry.remove_agent(attacker, sender=admin)


# ---------------------------------------------------------------- bonds


def test_agent_posts_a_bond(registry, agent, usdc):
    before, amount = registry.bond(agent), 12_345 * USDC + 1
    usdc.faucet(agent, amount, sender=agent)
    usdc.approve(registry, amount, sender=agent)
    receipt = registry.post_bond(amount, sender=agent)
    assert registry.bond(agent) == before + amount
    [event] = receipt.events.filter(registry.BondPosted)
    assert (event.agent, event.amount, event.bond) == (agent.address, amount, before + amount)
    assert_holds_bonds(registry, usdc, [agent])


def test_a_non_agent_cannot_post_a_bond(registry, attacker, usdc):
    usdc.faucet(attacker, USDC, sender=attacker)
    usdc.approve(registry, USDC, sender=attacker)
    with ape.reverts("registry: not an agent"):
        registry.post_bond(USDC, sender=attacker)


def test_a_removed_agent_cannot_post_a_bond(registry, admin, agent, usdc):
    registry.remove_agent(agent, sender=admin)
    usdc.faucet(agent, USDC, sender=agent)
    usdc.approve(registry, USDC, sender=agent)
    with ape.reverts("registry: not an agent"):
        registry.post_bond(USDC, sender=agent)


def test_a_zero_bond_is_rejected(registry, agent):
    with ape.reverts("registry: zero amount"):
        registry.post_bond(0, sender=agent)


def test_a_fee_on_transfer_settlement_token_is_rejected_at_bond(project, deployer, agent):
    token = deployer.deploy(project.FeeOnTransferToken)
    registry = deployer.deploy(project.UnderwritingRegistry, token)
    registry.add_agent(agent, sender=deployer)
    token.faucet(agent, 100 * USDC, sender=agent)
    token.approve(registry, 100 * USDC, sender=agent)
    with ape.reverts("registry: settlement token is fee-on-transfer or rebasing"):
        registry.post_bond(100 * USDC, sender=agent)


def test_a_bond_transfer_returning_false_is_rejected(project, deployer, agent):
    token = deployer.deploy(compile_source(FALSE_TOKEN, "FalseToken"))
    registry = deployer.deploy(project.UnderwritingRegistry, token)
    registry.add_agent(agent, sender=deployer)
    token.faucet(agent, 100 * USDC, sender=agent)
    token.approve(registry, 100 * USDC, sender=agent)
    token.set_failing(True, sender=deployer)
    with ape.reverts("registry: bond transfer failed"):
        registry.post_bond(100 * USDC, sender=agent)


def test_a_withdrawal_transfer_returning_false_is_rejected(project, deployer, agent, chain):
    token = deployer.deploy(compile_source(FALSE_TOKEN, "FalseToken"))
    registry = deployer.deploy(project.UnderwritingRegistry, token)
    registry.add_agent(agent, sender=deployer)
    token.faucet(agent, 100 * USDC, sender=agent)
    token.approve(registry, 100 * USDC, sender=agent)
    registry.post_bond(100 * USDC, sender=agent)
    t = registry.request_bond_withdrawal(100 * USDC, sender=agent).timestamp
    token.set_failing(True, sender=deployer)
    next_block_at(chain, t + 7 * DAY)
    with ape.reverts("registry: transfer failed"):
        registry.withdraw_bond(agent, sender=agent)
    assert registry.bond(agent) == 100 * USDC  # nothing lost: the request and the bond are as before
    assert registry.withdrawal(agent).amount == 100 * USDC


# ---------------------------------------------------------------- bond withdrawal


def test_withdrawal_request_starts_a_7_day_cooldown(registry, agent):
    receipt = registry.request_bond_withdrawal(5 * USDC, sender=agent)
    request = registry.withdrawal(agent)
    assert (request.amount, request.ready_at) == (5 * USDC, receipt.timestamp + 7 * DAY)
    [event] = receipt.events.filter(registry.BondWithdrawalRequested)
    assert (event.agent, event.amount, event.ready_at) == (agent.address, 5 * USDC, receipt.timestamp + 7 * DAY)


def test_a_new_request_replaces_the_earlier_one(registry, agent, chain):
    registry.request_bond_withdrawal(5 * USDC, sender=agent)
    t = next_block_at(chain, chain.blocks.head.timestamp + DAY)
    registry.request_bond_withdrawal(3 * USDC, sender=agent)
    request = registry.withdrawal(agent)
    assert (request.amount, request.ready_at) == (3 * USDC, t + 7 * DAY)


def test_a_zero_withdrawal_request_is_rejected(registry, agent):
    with ape.reverts("registry: zero amount"):
        registry.request_bond_withdrawal(0, sender=agent)


def test_a_withdrawal_request_over_the_bond_is_rejected(registry, agent):
    with ape.reverts("registry: amount over the bond"):
        registry.request_bond_withdrawal(registry.bond(agent) + 1, sender=agent)


def test_withdrawing_without_a_request_reverts(registry, agent):
    with ape.reverts("registry: no withdrawal requested"):
        registry.withdraw_bond(agent, sender=agent)


def test_withdrawing_to_the_zero_address_reverts(registry, agent):
    registry.request_bond_withdrawal(USDC, sender=agent)
    with ape.reverts("registry: receiver is the zero address"):
        registry.withdraw_bond(ZERO, sender=agent)


def test_withdrawal_is_refused_a_second_before_the_cooldown_ends(registry, agent, chain):
    t = registry.request_bond_withdrawal(USDC, sender=agent).timestamp
    next_block_at(chain, t + 7 * DAY - 1)
    with ape.reverts("registry: bond cooldown not over"):
        registry.withdraw_bond(agent, sender=agent)


def test_withdrawal_pays_out_when_the_cooldown_ends(registry, agent, attacker, usdc, chain):
    bond, amount = registry.bond(agent), 1_234 * USDC + 5
    t = registry.request_bond_withdrawal(amount, sender=agent).timestamp
    before = usdc.balanceOf(attacker)
    next_block_at(chain, t + 7 * DAY)
    receipt = registry.withdraw_bond(attacker, sender=agent)
    assert usdc.balanceOf(attacker) - before == amount
    assert registry.bond(agent) == bond - amount
    assert registry.withdrawal(agent).amount == 0
    [event] = receipt.events.filter(registry.BondWithdrawn)
    assert (event.agent, event.to, event.amount, event.bond) == (agent.address, attacker.address, amount, bond - amount)
    assert_holds_bonds(registry, usdc, [agent])


def test_a_paid_out_request_cannot_be_withdrawn_again(registry, agent, chain):
    t = registry.request_bond_withdrawal(USDC, sender=agent).timestamp
    next_block_at(chain, t + 7 * DAY)
    registry.withdraw_bond(agent, sender=agent)
    with ape.reverts("registry: no withdrawal requested"):
        registry.withdraw_bond(agent, sender=agent)


def test_a_removed_agent_withdraws_its_bond(own_registry, deployer, agent, usdc, chain):
    """An agent with no live listings (on its own registry: the session's agent underwrote listings)."""
    registry = own_registry
    registry.remove_agent(agent, sender=deployer)
    bond = registry.bond(agent)
    t = registry.request_bond_withdrawal(bond, sender=agent).timestamp
    next_block_at(chain, t + 7 * DAY)
    registry.withdraw_bond(agent, sender=agent)
    assert registry.bond(agent) == 0
    assert_holds_bonds(registry, usdc, [agent])


def test_withdrawal_never_takes_the_bond_below_the_minimum_of_live_listings(
    own_registry, factory_account, agent, merchant, attacker, usdc, chain
):
    registry = own_registry
    submit(registry, agent, merchant)
    market_cap = 3_000_000 * WAD + 7
    record(registry, factory_account, merchant, attacker, market_cap)
    minimum = required_bond(market_cap, 200)
    assert registry.required_bond(agent, 0) == minimum
    t = registry.request_bond_withdrawal(BOND - minimum + 1, sender=agent).timestamp
    next_block_at(chain, t + 7 * DAY)
    with ape.reverts("registry: bond would fall below the minimum"):
        registry.withdraw_bond(agent, sender=agent)
    registry.request_bond_withdrawal(BOND - minimum, sender=agent)
    next_block_at(chain, chain.blocks.head.timestamp + 7 * DAY)
    registry.withdraw_bond(agent, sender=agent)
    assert registry.bond(agent) == minimum
    assert_holds_bonds(registry, usdc, [agent])


def test_withdrawal_of_more_than_the_slashed_bond_reverts(
    own_registry, factory_account, agent, merchant, attacker, chain
):
    registry = own_registry
    submit(registry, agent, merchant)
    record(registry, factory_account, merchant, attacker, 1_000_000 * WAD)
    t = registry.request_bond_withdrawal(BOND, sender=agent).timestamp
    registry.report_default(merchant, sender=attacker)  # slashes 20% of the bond
    assert registry.bond(agent) < BOND
    next_block_at(chain, t + 7 * DAY)
    with ape.reverts("registry: amount over the bond"):
        registry.withdraw_bond(agent, sender=agent)


def test_required_bond_rounds_up_and_counts_the_extra_listing(own_registry, factory_account, agent, merchant, attacker):
    registry = own_registry
    submit(registry, agent, merchant)
    record(registry, factory_account, merchant, attacker, 10**18 + 1)
    assert registry.required_bond(agent, 0) == required_bond(10**18 + 1, 200) == 2 * 10**4 + 1
    assert registry.required_bond(agent, 5 * 10**17) == required_bond(15 * 10**17 + 1, 200)


# ---------------------------------------------------------------- submit: accepted


def test_an_attestation_is_recorded_with_the_twins_score(registry, agent, merchant, chain):
    attested = inputs(87_654 * USDC + 3, avg_monthly_revenue=123_456 * USDC, volatility_bps=1_700, growth_bps=-300)
    t = next_block_at(chain)
    receipt = submit(registry, agent, merchant, attested, issued_at=t - 100, validity=20 * DAY)
    expected = uw.score(attested, 6)
    assert receipt.return_value == expected.grade
    latest = registry.latest(merchant)
    assert (latest.agent, latest.grade, latest.score) == (agent.address, expected.grade, expected.total)
    assert (latest.avg_monthly_revenue, latest.month_revenue, latest.volatility_bps) == (
        attested.avg_monthly_revenue,
        attested.month_revenue,
        attested.volatility_bps,
    )
    assert (latest.issued_at, latest.expires_at, latest.recorded_at) == (t - 100, t - 100 + 20 * DAY, t)
    assert (registry.nonces(merchant), registry.record_count(merchant), registry.verified_at(merchant)) == (1, 1, t)


def test_an_attestation_emits_attested(registry, agent, merchant):
    attested = inputs(50_000 * USDC + 1)
    message, signature = signed(registry, agent, merchant, attested, evidence_hash=b"\x42" * 32)
    receipt = registry.submit(message.as_tuple(), signature, sender=agent)
    [event] = receipt.events.filter(registry.Attested)
    expected = uw.score(attested, 6)
    assert (event.merchant, event.agent, event.nonce, event.grade, event.score) == (
        merchant.address,
        agent.address,
        0,
        expected.grade,
        expected.total,
    )
    assert (event.month_revenue, event.cap, event.expires_at, event.evidence_hash) == (
        attested.month_revenue,
        cap_of(attested.month_revenue, 500),
        message.expires_at,
        b"\x42" * 32,
    )


def test_anyone_may_relay_an_attestation(registry, agent, merchant, attacker):
    submit(registry, agent, merchant, sender=attacker)
    assert registry.latest(merchant).agent == agent.address


def test_nonces_count_per_merchant(registry, agent, merchant, new_merchant):
    submit(registry, agent, merchant)
    submit(registry, agent, merchant)
    submit(registry, agent, new_merchant)
    assert (registry.nonces(merchant), registry.nonces(new_merchant)) == (2, 1)


def test_an_unlistable_grade_is_recorded_as_grade_0(registry, agent, merchant):
    # 6 months, R at the minimum, CV 60%, shrinking, refunds 14%, one channel: 5 + 4 points
    weak = inputs(
        10_000 * USDC,
        history_months=6,
        volatility_bps=6_000,
        growth_bps=-2_000,
        refund_bps=1_400,
        top_channel_bps=10_000,
    )
    assert uw.score(weak, 6).grade == uw.GRADE_NONE
    assert submit(registry, agent, merchant, weak).return_value == 0
    assert registry.latest(merchant).grade == 0


def test_an_attestation_issued_now_is_accepted(registry, agent, merchant, chain):
    t = next_block_at(chain)
    submit(registry, agent, merchant, issued_at=t)
    assert registry.latest(merchant).issued_at == t


def test_an_attestation_valid_exactly_35_days_is_accepted(registry, agent, merchant, chain):
    t = next_block_at(chain)
    submit(registry, agent, merchant, issued_at=t, validity=35 * DAY)
    assert registry.latest(merchant).expires_at == t + 35 * DAY


def test_an_attestation_is_accepted_in_its_last_second(registry, agent, merchant, chain):
    t = next_block_at(chain)
    submit(registry, agent, merchant, issued_at=t - 10 * DAY, validity=10 * DAY + 1)
    assert registry.latest(merchant).recorded_at == t


def test_an_agent_exactly_at_the_minimum_bond_attests(
    own_registry, factory_account, agent, merchant, attacker, new_merchant
):
    registry = own_registry
    submit(registry, agent, merchant)
    record(registry, factory_account, merchant, attacker, max_market_cap(registry, agent))
    assert registry.required_bond(agent, 0) == registry.bond(agent)
    submit(registry, agent, new_merchant)
    assert registry.nonces(new_merchant) == 1


def test_the_largest_month_revenue_whose_cap_fits_is_accepted(registry, agent, merchant):
    largest = ((CAP_MASK + 1) * BPS - 1) // (BPS + 500)
    receipt = submit(registry, agent, merchant, inputs(largest, avg_monthly_revenue=100_000 * USDC))
    [event] = receipt.events.filter(registry.Attested)
    assert event.cap == cap_of(largest, 500) <= CAP_MASK


# ---------------------------------------------------------------- submit: every check


def test_the_zero_merchant_is_rejected(registry, agent):
    message, signature = signed(registry, agent, ZERO)
    with ape.reverts("registry: merchant is the zero address"):
        registry.submit(message.as_tuple(), signature, sender=agent)


def test_a_forged_attestation_is_rejected(registry, attacker, merchant):
    """Signed by an address that is not an agent."""
    message, signature = signed(registry, attacker, merchant)
    with ape.reverts("registry: signer is not an agent"):
        registry.submit(message.as_tuple(), signature, sender=attacker)


def test_a_removed_agent_cannot_attest(registry, admin, agent, merchant):
    registry.remove_agent(agent, sender=admin)
    with ape.reverts("registry: signer is not an agent"):
        submit(registry, agent, merchant)


def test_a_replayed_attestation_is_rejected(registry, agent, merchant, attacker):
    message, signature = signed(registry, agent, merchant)
    registry.submit(message.as_tuple(), signature, sender=agent)
    with ape.reverts("registry: wrong nonce"):
        registry.submit(message.as_tuple(), signature, sender=attacker)


def test_a_future_nonce_is_rejected(registry, agent, merchant):
    with ape.reverts("registry: wrong nonce"):
        submit(registry, agent, merchant, nonce=1)


def test_a_stale_nonce_is_rejected(registry, agent, merchant):
    submit(registry, agent, merchant)
    submit(registry, agent, merchant)
    with ape.reverts("registry: wrong nonce"):
        submit(registry, agent, merchant, nonce=0)


def test_an_expired_attestation_is_rejected(registry, agent, merchant, chain):
    t = next_block_at(chain)
    with ape.reverts("registry: attestation expired"):
        submit(registry, agent, merchant, issued_at=t - 10 * DAY, validity=10 * DAY)


def test_an_attestation_issued_in_the_future_is_rejected(registry, agent, merchant, chain):
    t = next_block_at(chain)
    with ape.reverts("registry: attestation issued in the future"):
        submit(registry, agent, merchant, issued_at=t + 1)


def test_validity_over_35_days_is_rejected(registry, agent, merchant, chain):
    t = next_block_at(chain)
    with ape.reverts("registry: validity over 35 days"):
        submit(registry, agent, merchant, issued_at=t, validity=35 * DAY + 1)


def test_a_signature_for_another_chain_is_rejected(registry, agent, merchant, chain):
    assert chain.chain_id != 1
    with ape.reverts("registry: signer is not an agent"):
        submit(registry, agent, merchant, chain_id=1)


def test_a_signature_for_another_registry_is_rejected(registry, agent, merchant, usdc):
    with ape.reverts("registry: signer is not an agent"):
        submit(registry, agent, merchant, registry=usdc.address)


def test_a_high_s_signature_is_rejected(registry, agent, merchant):
    message, signature = signed(registry, agent, merchant)
    malleable = high_s(signature)
    # the flipped signature is a valid signature of the same digest by the agent...
    digest = registry.attestation_digest(message.as_tuple())
    r, s, v = malleable[:32], malleable[32:64], malleable[64]
    assert Account._recover_hash(digest, vrs=(v, int.from_bytes(r, "big"), int.from_bytes(s, "big"))) == agent.address
    # ...which the registry refuses: only the low-s form is accepted
    with ape.reverts("ecdsa: invalid signature `s` value"):
        registry.submit(message.as_tuple(), malleable, sender=agent)


def test_a_signature_with_a_bad_v_is_rejected(registry, agent, merchant):
    message, signature = signed(registry, agent, merchant)
    with ape.reverts("ecdsa: invalid signature"):
        registry.submit(message.as_tuple(), signature[:64] + b"\x00", sender=agent)


def test_a_compact_64_byte_signature_is_rejected(registry, agent, merchant):
    message, signature = signed(registry, agent, merchant)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    compact = r + (s | ((v - 27) << 255)).to_bytes(32, "big")  # EIP-2098 (r, vs)
    with ape.reverts("registry: signature is not 65 bytes"):
        registry.submit(message.as_tuple(), compact, sender=agent)


def test_another_model_version_is_rejected(registry, agent, merchant):
    with ape.reverts("registry: wrong model version"):
        submit(registry, agent, merchant, model_version=uw.MODEL_VERSION + 1)


def test_after_a_model_upgrade_old_version_attestations_are_rejected(registry, admin, agent, merchant):
    message, signature = signed(registry, agent, merchant)
    registry.set_model_version(uw.MODEL_VERSION + 1, sender=admin)
    with ape.reverts("registry: wrong model version"):
        registry.submit(message.as_tuple(), signature, sender=agent)
    submit(registry, agent, merchant, model_version=uw.MODEL_VERSION + 1)
    assert registry.nonces(merchant) == 1


def test_an_agent_without_a_bond_cannot_attest(registry, admin, attacker, merchant):
    registry.add_agent(attacker, sender=admin)
    with ape.reverts("registry: agent bond below the minimum"):
        submit(registry, attacker, merchant)


def test_an_under_bonded_agent_cannot_attest(
    own_registry, factory_account, deployer, agent, merchant, attacker, new_merchant
):
    registry = own_registry
    submit(registry, agent, merchant)
    record(registry, factory_account, merchant, attacker, max_market_cap(registry, agent))
    registry.set_min_agent_bond_bps(201, sender=deployer)  # the live listing now needs more than the bond
    assert registry.required_bond(agent, 0) > registry.bond(agent)
    with ape.reverts("registry: agent bond below the minimum"):
        submit(registry, agent, new_merchant)


@pytest.mark.parametrize(
    "change",
    [
        dict(history_months=5),
        dict(avg_monthly_revenue=10_000 * USDC - 1),
        dict(refund_bps=1_501),
        dict(top_channel_bps=10_001),
    ],
    ids=["history", "revenue", "refunds", "channel"],
)
def test_hard_rejections_revert_with_the_twins_reason(registry, agent, merchant, change):
    attested = inputs(**change)
    with pytest.raises(uw.ScoringError) as rejected:
        uw.score(attested, 6)
    with ape.reverts(str(rejected.value)):
        submit(registry, agent, merchant, attested)


def test_a_month_revenue_whose_cap_overflows_the_record_is_rejected(registry, agent, merchant):
    largest = ((CAP_MASK + 1) * BPS - 1) // (BPS + 500)
    with ape.reverts("registry: month revenue out of range"):
        submit(registry, agent, merchant, inputs(largest + 1, avg_monthly_revenue=100_000 * USDC))


def test_a_month_revenue_that_overflows_the_cap_maths_is_rejected_with_a_reason(registry, agent, merchant):
    """2**256 - 1 overflowed `month_revenue * (10_000 + tolerance)` (a bare panic) before the range check."""
    with ape.reverts("registry: month revenue out of range"):
        submit(registry, agent, merchant, inputs(2**256 - 1, avg_monthly_revenue=100_000 * USDC))


def test_a_signature_with_a_leading_zero_byte_is_65_bytes_and_accepted(registry, agent, merchant, chain):
    """MessageSignature.r / .s may come without their leading zero bytes; `signature_bytes` pads them."""
    issued_at = chain.blocks.head.timestamp
    for salt in range(2_000):
        message, _ = signed(
            registry, agent, merchant, evidence_hash=salt.to_bytes(32, "big"), nonce=0, issued_at=issued_at
        )
        raw = agent.sign_message(message)
        if len(bytes(raw.r)) < 32 or len(bytes(raw.s)) < 32 or bytes(raw.r)[0] == 0 or bytes(raw.s)[0] == 0:
            break
    else:
        pytest.fail("no signature with a leading zero byte in 2,000 tries")
    signature = uw.signature_bytes(raw)
    assert len(signature) == 65
    registry.submit(message.as_tuple(), signature, sender=agent)
    assert registry.latest(merchant).agent == agent.address


# ---------------------------------------------------------------- verified_cap and is_fresh


def test_no_record_no_cap(registry, merchant, chain):
    assert registry.verified_cap(merchant, chain.blocks.head.timestamp) == 0
    assert not registry.is_fresh(merchant)
    assert registry.verified_at(merchant) == 0


def test_cap_is_month_revenue_plus_tolerance_from_the_recording_on(registry, agent, merchant):
    month = 77_777 * USDC + 7
    t = submit(registry, agent, merchant, inputs(month)).timestamp
    assert registry.verified_cap(merchant, t - 1) == 0
    assert registry.verified_cap(merchant, t) == cap_of(month, 500)


def test_cap_uses_the_tolerance_in_force_at_recording(registry, admin, agent, merchant):
    registry.set_tolerance_bps(1_234, sender=admin)
    month = 90_001 * USDC
    t = submit(registry, agent, merchant, inputs(month)).timestamp
    registry.set_tolerance_bps(0, sender=admin)
    assert registry.verified_cap(merchant, t) == cap_of(month, 1_234)


def test_cap_is_0_from_the_expiry_on(registry, agent, merchant, chain):
    t = next_block_at(chain)
    submit(registry, agent, merchant, issued_at=t - DAY, validity=30 * DAY)
    expires_at = t - DAY + 30 * DAY
    assert registry.verified_cap(merchant, expires_at - 1) == cap_of(100_000 * USDC, 500)
    assert registry.verified_cap(merchant, expires_at) == 0


def test_the_newest_record_at_or_before_at_decides(registry, agent, merchant, chain):
    first, second, third = 100_000 * USDC, 60_000 * USDC, 130_000 * USDC
    t1 = submit(registry, agent, merchant, inputs(first)).timestamp
    next_block_at(chain, t1 + 5 * DAY)
    t2 = submit(registry, agent, merchant, inputs(second)).timestamp
    next_block_at(chain, t2 + 5 * DAY)
    t3 = submit(registry, agent, merchant, inputs(third)).timestamp
    for at, month in ((t1, first), (t2 - 1, first), (t2, second), (t3 - 1, second), (t3, third)):
        assert registry.verified_cap(merchant, at) == cap_of(month, 500)


def test_a_later_attestation_never_changes_the_cap_of_an_earlier_time(registry, agent, merchant, chain):
    t1 = submit(registry, agent, merchant, inputs(100_000 * USDC)).timestamp
    times = [t1, t1 + 1, t1 + DAY, t1 + 3 * DAY]
    before = [registry.verified_cap(merchant, t) for t in times]
    next_block_at(chain, t1 + 3 * DAY + 1)
    submit(registry, agent, merchant, inputs(10_000 * USDC))
    assert [registry.verified_cap(merchant, t) for t in times] == before


def test_a_newer_short_record_ends_the_cap_even_if_an_older_one_is_still_valid(registry, agent, merchant, chain):
    t1 = submit(registry, agent, merchant, validity=30 * DAY).timestamp
    t2 = next_block_at(chain, t1 + DAY)
    submit(registry, agent, merchant, issued_at=t2, validity=DAY)
    assert registry.verified_cap(merchant, t2 + DAY - 1) == cap_of(100_000 * USDC, 500)
    assert registry.verified_cap(merchant, t2 + DAY) == 0  # the first record would still run to t1 + 30 days


def test_two_records_in_one_block_the_second_counts(registry, agent, merchant, deployer):
    first, sig_first = signed(registry, agent, merchant, inputs(100_000 * USDC))
    second, sig_second = signed(registry, agent, merchant, inputs(40_000 * USDC), nonce=1)
    relay = deployer.deploy(compile_source(RELAY, "Relay"))
    calls = [registry.submit.encode_input(m.as_tuple(), s) for m, s in ((first, sig_first), (second, sig_second))]
    t = relay.relay(registry, calls, sender=deployer).timestamp
    assert registry.record_count(merchant) == 2 and registry.verified_at(merchant) == t
    assert registry.verified_cap(merchant, t) == cap_of(40_000 * USDC, 500)


def test_fresh_until_the_newest_attestation_expires(registry, agent, merchant, chain):
    t = next_block_at(chain)
    submit(registry, agent, merchant, issued_at=t, validity=2 * DAY)
    chain.mine(timestamp=t + 2 * DAY - 1)
    assert registry.is_fresh(merchant)
    chain.mine(timestamp=t + 2 * DAY)
    assert not registry.is_fresh(merchant)


# ---------------------------------------------------------------- listing terms and record_listing


def test_listing_terms_are_the_twins_terms_of_the_newest_attestation(registry, agent, merchant):
    attested = inputs(70_000 * USDC, avg_monthly_revenue=60_000 * USDC, volatility_bps=1_800, history_months=10)
    submit(registry, agent, merchant, attested)
    grade = uw.score(attested, 6).grade
    expected = uw.terms(grade, attested.volatility_bps)
    terms = registry.listing_terms(merchant)
    assert (terms.agent, terms.avg_monthly_revenue) == (agent.address, attested.avg_monthly_revenue)
    assert (terms.grade, terms.stake_bps, terms.target_ratio_bps, terms.max_listing_pe, terms.premium_bps) == (
        expected.grade,
        expected.stake_bps,
        expected.target_ratio_bps,
        expected.max_listing_pe,
        expected.premium_bps,
    )


def test_listing_terms_need_a_fresh_attestation(registry, agent, merchant, chain):
    with ape.reverts("registry: no fresh attestation"):
        registry.listing_terms(merchant)
    t = next_block_at(chain)
    submit(registry, agent, merchant, issued_at=t, validity=DAY)
    chain.mine(timestamp=t + DAY)
    with ape.reverts("registry: no fresh attestation"):
        registry.listing_terms(merchant)


def test_only_the_factory_records_a_listing(registry, admin, agent, merchant, attacker):
    submit(registry, agent, merchant)
    for caller in (admin, agent, attacker):
        with ape.reverts("registry: caller is not the factory"):
            registry.record_listing(merchant, attacker, 10**24, sender=caller)


def test_the_factory_is_set_once(registry, admin, attacker):
    with ape.reverts("registry: factory already set"):
        registry.set_factory(attacker, sender=admin)


def test_only_the_owner_sets_the_factory(project, deployer, usdc, attacker):
    registry = deployer.deploy(project.UnderwritingRegistry, usdc)
    with ape.reverts(OWNER_ONLY):
        registry.set_factory(attacker, sender=attacker)


def test_the_factory_is_not_the_zero_address(project, deployer, usdc):
    registry = deployer.deploy(project.UnderwritingRegistry, usdc)
    with ape.reverts("registry: factory is the zero address"):
        registry.set_factory(ZERO, sender=deployer)


def test_recording_a_listing_binds_the_agent_bond(own_registry, factory_account, agent, merchant, attacker, usdc):
    registry = own_registry
    submit(registry, agent, merchant)
    market_cap = 2_500_000 * WAD + 3
    receipt = record(registry, factory_account, merchant, attacker, market_cap)
    assert registry.underwritten(agent) == market_cap
    assert (registry.listing_merchant(attacker), registry.listing_agent(attacker)) == (merchant.address, agent.address)
    assert registry.listing_market_cap(attacker) == market_cap
    [event] = receipt.events.filter(registry.ListingUnderwritten)
    assert (event.merchant, event.agent, event.reserve, event.market_cap, event.grade) == (
        merchant.address,
        agent.address,
        attacker.address,
        market_cap,
        uw.score(inputs(), 6).grade,
    )
    terms = receipt.return_value
    assert (terms.agent, terms.grade) == (agent.address, uw.GRADE_A)
    assert_holds_bonds(registry, usdc, [agent])


def test_a_listing_up_to_the_bond_is_recorded_one_wei_more_is_not(
    own_registry, factory_account, agent, merchant, attacker, new_merchant
):
    registry = own_registry
    submit(registry, agent, merchant)
    headroom = max_market_cap(registry, agent)
    with ape.reverts("registry: agent bond below the minimum"):
        record(registry, factory_account, merchant, attacker, headroom + 1)
    record(registry, factory_account, merchant, attacker, headroom)
    assert registry.underwritten(agent) == headroom


def test_a_second_listing_needs_bond_for_both(
    own_registry, factory_account, agent, merchant, attacker, new_merchant, fresh_account
):
    registry = own_registry
    submit(registry, agent, merchant)
    submit(registry, agent, new_merchant)
    first = max_market_cap(registry, agent) // 2
    record(registry, factory_account, merchant, attacker, first)
    second_reserve = fresh_account()
    with ape.reverts("registry: agent bond below the minimum"):
        record(registry, factory_account, new_merchant, second_reserve, max_market_cap(registry, agent) + 1)
    record(registry, factory_account, new_merchant, second_reserve, max_market_cap(registry, agent))
    assert registry.required_bond(agent, 0) == registry.bond(agent)


def test_recording_needs_a_fresh_attestation(own_registry, factory_account, agent, merchant, attacker, chain):
    registry = own_registry
    with ape.reverts("registry: no fresh attestation"):
        record(registry, factory_account, merchant, attacker, WAD)
    t = next_block_at(chain)
    submit(registry, agent, merchant, issued_at=t, validity=DAY)
    next_block_at(chain, t + DAY)
    with ape.reverts("registry: no fresh attestation"):
        record(registry, factory_account, merchant, attacker, WAD)


def test_recording_rejects_the_zero_reserve(own_registry, factory_account, agent, merchant):
    submit(own_registry, agent, merchant)
    with ape.reverts("registry: reserve is the zero address"):
        record(own_registry, factory_account, merchant, ZERO, WAD)


def test_a_reserve_is_recorded_once(own_registry, factory_account, agent, merchant, attacker):
    submit(own_registry, agent, merchant)
    record(own_registry, factory_account, merchant, attacker, WAD)
    with ape.reverts("registry: reserve already recorded"):
        record(own_registry, factory_account, merchant, attacker, WAD)


def test_a_removed_agents_attestation_lists_nothing(own_registry, factory_account, deployer, agent, merchant, attacker):
    submit(own_registry, agent, merchant)
    own_registry.remove_agent(agent, sender=deployer)
    with ape.reverts("registry: attesting agent was removed"):
        record(own_registry, factory_account, merchant, attacker, WAD)


def test_the_factory_records_its_listing_at_its_market_cap(protocol, registry, admin, agent, new_merchant, usdc):
    usdc.faucet(new_merchant, 1_000_000 * USDC, sender=new_merchant)
    before = registry.underwritten(agent)
    listing = create_listing(
        protocol, admin, merchant=new_merchant, symbol="UW", supply=10**6 * WAD, initial_price=2 * WAD
    )
    reserve = listing.reserve.address
    assert registry.underwritten(agent) - before == registry.listing_market_cap(reserve) == 2 * 10**6 * WAD
    assert (registry.listing_merchant(reserve), registry.listing_agent(reserve)) == (
        new_merchant.address,
        agent.address,
    )
    assert listing.reserve.stake() == 2 * 10**6 * USDC * uw.TERMS_TABLE[uw.GRADE_A][0] // BPS


# ---------------------------------------------------------------- report_default


def test_only_the_listings_reserve_reports_its_default(
    own_registry, factory_account, agent, merchant, attacker, new_merchant
):
    registry = own_registry
    submit(registry, agent, merchant)
    record(registry, factory_account, merchant, attacker, WAD)
    for caller, reported in (
        (agent, merchant),
        (factory_account, merchant),
        (attacker, new_merchant),
        (attacker, ZERO),
    ):
        with ape.reverts("registry: caller is not the merchant's reserve"):
            registry.report_default(reported, sender=caller)


def test_a_default_is_reported_once(own_registry, factory_account, agent, merchant, attacker):
    submit(own_registry, agent, merchant)
    record(own_registry, factory_account, merchant, attacker, WAD)
    own_registry.report_default(merchant, sender=attacker)
    with ape.reverts("registry: default already reported"):
        own_registry.report_default(merchant, sender=attacker)


def test_a_default_slashes_the_agent_bond_for_the_pot(
    own_registry, factory_account, deployer, agent, merchant, attacker, new_merchant, fresh_account, usdc
):
    registry = own_registry
    registry.set_agent_slash_bps(1_234, sender=deployer)
    submit(registry, agent, merchant)
    submit(registry, agent, new_merchant)
    other_reserve = fresh_account()
    record(registry, factory_account, merchant, attacker, 7 * 10**24)
    record(registry, factory_account, new_merchant, other_reserve, 3 * 10**24)
    receipt = registry.report_default(merchant, sender=attacker)
    slashed = BOND * 1_234 // BPS
    assert registry.bond(agent) == BOND - slashed
    assert registry.held_for_pot(attacker) == registry.total_held() == slashed
    assert registry.held_for_pot(other_reserve) == 0
    assert registry.underwritten(agent) == 3 * 10**24  # the defaulted listing no longer binds the bond
    assert registry.defaulted(attacker) and not registry.defaulted(other_reserve)
    [event] = receipt.events.filter(registry.AgentSlashed)
    assert (event.agent, event.reserve, event.amount, event.bond) == (
        agent.address,
        attacker.address,
        slashed,
        BOND - slashed,
    )
    assert_holds_bonds(registry, usdc, [agent])


def test_a_real_default_slashes_the_agent_through_the_reserve(
    protocol, registry, admin, agent, new_merchant, usdc, chain
):
    """A listing misses three periods in a row: its reserve reports the default to the registry."""
    usdc.faucet(new_merchant, 1_000_000 * USDC, sender=new_merchant)
    listing = create_listing(protocol, admin, merchant=new_merchant, symbol="DFLT")
    reserve = listing.reserve
    market_cap = registry.listing_market_cap(reserve)
    bond, underwritten, held = registry.bond(agent), registry.underwritten(agent), registry.total_held()
    chain.pending_timestamp = listing.router.START() + 3 * PERIOD + 60
    chain.mine()
    statuses = []
    for _ in range(3):  # nothing paid: periods 0, 1 and 2 are missed
        receipt = reserve.assess(sender=admin)
        statuses.append(reserve.status())
    assert statuses == [1, 1, 2]  # LATE, LATE, DEFAULTED
    slashed = bond * registry.agent_slash_bps() // BPS
    assert slashed == bond // 5 > 0
    assert registry.bond(agent) == bond - slashed
    # the fund opened the pot at the default and pulled the slash from the registry
    [released] = receipt.events.filter(registry.HeldReleased)
    assert (released.reserve, released.amount) == (reserve.address, slashed)
    assert registry.held_for_pot(reserve) == 0
    assert registry.total_held() == held
    assert registry.underwritten(agent) == underwritten - market_cap
    assert registry.defaulted(reserve)
    [event] = receipt.events.filter(registry.AgentSlashed)
    assert (event.agent, event.reserve, event.amount) == (agent.address, reserve.address, slashed)
    assert_holds_bonds(registry, usdc, [agent])


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "setter, value",
    [
        ("set_tolerance_bps", 100),
        ("set_min_agent_bond_bps", 300),
        ("set_agent_slash_bps", 100),
        ("set_model_version", uw.MODEL_VERSION + 1),
    ],
)
def test_only_the_owner_sets_parameters(registry, attacker, setter, value):
    with ape.reverts(OWNER_ONLY):
        getattr(registry, setter)(value, sender=attacker)


@pytest.mark.parametrize(
    "setter, getter, lowest, highest",
    [
        ("set_tolerance_bps", "tolerance_bps", 0, 2_000),
        ("set_min_agent_bond_bps", "min_agent_bond_bps", 50, 2_000),
        ("set_agent_slash_bps", "agent_slash_bps", 0, 5_000),
    ],
)
def test_parameters_within_their_bounds_are_set(registry, admin, setter, getter, lowest, highest):
    for value in (lowest, highest):
        receipt = getattr(registry, setter)(value, sender=admin)
        assert getattr(registry, getter)() == value
        [event] = receipt.events.filter(registry.ParameterChanged)
        assert (event.name, event.value) == (getter, value)


@pytest.mark.parametrize(
    "setter, value, reason",
    [
        ("set_tolerance_bps", 2_001, "registry: tolerance_bps out of bounds"),
        ("set_min_agent_bond_bps", 49, "registry: min_agent_bond_bps out of bounds"),
        ("set_min_agent_bond_bps", 2_001, "registry: min_agent_bond_bps out of bounds"),
        ("set_agent_slash_bps", 5_001, "registry: agent_slash_bps out of bounds"),
    ],
)
def test_parameters_out_of_bounds_are_rejected(registry, admin, setter, value, reason):
    with ape.reverts(reason):
        getattr(registry, setter)(value, sender=admin)


def test_the_model_version_only_increases(registry, admin):
    current = registry.model_version()
    for value in (current, current - 1):
        with ape.reverts("registry: model version must increase"):
            registry.set_model_version(value, sender=admin)
    registry.set_model_version(current + 5, sender=admin)
    assert registry.model_version() == current + 5


def test_a_higher_minimum_bond_applies_to_live_listings(
    own_registry, factory_account, deployer, agent, merchant, attacker
):
    submit(own_registry, agent, merchant)
    market_cap = 10**25 + 1
    record(own_registry, factory_account, merchant, attacker, market_cap)
    own_registry.set_min_agent_bond_bps(1_500, sender=deployer)
    assert own_registry.required_bond(agent, 0) == required_bond(market_cap, 1_500)
