"""Governance end to end: a real Safe 1.4.1 (npm artifacts) whose owners sign,
the Safe schedules on the Timelock, time passes, anyone executes."""

import ape
import pytest

from ape_pst_plugin import governance as gov

DAY = 86_400
DELAY = 2 * DAY
GRACE = 14 * DAY
USDC = 10**6
WAD = 10**18
OWNER_ERROR = "ownable: caller is not the owner"


def _later(chain, seconds):
    chain.pending_timestamp += seconds


def test_deployer_keeps_no_role(governed, admin):
    protocol, governance = governed
    lock = governance.timelock
    assert protocol.factory.owner() == lock.address
    for role in (lock.DEFAULT_ADMIN_ROLE(), lock.PROPOSER_ROLE(), lock.CANCELLER_ROLE()):
        assert not lock.hasRole(role, admin)
    assert lock.hasRole(lock.PROPOSER_ROLE(), governance.safe)
    assert lock.hasRole(lock.CANCELLER_ROLE(), governance.safe)
    assert lock.hasRole(lock.EXECUTOR_ROLE(), gov.ZERO)  # anyone executes


def test_every_listing_setter_belongs_to_the_timelock(governed, governed_listing):
    timelock = governed[1].timelock.address
    for contract in (governed_listing.router, governed_listing.oracle, governed_listing.reserve):
        assert contract.owner() == timelock


def test_safe_owners_schedule_and_anyone_executes(governed, governed_listing, safe_owners, attacker, chain):
    governance = governed[1]
    router = governed_listing.router
    data = router.set_share_bps.encode_input(2_000)
    op = gov.propose(governance, router.address, data, safe_owners[1:], sender=safe_owners[1])
    assert governance.timelock.is_operation_pending(op)
    _later(chain, DELAY)
    gov.execute(governance, router.address, data, sender=attacker)
    assert router.share_bps() == 2_000
    assert governance.timelock.is_operation_done(op)


def test_safe_below_threshold_cannot_schedule(governed, governed_listing, safe_owners):
    governance = governed[1]
    data = governed_listing.router.set_share_bps.encode_input(2_000)
    payload = governance.timelock.schedule.encode_input(governed_listing.router, 0, data, gov.EMPTY, gov.EMPTY, DELAY)
    with ape.reverts("GS020"):  # Safe: signatures data too short
        gov.safe_exec(governance.safe, governance.timelock.address, payload, safe_owners[:1], sender=safe_owners[0])
    assert not governance.timelock.is_operation(gov.operation_id(governance, governed_listing.router.address, data))


def test_non_owner_signature_is_refused(governed, governed_listing, safe_owners, attacker):
    governance = governed[1]
    data = governed_listing.router.set_share_bps.encode_input(2_000)
    payload = governance.timelock.schedule.encode_input(governed_listing.router, 0, data, gov.EMPTY, gov.EMPTY, DELAY)
    with ape.reverts("GS026"):  # Safe: invalid owner provided
        gov.safe_exec(
            governance.safe, governance.timelock.address, payload, [safe_owners[0], attacker], sender=attacker
        )


def test_execute_before_the_delay_reverts(governed, governed_listing, safe_owners, attacker, chain):
    governance = governed[1]
    router = governed_listing.router
    data = router.set_share_bps.encode_input(2_000)
    gov.propose(governance, router.address, data, safe_owners[:2], sender=attacker)
    _later(chain, DELAY - 60)
    with ape.reverts("timelock_controller: operation is not ready"):
        gov.execute(governance, router.address, data, sender=attacker)
    assert router.share_bps() == 1_000


def test_execute_after_the_grace_period_reverts(governed, governed_listing, safe_owners, attacker, chain):
    governance = governed[1]
    router = governed_listing.router
    data = router.set_share_bps.encode_input(2_000)
    gov.propose(governance, router.address, data, safe_owners[:2], sender=attacker)
    _later(chain, DELAY + GRACE + 1)
    with ape.reverts("timelock: operation expired"):
        gov.execute(governance, router.address, data, sender=attacker)
    assert router.share_bps() == 1_000


def test_safe_cancels_a_pending_operation(governed, governed_listing, safe_owners, attacker, chain):
    governance = governed[1]
    reserve = governed_listing.reserve
    data = reserve.set_band.encode_input(5 * WAD, 20 * WAD)
    op = gov.propose(governance, reserve.address, data, safe_owners[:2], sender=attacker)
    gov.cancel(governance, op, safe_owners[1:], sender=attacker)
    assert not governance.timelock.is_operation(op)
    _later(chain, DELAY)
    with ape.reverts("timelock_controller: operation is not ready"):
        gov.execute(governance, reserve.address, data, sender=attacker)
    assert reserve.pe_low() == 8 * WAD


def test_batch_changes_several_parameters_at_once(governed, governed_listing, safe_owners, attacker, chain):
    governance = governed[1]
    listing = governed_listing
    calls = [
        (listing.reserve.address, listing.reserve.set_band.encode_input(6 * WAD, 18 * WAD)),
        (listing.reserve.address, listing.reserve.set_limits.encode_input(500, 2 * 3600, 200, 2_000, 7_000)),
        (listing.router.address, listing.router.set_share_bps.encode_input(1_500)),
        (listing.oracle.address, listing.oracle.set_twap_window.encode_input(3600, 3 * DAY)),
    ]
    gov.propose_batch(governance, calls, safe_owners[:2], sender=attacker)
    _later(chain, DELAY)
    gov.execute_batch(governance, calls, sender=attacker)
    assert (listing.reserve.pe_low(), listing.reserve.pe_high()) == (6 * WAD, 18 * WAD)
    assert (listing.reserve.capacity_bps(), listing.reserve.cooldown(), listing.reserve.max_slippage_bps()) == (
        500,
        2 * 3600,
        200,
    )
    assert (listing.reserve.max_deviation_bps(), listing.reserve.max_exposure_bps()) == (2_000, 7_000)
    assert listing.router.share_bps() == 1_500
    assert listing.oracle.twap_window() == 3600


def test_out_of_bounds_parameter_fails_at_execution_and_changes_nothing(
    governed, governed_listing, safe_owners, attacker, chain
):
    governance = governed[1]
    router = governed_listing.router
    data = router.set_share_bps.encode_input(3_001)
    op = gov.propose(governance, router.address, data, safe_owners[:2], sender=attacker)
    _later(chain, DELAY)
    with ape.reverts("router: share_bps out of bounds"):
        gov.execute(governance, router.address, data, sender=attacker)
    assert router.share_bps() == 1_000
    assert not governance.timelock.is_operation_done(op)


@pytest.mark.parametrize(
    "call",
    [
        lambda l, to: l.router.set_share_bps(2_000, sender=to),
        lambda l, to: l.router.set_guardian(to, sender=to),
        lambda l, to: l.router.unpause(sender=to),
        lambda l, to: l.reserve.set_band(5 * WAD, 20 * WAD, sender=to),
        lambda l, to: l.reserve.set_limits(500, 3600, 100, 1_000, 5_000, sender=to),
        lambda l, to: l.reserve.set_revenue_target(1, sender=to),
        lambda l, to: l.reserve.waive(0, sender=to),
        lambda l, to: l.reserve.set_guardian(to, sender=to),
        lambda l, to: l.reserve.unpause(sender=to),
        lambda l, to: l.reserve.withdraw(to, 1, sender=to),
        lambda l, to: l.oracle.set_twap_window(3600, 2 * DAY, sender=to),
    ],
    ids=[
        "router.set_share_bps",
        "router.set_guardian",
        "router.unpause",
        "reserve.set_band",
        "reserve.set_limits",
        "reserve.set_revenue_target",
        "reserve.waive",
        "reserve.set_guardian",
        "reserve.unpause",
        "reserve.withdraw",
        "oracle.set_twap_window",
    ],
)
def test_nobody_but_the_timelock_calls_a_setter(governed, governed_listing, admin, guardian, merchant, call):
    # the deployer, the guardian, the merchant and the Safe itself (it must go through the delay)
    safe = governed[1].safe
    for caller in (admin, guardian, merchant):
        with ape.reverts(OWNER_ERROR):
            call(governed_listing, caller)
    with ape.reverts(OWNER_ERROR):
        call(governed_listing, _impersonated(safe))


def _impersonated(contract):
    from ape import accounts, networks

    networks.provider.set_balance(contract.address, 10**18)
    return accounts[contract.address]


def test_new_listings_need_the_timelock(governed, admin, merchant, usdc):
    factory = governed[0].factory
    with ape.reverts(OWNER_ERROR):
        factory.create_listing("X", "X", 10**6 * WAD, WAD, merchant, merchant, sender=admin)
    with ape.reverts(OWNER_ERROR):
        factory.set_guardian(admin, sender=admin)


def test_agents_and_underwriting_parameters_change_only_through_the_timelock(
    governed, admin, safe_owners, attacker, chain, accounts
):
    registry = governed[0].registry
    newcomer = accounts.generate_test_account()
    assert registry.owner() == governed[1].timelock.address
    with ape.reverts(OWNER_ERROR):
        registry.add_agent(newcomer, sender=admin)
    with ape.reverts(OWNER_ERROR):
        registry.set_tolerance_bps(0, sender=admin)
    with ape.reverts(OWNER_ERROR):
        registry.set_min_agent_bond_bps(50, sender=admin)
    assert not registry.is_agent(newcomer)
    data = registry.add_agent.encode_input(newcomer)
    gov.propose(governed[1], registry.address, data, safe_owners[:2], sender=attacker)
    _later(chain, DELAY)
    receipt = gov.execute(governed[1], registry.address, data, sender=attacker)
    assert registry.is_agent(newcomer)
    assert [e.agent for e in receipt.events.filter(registry.AgentAdded)] == [newcomer.address]


def test_guardian_pauses_and_only_the_timelock_unpauses(
    governed, governed_listing, guardian, safe_owners, attacker, chain
):
    governance = governed[1]
    router, reserve = governed_listing.router, governed_listing.reserve
    router.pause(sender=guardian)
    reserve.pause(sender=guardian)
    with ape.reverts("pausable: contract is paused"):
        reserve.stabilise(sender=attacker)
    calls = [(router.address, router.unpause.encode_input()), (reserve.address, reserve.unpause.encode_input())]
    gov.propose_batch(governance, calls, safe_owners[:2], sender=attacker)
    _later(chain, DELAY)
    gov.execute_batch(governance, calls, sender=attacker)
    assert not router.paused() and not reserve.paused()


def test_attacker_cannot_pause(governed_listing, attacker):
    with ape.reverts("router: caller is not the guardian"):
        governed_listing.router.pause(sender=attacker)
    with ape.reverts("reserve: caller is not the guardian"):
        governed_listing.reserve.pause(sender=attacker)


def test_treasury_withdrawal_goes_through_the_timelock(governed, governed_listing, safe_owners, attacker, usdc, chain):
    governance = governed[1]
    reserve = governed_listing.reserve
    usdc.faucet(reserve, 1_000 * USDC, sender=attacker)  # free balance above the locked stake
    treasury = safe_owners[2].address
    data = reserve.withdraw.encode_input(treasury, 1_000 * USDC)
    before = usdc.balanceOf(treasury)
    gov.propose(governance, reserve.address, data, safe_owners[:2], sender=attacker)
    _later(chain, DELAY)
    gov.execute(governance, reserve.address, data, sender=attacker)
    assert usdc.balanceOf(treasury) - before == 1_000 * USDC
    assert usdc.balanceOf(reserve) >= reserve.stake()


def test_timelock_delay_changes_only_through_itself(governed, safe_owners, attacker, chain):
    governance = governed[1]
    lock = governance.timelock
    with ape.reverts("timelock_controller: caller must be timelock"):
        lock.update_delay(DAY, sender=attacker)
    data = lock.update_delay.encode_input(3 * DAY)
    gov.propose(governance, lock.address, data, safe_owners[:2], sender=attacker)
    _later(chain, DELAY)
    gov.execute(governance, lock.address, data, sender=attacker)
    assert lock.get_minimum_delay() == 3 * DAY


def test_schedule_shorter_than_the_delay_is_refused(governed, governed_listing, safe_owners, attacker):
    governance = governed[1]
    data = governed_listing.router.set_share_bps.encode_input(2_000)
    with ape.reverts("GS013"):  # the Safe reverts when its call fails
        gov.propose(governance, governed_listing.router.address, data, safe_owners[:2], sender=attacker, delay=DAY)
