import ape
import pytest
from pydantic import ValidationError

from ape_pst_plugin import CONFIG_KEY, PstConfig


def test_config_section_is_pst_and_resolves_to_the_plugin_class():
    assert CONFIG_KEY == "pst"
    assert isinstance(ape.config.get_config("pst"), PstConfig)


def test_config_has_only_fields_the_plugin_reads():
    # the protocol's parameters live in the contracts (set through the timelock), not here
    assert set(PstConfig.model_fields) == {"node_modules", "deployments", "fork_port", "devnet_port"}


@pytest.mark.parametrize("field", ["share_bps", "settlement_decimals", "stake_bps", "reserve_allocation_bps"])
def test_a_field_nothing_reads_is_refused_not_ignored(field):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        PstConfig(**{field: 1})


def test_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("APE_PST_FORK_PORT", "8556")
    assert PstConfig().fork_port == 8556
