"""`ape pst propose / approve / execute / queue`: the DAO's workflow on a
protocol `ape pst deploy` put on the test chain (owners test accounts 0-2, 2
of 3 sign, a one-hour delay). An owner proposes, a second approves and the
Safe schedules on the timelock, anyone executes after the delay and before
the expiry; the queue (a file of the CLI's own, beside the deployment record)
carries a proposal from one command to the next, and the chain says what
became of it. Onboarding a risk agent is itself a governance call (the
registry belongs to the timelock), so the listing walk starts with one."""

import json
import re

import pytest
from test_cli import assert_one_line_error, run, run_json

from ape_pst_plugin import dao as dao_module
from ape_pst_plugin import registry
from ape_pst_plugin.deployment import ZERO, attest, default_inputs, listing_at, onboard_agent, required_stake
from ape_pst_plugin.governance import EMPTY

USDC = 10**6
WAD = 10**18
DELAY = 3_600
GRACE = 14 * 86_400
BOND = 100_000 * USDC
SUPPLY, PRICE = 1_000_000, 2  # whole tokens, settlement per token (the CLI's defaults)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """`ape pst deploy --min-delay 3600` once per module (a record of its own); its JSON output."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("deploy") / "deployments.json"
        patch.setattr(registry, "record_path", lambda: path)
        return run_json("deploy", "--min-delay", str(DELAY))


@pytest.fixture
def dao(record, deployed):
    """This test's record (its Safe queue beside it, empty) points at the module's deployment."""
    registry.save_record({key: deployed[key] for key in registry.FIELDS})
    return registry.load_deployment()


@pytest.fixture
def queue_file(record):
    return record.parent / dao_module.QUEUE_FILE


@pytest.fixture
def new_agent(accounts, networks):
    """A fresh, funded account, not yet a risk agent."""
    account = accounts.generate_test_account()
    networks.provider.set_balance(account.address, 10**21)
    return account


def later(chain, seconds):
    chain.pending_timestamp += seconds
    chain.mine()


def propose_agent(agent, owner="TEST::0") -> dict:
    return run_json("propose", "set", "registry", "add_agent", agent.address, "--account", owner)


def through_the_timelock(proposal: dict, chain, approver="TEST::1") -> dict:
    """A second owner approves ``proposal``, the delay passes, a stranger executes it."""
    run_json("approve", proposal["id"], "--account", approver)
    later(chain, DELAY)
    return run_json("execute", proposal["id"], "--account", "TEST::7")


@pytest.fixture
def proposed(dao, new_agent):
    """``registry.add_agent(new_agent)`` proposed by owner 0: one signature of two."""
    return propose_agent(new_agent)


@pytest.fixture
def scheduled(proposed):
    """`proposed`, approved by owner 1: the Safe has scheduled it on the timelock."""
    return run_json("approve", proposed["id"], "--account", "TEST::1")


@pytest.fixture
def onboarded(dao, new_agent, chain):
    """`new_agent` added by the DAO (through the CLI) and bonded with BOND."""
    through_the_timelock(propose_agent(new_agent), chain)
    # the timelock has allow-listed it: onboard_agent only funds and posts the bond
    onboard_agent(dao.protocol, new_agent, new_agent, BOND)
    return new_agent


@pytest.fixture
def attested(dao, onboarded, new_merchant):
    """`new_merchant` with a fresh grade-A attestation from `onboarded`, holding its stake (not yet approved)."""
    protocol = dao.protocol
    attest(protocol, new_merchant.address, default_inputs(100_000 * USDC), agent=onboarded)
    stake = required_stake(SUPPLY * WAD, PRICE * WAD, 6, protocol.registry.listing_terms(new_merchant).stake_bps)
    protocol.settlement.faucet(new_merchant, stake, sender=new_merchant)
    return new_merchant, stake


@pytest.fixture
def listable(dao, attested):
    """`attested`, with the stake approved to the factory: ready to be listed."""
    merchant, stake = attested
    dao.protocol.settlement.approve(dao.protocol.factory, stake, sender=merchant)
    return merchant, stake


def propose_listing(merchant, *extra) -> dict:
    args = ("--merchant", merchant.address, "--name", "Acme Shop", "--symbol", "ACME", "--account", "TEST::0")
    return run_json("propose", "create-listing", *args, *extra)


@pytest.fixture
def listed(dao, listable, chain):
    """A listing the DAO created through the CLI: proposed, approved, executed."""
    through_the_timelock(propose_listing(listable[0]), chain)
    return listing_at(dao.protocol, 0)


# --- the walk --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["propose", "propose create-listing", "propose set", "approve", "execute", "queue"])
def test_every_dao_command_has_help(command):
    result = run(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_propose_records_a_safe_transaction_scheduling_the_call(proposed, dao, new_agent, accounts):
    safe, timelock = dao.governance.safe, dao.governance.timelock
    calldata = bytes(dao.protocol.registry.add_agent.encode_input(new_agent.address))
    salt = bytes.fromhex(proposed["salt"][2:])
    payload = timelock.schedule.encode_input(dao.protocol.registry, 0, calldata, EMPTY, salt, DELAY)
    # the Safe's own hash of timelock.schedule(...) at its current nonce, signed by the proposer alone
    assert (
        proposed["safe_tx_hash"]
        == "0x" + bytes(safe.getTransactionHash(timelock, 0, payload, 0, 0, 0, 0, ZERO, ZERO, 0)).hex()
    )
    assert proposed["id"] == proposed["safe_tx_hash"][2:10]
    assert (proposed["calldata"], proposed["delay"], proposed["safe_nonce"]) == ("0x" + calldata.hex(), DELAY, 0)
    assert (proposed["state"], proposed["signatures"], proposed["threshold"]) == ("awaiting_signatures", 1, 2)
    assert proposed["signed_by"] == [accounts[0].address]
    assert proposed["eta"] is None and proposed["undefined"]["eta"] == "not scheduled on the timelock"
    assert timelock.get_timestamp(proposed["operation_id"]) == 0


def test_the_queue_file_keeps_the_proposal_and_its_signature(proposed, queue_file, accounts):
    [entry] = json.loads(queue_file.read_text())["ethereum:local"]["transactions"]
    assert entry["id"] == proposed["id"] and entry["state"] == "awaiting_signatures"
    assert list(entry["signatures"]) == [accounts[0].address]
    assert len(bytes.fromhex(entry["signatures"][accounts[0].address][2:])) == 65


def test_the_approval_reaching_the_threshold_has_the_safe_schedule_it(scheduled, dao, chain, accounts):
    timelock = dao.governance.timelock
    assert scheduled["state"] == "scheduled" and scheduled["signatures"] == 2
    assert set(scheduled["signed_by"]) == {accounts[0].address, accounts[1].address}
    receipt = chain.provider.get_receipt(scheduled["scheduled_tx"])
    eta = chain.blocks[receipt.block_number].timestamp + DELAY
    assert scheduled["eta"] == timelock.get_timestamp(scheduled["operation_id"]) == eta
    assert scheduled["expires_at"] == eta + GRACE
    assert timelock.is_operation_pending(scheduled["operation_id"])
    assert dao.governance.safe.call_view_method("nonce") == 1


def test_one_signature_schedules_nothing(proposed, dao):
    assert run_json("queue")[0]["signatures"] == 1
    assert not dao.governance.timelock.is_operation(proposed["operation_id"])
    assert dao.governance.safe.call_view_method("nonce") == 0


def test_execute_after_the_delay_makes_the_call(scheduled, dao, new_agent, chain):
    later(chain, DELAY)
    out = run_json("execute", scheduled["id"], "--account", "TEST::7")  # not an owner: anyone executes
    assert out["state"] == "done"
    assert dao.protocol.registry.is_agent(new_agent)
    assert dao.governance.timelock.is_operation_done(scheduled["operation_id"])


def test_the_queue_follows_a_proposal_through_its_states(proposed, chain):
    def seen():
        [row] = run_json("queue")
        return row["state"], row["signatures"], row["eta"]

    assert seen() == ("awaiting_signatures", 1, None)
    eta = run_json("approve", proposed["id"], "--account", "TEST::2")["eta"]
    assert seen() == ("scheduled", 2, eta)
    chain.pending_timestamp = eta
    chain.mine()
    assert seen() == ("ready", 2, eta)
    run_json("execute", proposed["id"])
    # the timelock forgets the ETA of a done operation; the queue remembers it
    assert seen() == ("done", 2, eta)


def test_the_queue_shows_an_operation_past_its_grace_as_expired(scheduled, chain):
    later(chain, DELAY + GRACE + 1)
    [row] = run_json("queue")
    assert row["state"] == "expired"
    assert row["expires_at"] == scheduled["eta"] + GRACE


def test_a_proposal_overtaken_at_its_nonce_is_stale(dao, proposed, accounts):
    # owner 1 proposes something else at the same Safe nonce, and owner 0 approves it first
    other = propose_agent(accounts[8], owner="TEST::1")
    assert other["safe_nonce"] == proposed["safe_nonce"] == 0
    run_json("approve", other["id"], "--account", "TEST::0")
    states = {row["id"]: row["state"] for row in run_json("queue")}
    assert states == {proposed["id"]: "stale", other["id"]: "scheduled"}
    assert_one_line_error(run("approve", proposed["id"], "--account", "TEST::2"), "is stale: the Safe's nonce is 1")


def test_a_proposal_from_another_chain_history_is_left_out(dao, new_agent, chain):
    snapshot = chain.snapshot()
    chain.mine()
    proposal = propose_agent(new_agent)  # recorded at the head block
    chain.restore(snapshot)  # as a restarted local node: same addresses, another block at that height
    later(chain, 60)
    assert run_json("queue") == []
    assert_one_line_error(run("approve", proposal["id"], "--account", "TEST::1"), "no Safe transaction")


def test_queue_table_lists_the_proposal(proposed):
    result = run("queue")
    assert result.exit_code == 0, result.stderr
    [row] = [line for line in result.stdout.splitlines() if proposed["id"] in line]
    assert "awaiting signatures" in row and "1/2" in row and "registry.add_agent" in row


def test_a_listing_proposed_approved_and_executed_exists_on_the_factory(dao, listable, chain):
    merchant, stake = listable
    out = propose_listing(merchant, "--supply", str(SUPPLY), "--price", str(PRICE))
    assert out["function"] == "create_listing" and out["target"] == dao.protocol.factory.address
    assert out["description"] == (
        f"factory.create_listing(name='Acme Shop', symbol='ACME', supply=1000000e18, initial_price=2e18, "
        f"merchant={merchant.address}, payout={merchant.address})"
    )
    assert dao.protocol.factory.listing_count() == 0
    through_the_timelock(out, chain, approver="TEST::2")
    listing = listing_at(dao.protocol, 0)
    assert (listing.token.symbol(), listing.token.name()) == ("ACME", "Acme Shop")
    assert listing.token.totalSupply() == SUPPLY * WAD
    assert listing.merchant == merchant.address and listing.reserve.stake() == stake
    assert listing.reserve.owner() == dao.governance.timelock.address


def test_a_listings_setter_goes_through_the_timelock(dao, listed, chain):
    out = run_json("propose", "set", "reserve:ACME", "set_band", "9e18", "14.5e18", "--account", "TEST::1")
    assert out["description"] == f"reserve:{listed.id}.set_band(pe_low_=9e18, pe_high_=14.5e18)"
    through_the_timelock(out, chain, approver="TEST::0")
    assert (listed.reserve.pe_low(), listed.reserve.pe_high()) == (9 * WAD, 145 * WAD // 10)


# --- what is refused, and that nothing is recorded then --------------------------------------


def test_execute_before_the_eta_is_refused(scheduled, dao, new_agent):
    when = dao_module.when(scheduled["eta"])
    assert_one_line_error(run("execute", scheduled["id"]), f"{scheduled['id']} is not ready until {when}")
    assert not dao.protocol.registry.is_agent(new_agent)


def test_execute_after_the_expiry_is_refused(scheduled, dao, new_agent, chain):
    later(chain, DELAY + GRACE + 1)
    expired = dao_module.when(scheduled["expires_at"])
    assert_one_line_error(run("execute", scheduled["id"]), f"expired at {expired}")
    assert not dao.protocol.registry.is_agent(new_agent)


def test_execute_twice_is_refused(scheduled, chain):
    later(chain, DELAY)
    run_json("execute", scheduled["id"])
    assert_one_line_error(run("execute", scheduled["id"]), "has already been executed")


def test_execute_below_the_threshold_is_refused(proposed):
    assert_one_line_error(run("execute", proposed["id"]), "is not scheduled yet: 1/2 signatures")


@pytest.mark.parametrize("command", ["approve", "execute"])
def test_an_unknown_id_is_refused(proposed, command):
    assert_one_line_error(run(command, "deadbeef"), "no Safe transaction 'deadbeef' in the queue on ethereum:local")


def test_approval_by_a_stranger_is_refused(proposed, accounts):
    result = run("approve", proposed["id"], "--account", "TEST::5")
    assert_one_line_error(result, f"{accounts[5].address} is not an owner of the DAO Safe")
    assert run_json("queue")[0]["signatures"] == 1


def test_a_stranger_cannot_propose(dao, new_agent, queue_file, accounts):
    result = run("propose", "set", "registry", "add_agent", new_agent.address, "--account", "TEST::5")
    assert_one_line_error(result, f"{accounts[5].address} is not an owner of the DAO Safe")
    assert not queue_file.exists()


def test_the_same_owner_approving_twice_is_refused(proposed, accounts):
    result = run("approve", proposed["id"], "--account", "TEST::0")
    assert_one_line_error(result, f"{accounts[0].address} has already signed {proposed['id']} (1/2 signatures)")


def test_approving_a_scheduled_proposal_is_refused(scheduled):
    result = run("approve", scheduled["id"], "--account", "TEST::2")
    assert_one_line_error(result, f"{scheduled['id']} is scheduled, ready at")


def test_a_proposal_made_before_the_delay_was_raised_is_refused(dao, accounts, chain):
    raise_delay = run_json("propose", "set", "timelock", "update_delay", str(2 * DELAY), "--account", "TEST::1")
    run_json("approve", raise_delay["id"], "--account", "TEST::2")
    late = propose_agent(accounts[8])  # at the next nonce, with the one-hour delay
    later(chain, DELAY)
    run_json("execute", raise_delay["id"])
    assert dao.governance.timelock.get_minimum_delay() == 2 * DELAY
    result = run("approve", late["id"], "--account", "TEST::1")
    assert_one_line_error(result, f"asks for a 3600 s delay, under the timelock's minimum of {2 * DELAY} s now")


def test_an_owner_whose_submission_failed_approves_again(proposed, dao, monkeypatch):
    from ape.exceptions import ApeException

    from ape_pst_plugin import governance

    submit = governance.exec_signed

    def node_gone(*args, **kwargs):
        monkeypatch.setattr(governance, "exec_signed", submit)
        raise ApeException("connection to the node lost")

    monkeypatch.setattr(governance, "exec_signed", node_gone)
    assert_one_line_error(run("approve", proposed["id"], "--account", "TEST::1"), "connection to the node lost")
    assert run_json("queue")[0]["signatures"] == 2  # the signature was kept
    assert run_json("approve", proposed["id"], "--account", "TEST::1")["state"] == "scheduled"
    assert dao.governance.timelock.is_operation_pending(proposed["operation_id"])


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("registry", "add_agnet", "0x" + "11" * 20), "registry has no function 'add_agnet'; the ones that change"),
        (("registry", "is_fresh", "0x" + "11" * 20), "registry.is_fresh is a view"),
        (("registry", "add_agent"), "registry.add_agent takes (agent address), got 0 argument(s)"),
        (("registry", "add_agent", "0x1234"), "registry.add_agent agent (address): '0x1234' is not an address"),
        (("registry", "set_tolerance_bps", "2.5"), "2.5 is not a whole number of base units"),
        (("registry", "set_tolerance_bps", "-1"), "(uint256): -1 is out of range"),
        (("registry", "set_tolerance_bps", "10**9"), "'10**9' is not a number"),
        (("vault", "withdraw", "1"), "unknown target 'vault': give factory, registry, fund, timelock, reserve:LISTING"),
        (("reserve:0", "set_band", "8e18", "15e18"), "no listing 0: the factory has 0"),
        (
            ("registry", "set_tolerance_bps", "1000000000"),
            "registry.set_tolerance_bps would revert if the timelock made it now: registry: tolerance_bps out of bounds",
        ),
    ],
)
def test_a_bad_call_is_refused_and_nothing_recorded(dao, queue_file, args, fragment):
    assert_one_line_error(run("propose", "set", *args), fragment)
    assert not queue_file.exists()


def test_a_listing_without_a_fresh_attestation_is_refused(dao, new_merchant, queue_file):
    result = run("propose", "create-listing", "--merchant", new_merchant.address, "--name", "Acme", "--symbol", "ACME")
    assert_one_line_error(result, f"merchant {new_merchant.address} has no fresh attestation")
    assert not queue_file.exists()


def test_a_listing_without_the_approved_stake_is_refused(dao, attested, queue_file):
    merchant, stake = attested
    result = run("propose", "create-listing", "--merchant", merchant.address, "--name", "Acme", "--symbol", "ACME")
    assert_one_line_error(result, f"approved the factory {dao.protocol.factory.address} for 0 of the stake of {stake}")
    recorded = json.loads(queue_file.read_text())["ethereum:local"]["transactions"]
    assert [entry["function"] for entry in recorded] == ["add_agent"]  # the agent's onboarding only


def test_a_symbol_over_five_bytes_is_refused(dao, new_merchant):
    result = run("propose", "create-listing", "--merchant", new_merchant.address, "--name", "A", "--symbol", "TOOLONG")
    assert_one_line_error(result, "--symbol 'TOOLONG': 1 to 5 bytes")


def test_no_deployment_on_this_network(record):
    for args in (("queue",), ("approve", "deadbeef"), ("propose", "set", "registry", "add_agent", ZERO)):
        assert_one_line_error(run(*args), "no PST deployment on ethereum:local")


@pytest.mark.parametrize(
    "text, abi_type, value",
    [
        ("8e18", {"type": "uint256"}, 8 * WAD),
        ("0.5e18", {"type": "uint256"}, WAD // 2),
        ("0x10", {"type": "uint8"}, 16),
        ("-3", {"type": "int8"}, -3),
        ("True", {"type": "bool"}, True),
        ("0x" + "ab" * 32, {"type": "bytes32"}, b"\xab" * 32),
        ("[1, 2]", {"type": "uint256[]"}, [1, 2]),
        (
            "(1, 0x" + "11" * 20 + ")",
            {"type": "tuple", "components": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "address"}]},
            (1, "0x" + "11" * 20),
        ),
    ],
)
def test_arguments_are_converted_by_their_abi_type(text, abi_type, value):
    from ethpm_types.abi import ABIType

    assert dao_module.convert_arg(text, ABIType(**abi_type), "arg") == value


@pytest.mark.parametrize(
    "text, abi_type, fragment",
    [
        ("256", {"type": "uint8"}, "out of range"),
        ("0xabcd", {"type": "bytes32"}, "2 bytes, must be 32"),
        ("(1)", {"type": "tuple", "components": [{"name": "a", "type": "uint256"}] * 2}, "2 fields (a, a), got 1"),
        ("1,2", {"type": "uint256[]"}, "write it as [a,b,...]"),
        ("[1,2,3]", {"type": "uint256[2]"}, "2 items, got 3"),
        ("yes", {"type": "bool"}, "'yes' is not true or false"),
    ],
)
def test_arguments_that_do_not_fit_their_abi_type_are_refused(text, abi_type, fragment):
    from ethpm_types.abi import ABIType

    from ape_pst_plugin.exceptions import BadCall

    with pytest.raises(BadCall, match=re.escape(fragment)):
        dao_module.convert_arg(text, ABIType(**abi_type), "arg")


# --- the agent's and the merchant's own steps ------------------------------------------------
# The CLI signs as TEST::N: the agent here is TEST::8, the merchant TEST::9 (no other test here signs as them).


@pytest.fixture
def agent8(accounts, dao):
    agent = accounts[8]
    dao.protocol.settlement.faucet(agent, BOND, sender=agent)
    return agent


def test_bond_posts_an_allow_listed_agents_bond(dao, agent8, chain):
    through_the_timelock(propose_agent(agent8), chain)
    before = dao.protocol.registry.bond(agent8)
    out = run_json("bond", "60000.5", "--account", "TEST::8")
    assert dao.protocol.registry.bond(agent8) - before == 60_000_500_000
    assert (out["agent"], out["posted"]) == (agent8.address, "60000.500000")


def test_bond_by_an_account_the_dao_did_not_allow_list_is_one_line(dao, agent8):
    result = run("bond", "1", "--account", "TEST::8")
    assert_one_line_error(result, "is not an allow-listed risk agent")
    assert dao.protocol.registry.bond(agent8) == 0
    assert dao.protocol.settlement.allowance(agent8, dao.protocol.registry) == 0


def test_approve_stake_approves_what_create_listing_checks(dao, onboarded, accounts):
    merchant, protocol = accounts[9], dao.protocol
    attest(protocol, merchant.address, default_inputs(100_000 * USDC), agent=onboarded)
    stake = required_stake(SUPPLY * WAD, PRICE * WAD, 6, protocol.registry.listing_terms(merchant).stake_bps)
    protocol.settlement.faucet(merchant, stake, sender=merchant)
    out = run_json("approve-stake", "--supply", str(SUPPLY), "--price", str(PRICE), "--account", "TEST::9")
    assert protocol.settlement.allowance(merchant, protocol.factory) == stake
    assert out["stake"] == f"{stake / USDC:.6f}"
    assert propose_listing(merchant)["state"] == "awaiting_signatures"


def test_approve_stake_without_a_fresh_attestation_is_one_line(dao, accounts):
    result = run("approve-stake", "--account", "TEST::9")
    assert_one_line_error(result, "has no fresh attestation")
    assert dao.protocol.settlement.allowance(accounts[9], dao.protocol.factory) == 0
