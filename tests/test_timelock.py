"""The governance timelock: snekmate's timelock controller plus a 14-day
grace period after which a ready operation can no longer execute."""

import ape
import pytest

DAY = 86_400
DELAY = 2 * DAY
ZERO = "0x0000000000000000000000000000000000000000"
EMPTY = b"\0" * 32


@pytest.fixture(scope="session")
def dao(accounts):
    # the DAO multisig's address; the real Safe comes with the governance issue
    return accounts[6]


@pytest.fixture
def timelock(deployer, project, dao, router, admin):
    lock = deployer.deploy(project.Timelock, DELAY, [dao], [ZERO], ZERO)
    router.transfer_ownership(lock, sender=admin)
    return lock


def _schedule(timelock, dao, target, data, salt=EMPTY):
    timelock.schedule(target, 0, data, EMPTY, salt, DELAY, sender=dao)
    return timelock.hash_operation(target, 0, data, EMPTY, salt)


def test_scheduled_change_executes_after_the_delay(timelock, dao, router, attacker, chain):
    data = router.set_share_bps.encode_input(2_000)
    op = _schedule(timelock, dao, router, data)
    chain.pending_timestamp += DELAY
    timelock.execute(router, 0, data, EMPTY, EMPTY, sender=attacker)  # the executor role is open
    assert router.share_bps() == 2_000
    assert timelock.is_operation_done(op)


def test_too_early_reverts(timelock, dao, router, attacker, chain):
    data = router.set_share_bps.encode_input(2_000)
    _schedule(timelock, dao, router, data)
    chain.pending_timestamp += DELAY - 10
    with ape.reverts("timelock_controller: operation is not ready"):
        timelock.execute(router, 0, data, EMPTY, EMPTY, sender=attacker)
    assert router.share_bps() == 1_000


def test_after_grace_reverts(timelock, dao, router, attacker, chain):
    data = router.set_share_bps.encode_input(2_000)
    op = _schedule(timelock, dao, router, data)
    chain.pending_timestamp += DELAY + 14 * DAY + 1
    chain.mine()
    assert timelock.is_operation_expired(op)
    assert not timelock.is_operation_ready(op)
    with ape.reverts("timelock: operation expired"):
        timelock.execute(router, 0, data, EMPTY, EMPTY, sender=attacker)
    assert router.share_bps() == 1_000


def test_last_second_of_grace_still_executes(timelock, dao, router, attacker, chain):
    data = router.set_share_bps.encode_input(2_000)
    receipt = timelock.schedule(router, 0, data, EMPTY, EMPTY, DELAY, sender=dao)
    chain.pending_timestamp = receipt.timestamp + DELAY + 14 * DAY
    timelock.execute(router, 0, data, EMPTY, EMPTY, sender=attacker)
    assert router.share_bps() == 2_000


def test_cancelled_operation_cannot_execute(timelock, dao, router, attacker, chain):
    data = router.set_share_bps.encode_input(2_000)
    op = _schedule(timelock, dao, router, data)
    timelock.cancel(op, sender=dao)
    chain.pending_timestamp += DELAY
    with ape.reverts("timelock_controller: operation is not ready"):
        timelock.execute(router, 0, data, EMPTY, EMPTY, sender=attacker)
    assert router.share_bps() == 1_000


def test_batch_executes_together(timelock, dao, router, attacker, chain):
    targets = [router.address, router.address]
    payloads = [router.set_share_bps.encode_input(1_500), router.set_guardian.encode_input(attacker.address)]
    timelock.schedule_batch(targets, [0, 0], payloads, EMPTY, EMPTY, DELAY, sender=dao)
    chain.pending_timestamp += DELAY
    timelock.execute_batch(targets, [0, 0], payloads, EMPTY, EMPTY, sender=attacker)
    assert router.share_bps() == 1_500
    assert router.guardian() == attacker.address


def test_expired_batch_reverts(timelock, dao, router, attacker, chain):
    targets = [router.address]
    payloads = [router.set_share_bps.encode_input(1_500)]
    timelock.schedule_batch(targets, [0], payloads, EMPTY, EMPTY, DELAY, sender=dao)
    chain.pending_timestamp += DELAY + 15 * DAY
    with ape.reverts("timelock: operation expired"):
        timelock.execute_batch(targets, [0], payloads, EMPTY, EMPTY, sender=attacker)
    assert router.share_bps() == 1_000


def test_only_the_dao_schedules(timelock, router, attacker):
    data = router.set_share_bps.encode_input(3_000)
    with ape.reverts("access_control: account is missing role"):
        timelock.schedule(router, 0, data, EMPTY, EMPTY, DELAY, sender=attacker)


def test_only_the_dao_cancels(timelock, dao, router, attacker):
    op = _schedule(timelock, dao, router, router.set_share_bps.encode_input(2_000))
    with ape.reverts("access_control: account is missing role"):
        timelock.cancel(op, sender=attacker)
    assert timelock.is_operation_pending(op)


def test_delay_cannot_be_shortened_by_scheduling(timelock, dao, router):
    with ape.reverts("timelock_controller: insufficient delay"):
        timelock.schedule(router, 0, router.set_share_bps.encode_input(2_000), EMPTY, EMPTY, DELAY - 1, sender=dao)


def test_old_owner_lost_the_setters(timelock, router, admin):
    with ape.reverts("ownable: caller is not the owner"):
        router.set_share_bps(2_000, sender=admin)


def test_predecessor_must_be_done_first(timelock, dao, router, attacker, chain):
    first = router.set_share_bps.encode_input(2_000)
    second = router.set_share_bps.encode_input(2_500)
    op1 = _schedule(timelock, dao, router, first)
    timelock.schedule(router, 0, second, op1, EMPTY, DELAY, sender=dao)
    chain.pending_timestamp += DELAY
    with ape.reverts("timelock_controller: missing dependency"):
        timelock.execute(router, 0, second, op1, EMPTY, sender=attacker)
    timelock.execute(router, 0, first, EMPTY, EMPTY, sender=attacker)
    timelock.execute(router, 0, second, op1, EMPTY, sender=attacker)
    assert router.share_bps() == 2_500
