import ape

from ape_pst_plugin import CONFIG_KEY, PstConfig


def test_config_section_is_pst_and_resolves_to_the_plugin_class():
    assert CONFIG_KEY == "pst"
    assert isinstance(ape.config.get_config("pst"), PstConfig)


def test_config_defaults_follow_the_specification():
    cfg = ape.config.get_config("pst")
    assert cfg.share_bps == 1000
    assert cfg.stake_bps == 500
    assert cfg.reserve_allocation_bps == 1000


def test_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("APE_PST_SHARE_BPS", "1500")
    assert PstConfig().share_bps == 1500
