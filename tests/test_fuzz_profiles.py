"""The machines' example counts come from hypothesis profiles
(``--hypothesis-profile``): pst-ci (the default) draws each machine's own
count of examples, the same ones every run; pst-dev draws new ones; pst-long
ten times as many, new ones. A test may assert a machine reached a rare
branch only when the examples are reproducible."""

import pytest
from hypothesis import Phase, settings

from ape_pst_plugin.testing import PROFILES, fuzz_reproducible, fuzz_settings

pytest_plugins = ["pytester"]


@pytest.fixture
def load():
    """Loads a profile for one test, and the one that was loaded afterwards."""
    before = settings.get_current_profile_name()
    yield settings.load_profile
    settings.load_profile(before)


@pytest.mark.parametrize(
    "name, examples, same_every_run", [("pst-ci", 8, True), ("pst-dev", 8, False), ("pst-long", 80, False)]
)
def test_each_profile_sets_the_machines_examples(load, name, examples, same_every_run):
    assert name in PROFILES
    load(name)
    machine = fuzz_settings(8, 30)
    assert (machine.max_examples, machine.stateful_step_count) == (examples, 30)
    assert machine.derandomize is same_every_run
    assert (machine.database is None) is same_every_run  # new draws keep failing examples to replay
    assert machine.deadline is None  # every example restores a chain snapshot: slow by nature
    assert fuzz_reproducible() is same_every_run


def test_no_profile_loaded_is_the_reproducible_one(load):
    load("default")  # hypothesis's own: 100 examples, new ones every run
    machine = fuzz_settings(12, 25)
    assert (machine.max_examples, machine.derandomize, machine.database) == (12, True, None)
    assert fuzz_reproducible()


def test_a_projects_own_profile_scales_the_machines_too(load):
    settings.register_profile(
        "test-fuzz-profiles-nightly",
        settings.get_profile("pst-ci"),
        max_examples=500,
        phases=[Phase.explicit, Phase.generate],
    )
    load("test-fuzz-profiles-nightly")
    machine = fuzz_settings(4, 30)
    assert (machine.max_examples, machine.derandomize) == (20, True)
    assert machine.phases == (Phase.explicit, Phase.generate)  # the rest of the profile holds for the machine
    assert fuzz_reproducible()
    # fewer examples than the machines' own counts: rare branches may not be reached
    assert not fuzz_reproducible(settings(settings.get_profile("pst-ci"), max_examples=50))


def test_a_machine_may_still_ask_for_new_examples(load):
    load("pst-ci")
    machine = fuzz_settings(8, 30, derandomize=False)
    assert machine.derandomize is False and machine.database is not None


def test_the_command_line_option_reaches_the_machines(pytester):
    """`--hypothesis-profile` (hypothesis's pytest option, which `ape test`
    passes on) in a pytest run of its own: the profiles are registered when
    the plugin loads, before the option is read."""
    pytester.makepyfile(
        test_profile="""
        from ape_pst_plugin.testing import fuzz_reproducible, fuzz_settings

        def test_long():
            assert fuzz_settings(8, 30).max_examples == 80
            assert not fuzz_reproducible()
        """
    )
    # ape's own plugin would start a chain for the run; this one needs none
    result = pytester.runpytest_subprocess(
        "-p", "no:ape_test", "-p", "no:cacheprovider", "--hypothesis-profile", "pst-long"
    )
    result.assert_outcomes(passed=1)
