import ape
import pytest

from ape_pst_plugin import pe as pem

USDC = 10**6
WAD = 10**18
DAY = 86_400


LIMITS = (1_000, 3_600, 100, 1_000, 5_000)  # the defaults: capacity, cooldown, slippage, deviation, exposure


def _limits(reserve, **over):
    names = ("capacity", "cooldown", "slippage", "deviation", "exposure")
    current = dict(
        zip(
            names,
            (
                reserve.capacity_bps(),
                reserve.cooldown(),
                reserve.max_slippage_bps(),
                reserve.max_deviation_bps(),
                reserve.max_exposure_bps(),
            ),
        )
    )
    current.update(over)
    return tuple(current[n] for n in names)


def _plan(market, buying):
    """What the Python model says the next stabilise() trade is: min(x_spot,
    x_twap), capped by the epoch's capacity, the holdings and (buys) the exposure limit."""
    reserve = market.reserve
    price, eps = market.oracle.price_and_eps()
    low, high = pem.target_prices(eps, reserve.pe_low(), reserve.pe_high())
    r_token, r_usdc = market.reserves()
    cap = reserve.capacity_bps()
    target = low if buying else high
    wanted = pem.trade_to_target(buying, r_token, r_usdc, price, target, 6)
    if buying:
        free = reserve.free_balance()
        room = pem.exposure_room(free, reserve.net_spent(), reserve.max_exposure_bps())
        return min(wanted, free, free * cap // 10_000, room), low
    inventory = reserve.inventory()
    return min(wanted, inventory, inventory * cap // 10_000), high


def _crash(market, tokens=20_000 * WAD):
    market.sell_tokens(tokens)
    market.settle()


def _pump(market, usdc=120_000 * USDC):
    market.buy_tokens(usdc)
    market.settle()


def test_in_band_call_changes_nothing(market, keeper):
    reserve = market.reserve
    before = (
        reserve.free_balance(),
        reserve.inventory(),
        reserve.last_trade(),
        reserve.buy_window(),
        market.reserves(),
    )
    receipt = reserve.stabilise(sender=keeper)
    assert receipt.return_value == 0
    assert not receipt.events
    assert (
        reserve.free_balance(),
        reserve.inventory(),
        reserve.last_trade(),
        reserve.buy_window(),
        market.reserves(),
    ) == before


def test_buys_back_below_pe_low_within_capacity(market, keeper):
    _crash(market)
    reserve = market.reserve
    assert market.oracle.pe() < reserve.pe_low()
    spend, target = _plan(market, buying=True)
    free, inventory, stake = reserve.free_balance(), reserve.inventory(), reserve.stake()
    spot_before = market.spot()
    receipt = reserve.stabilise(sender=keeper)
    [event] = receipt.events.filter(reserve.Bought)
    assert event.spent == spend == free // 10  # capacity binds: 10% of the free balance
    assert reserve.free_balance() == free - spend
    assert reserve.inventory() == inventory + event.received
    assert reserve.stake() == stake
    assert spot_before < market.spot() <= target
    assert event.spot_after == market.spot()


def test_uncapped_buy_lands_on_p_low(market, keeper, admin):
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, capacity=2_500), sender=admin)
    _crash(market, 12_000 * WAD)
    spend, target = _plan(market, buying=True)
    assert spend < reserve.free_balance() * 2_500 // 10_000
    reserve.stabilise(sender=keeper)
    # rounding stops it at most a hair short of the target, never beyond
    assert target * (1 - 1e-9) <= market.spot() <= target


def test_sells_inventory_above_pe_high(market, keeper, admin):
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, capacity=2_500), sender=admin)
    _pump(market)
    assert market.oracle.pe() > reserve.pe_high()
    amount, target = _plan(market, buying=False)
    free, inventory, spot_before = reserve.free_balance(), reserve.inventory(), market.spot()
    receipt = reserve.stabilise(sender=keeper)
    [event] = receipt.events.filter(reserve.Sold)
    assert event.sold == amount
    assert reserve.inventory() == inventory - amount
    assert reserve.free_balance() == free + event.received
    assert target <= market.spot() < spot_before


def test_cooldown_between_trades(market, keeper):
    _crash(market)
    market.reserve.stabilise(sender=keeper)
    with ape.reverts("reserve: cooldown, too soon after the last trade"):
        market.reserve.stabilise(sender=keeper)


def test_cooldown_ends_exactly_after_cooldown_seconds(market, keeper, admin):
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, capacity=2_500), sender=admin)
    _crash(market, 12_000 * WAD)
    first = reserve.stabilise(sender=keeper)  # uncapped: lands on P_low, budget left
    market.sell_tokens(5_000 * WAD)  # the spot falls again; the stored TWAP still says buy
    market.chain.pending_timestamp = first.timestamp + 3_599
    with ape.reverts("reserve: cooldown, too soon after the last trade"):
        reserve.stabilise(sender=keeper)
    market.chain.pending_timestamp = first.timestamp + 3_600
    assert reserve.stabilise(sender=keeper).events.filter(reserve.Bought)


def test_capacity_is_per_epoch(market, keeper):
    _crash(market, 40_000 * WAD)
    reserve = market.reserve
    free = reserve.free_balance()
    reserve.stabilise(sender=keeper)
    epoch, budget, spent = reserve.buy_window()
    assert spent == budget == free // 10
    market.sleep(reserve.cooldown())
    market.oracle.update(sender=keeper)
    if market.chain.blocks.head.timestamp // DAY == epoch:
        with ape.reverts("reserve: no buy capacity left this epoch"):
            reserve.stabilise(sender=keeper)
    market.sleep(DAY)
    market.observe()
    reserve.stabilise(sender=keeper)
    assert reserve.buy_window()[0] > epoch


def test_stake_is_never_spent(market, keeper, admin):
    reserve = market.reserve
    reserve.withdraw(admin, reserve.free_balance(), sender=admin)
    _crash(market)
    stake = reserve.stake()
    with ape.reverts("reserve: no buy capacity left this epoch"):
        reserve.stabilise(sender=keeper)
    assert market.usdc.balanceOf(reserve) == stake


def test_stale_oracle_blocks_trading(market, keeper):
    market.sleep(market.oracle.max_age() + 1)
    with ape.reverts("oracle: stale price, call update()"):
        market.reserve.stabilise(sender=keeper)


def test_guardian_pauses_the_stabiliser(market, guardian, keeper):
    market.reserve.pause(sender=guardian)
    with ape.reverts("pausable: contract is paused"):
        market.reserve.stabilise(sender=keeper)
    with ape.reverts("ownable: caller is not the owner"):
        market.reserve.unpause(sender=guardian)


def test_stranger_cannot_pause(market, attacker):
    with ape.reverts("reserve: caller is not the guardian"):
        market.reserve.pause(sender=attacker)


def _move_spot_to(market, price):
    """One trade that puts the spot at `price` (wad)."""
    r_token, r_usdc = market.reserves()
    if price < market.spot():
        market.sell_tokens(pem.sell_to_price(r_token, r_usdc, price, 6))
    else:
        market.buy_tokens(pem.buy_to_price(r_token, r_usdc, price, 6))


def test_spot_already_past_target_reverts(market, keeper):
    low = pem.target_prices(market.oracle.eps(), market.reserve.pe_low(), market.reserve.pe_high())[0]
    _move_spot_to(market, low * 97 // 100)
    market.settle()  # the TWAP PE is below pe_low
    _move_spot_to(market, low * 101 // 100)  # the market recovers past P_low, within 10% of the TWAP
    free = market.reserve.free_balance()
    with ape.reverts("reserve: spot price already at target"):
        market.reserve.stabilise(sender=keeper)
    assert market.reserve.free_balance() == free


@pytest.mark.parametrize("direction", ["below", "above"])
def test_spot_too_far_from_the_twap_reverts(market, keeper, direction):
    """The TWAP says buy; the spot is more than max_deviation_bps (10%) away, either way."""
    reserve = market.reserve
    _crash(market)
    twap = market.oracle.twap_price()
    _move_spot_to(market, twap * (88 if direction == "below" else 112) // 100)
    free, inventory = reserve.free_balance(), reserve.inventory()
    with ape.reverts("reserve: spot too far from TWAP"):
        reserve.stabilise(sender=keeper)
    assert (reserve.free_balance(), reserve.inventory(), reserve.net_spent()) == (free, inventory, 0)


def test_a_wider_deviation_limit_lets_the_trade_through(market, keeper, admin):
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, deviation=2_000), sender=admin)
    _crash(market)
    _move_spot_to(market, market.oracle.twap_price() * 88 // 100)
    spend, _ = _plan(market, buying=True)
    assert reserve.stabilise(sender=keeper).return_value == spend > 0


def test_spot_dump_below_the_twap_buys_no_more_than_at_the_twap(market, keeper, admin):
    """S7: the TWAP is below P_low; the spot falls a further 5%. The reserve buys
    x_twap, what moves the TWAP-implied pool to P_low, not the larger x_spot."""
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, capacity=2_500), sender=admin)
    _crash(market, 12_000 * WAD)
    twap, eps = market.oracle.price_and_eps()
    low = pem.target_prices(eps, reserve.pe_low(), reserve.pe_high())[0]
    _move_spot_to(market, twap * 95 // 100)
    r_token, r_usdc = market.reserves()
    x_spot = pem.buy_to_price(r_token, r_usdc, low, 6)
    t_token, t_usdc = pem.twap_reserves(r_token, r_usdc, twap, 6)
    x_twap = pem.buy_to_price(t_token, t_usdc, low, 6)
    assert x_twap < x_spot < reserve.free_balance() * 2_500 // 10_000
    assert reserve.stabilise(sender=keeper).return_value == x_twap


def test_exposure_limit_caps_a_buy(market, keeper, admin):
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, capacity=2_500, exposure=1_000), sender=admin)
    _crash(market, 40_000 * WAD)
    free = reserve.free_balance()
    receipt = reserve.stabilise(sender=keeper)
    # net_spent may reach 10% of (free balance + net_spent): 10% of the free balance on the first buy
    assert receipt.return_value == free * 1_000 // 10_000
    assert reserve.net_spent() == free * 1_000 // 10_000
    assert reserve.free_balance() == free - free * 1_000 // 10_000


def test_exposure_limit_reached_refuses_buys(market, keeper, admin):
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, capacity=2_500, exposure=1_000), sender=admin)
    _crash(market, 40_000 * WAD)
    reserve.stabilise(sender=keeper)
    market.settle()  # an hour: the cooldown has passed, and the TWAP still says buy
    assert market.oracle.pe() < reserve.pe_low()
    free, inventory, net = reserve.free_balance(), reserve.inventory(), reserve.net_spent()
    with ape.reverts("reserve: exposure limit reached"):
        reserve.stabilise(sender=keeper)
    assert (reserve.free_balance(), reserve.inventory(), reserve.net_spent()) == (free, inventory, net)


def test_sells_lower_net_spent(market, keeper, admin):
    reserve = market.reserve
    reserve.set_limits(*_limits(reserve, capacity=2_500), sender=admin)
    _crash(market)
    spent = reserve.stabilise(sender=keeper).return_value
    assert reserve.net_spent() == spent
    _pump(market, 200_000 * USDC)
    receipt = reserve.stabilise(sender=keeper)
    [sold] = receipt.events.filter(reserve.Sold)
    assert reserve.net_spent() == max(0, spent - sold.received)


def test_default_limits(reserve):
    assert _limits(reserve) == LIMITS
    assert reserve.net_spent() == 0


@pytest.mark.parametrize(
    "low, high",
    [(WAD - 1, 15 * WAD), (8 * WAD, 8 * WAD), (10 * WAD, 9 * WAD), (8 * WAD, 100 * WAD + 1)],
)
def test_band_bounds(reserve, admin, low, high):
    with ape.reverts("reserve: band out of bounds"):
        reserve.set_band(low, high, sender=admin)
    assert (reserve.pe_low(), reserve.pe_high()) == (8 * WAD, 15 * WAD)


@pytest.mark.parametrize(
    "over, reason",
    [
        (dict(capacity=2_501), "reserve: capacity_bps out of bounds"),
        (dict(cooldown=599), "reserve: cooldown below 10 minutes"),
        (dict(cooldown=30 * DAY + 1), "reserve: cooldown above 30 days"),
        (dict(slippage=1_001), "reserve: max_slippage_bps out of bounds"),
        (dict(deviation=99), "reserve: max_deviation_bps out of bounds"),
        (dict(deviation=5_001), "reserve: max_deviation_bps out of bounds"),
        (dict(exposure=999), "reserve: max_exposure_bps out of bounds"),
        (dict(exposure=10_001), "reserve: max_exposure_bps out of bounds"),
    ],
)
def test_limit_bounds(reserve, admin, over, reason):
    with ape.reverts(reason):
        reserve.set_limits(*_limits(reserve, **over), sender=admin)
    assert _limits(reserve) == LIMITS


@pytest.mark.parametrize(
    "limits", [(0, 600, 0, 100, 1_000), (2_500, 30 * DAY, 1_000, 5_000, 10_000)], ids=["lowest", "highest"]
)
def test_limits_at_their_bounds_are_accepted(reserve, admin, limits):
    receipt = reserve.set_limits(*limits, sender=admin)
    [event] = receipt.events.filter(reserve.LimitsChanged)
    assert (
        event.capacity_bps,
        event.cooldown,
        event.max_slippage_bps,
        event.max_deviation_bps,
        event.max_exposure_bps,
    ) == limits
    assert _limits(reserve) == limits


@pytest.mark.parametrize(
    "setter, args",
    [
        ("set_band", (5 * WAD, 20 * WAD)),
        ("set_limits", (2_000, 900, 50, 500, 2_000)),
        ("set_revenue_target", (1,)),
        ("set_guardian", ("0x" + "11" * 20,)),
        ("waive", (0,)),
    ],
)
def test_setters_are_admin_only(reserve, attacker, guardian, setter, args):
    for caller in (attacker, guardian):
        with ape.reverts("ownable: caller is not the owner"):
            getattr(reserve, setter)(*args, sender=caller)


def test_admin_withdraws_free_balance_only(market, admin):
    reserve = market.reserve
    free, stake = reserve.free_balance(), reserve.stake()
    with ape.reverts("reserve: amount exceeds the free balance"):
        reserve.withdraw(admin, free + 1, sender=admin)
    reserve.withdraw(admin, free, sender=admin)
    assert reserve.free_balance() == 0
    assert market.usdc.balanceOf(reserve) == stake


@pytest.mark.parametrize(
    "to, amount, reason",
    [("0x" + "00" * 20, 1, "reserve: recipient is the zero address"), (None, 0, "reserve: zero amount")],
)
def test_withdraw_bad_input(market, admin, to, amount, reason):
    balance = market.usdc.balanceOf(market.reserve)
    with ape.reverts(reason):
        market.reserve.withdraw(to or admin.address, amount, sender=admin)
    assert market.usdc.balanceOf(market.reserve) == balance


def test_stranger_cannot_withdraw(market, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        market.reserve.withdraw(attacker, 1, sender=attacker)


@pytest.fixture
def manipulator(deployer, project, market, admin):
    contract = deployer.deploy(project.SpotManipulator, market.pair, market.reserve)
    market.token.transfer(contract, 95_000 * WAD, sender=market.trader)  # the trader holds 100,000
    market.usdc.faucet(contract, 5_000_000 * USDC, sender=admin)
    return contract


@pytest.mark.parametrize("dump", [True, False])
def test_same_block_spot_move_cannot_trigger_a_trade(market, manipulator, dump):
    """The TWAP PE is in band: crash or pump the spot, call stabilise() in the same
    transaction, undo the swap. The reserve must not trade."""
    reserve = market.reserve
    assert reserve.pe_low() <= market.oracle.pe() <= reserve.pe_high()
    free, inventory = reserve.free_balance(), reserve.inventory()
    token_in, amount = (market.token, 90_000 * WAD) if dump else (market.usdc, 4_000_000 * USDC)
    receipt = manipulator.attack(token_in, amount, sender=market.trader)
    [event] = receipt.events.filter(manipulator.Attack)
    assert event.stabilise_succeeded and event.traded == 0
    assert not receipt.events.filter(reserve.Bought) and not receipt.events.filter(reserve.Sold)
    assert (reserve.free_balance(), reserve.inventory()) == (free, inventory)
