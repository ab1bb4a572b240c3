"""The plugin as another Ape project sees it: a throw-away project outside
this repository (pytester's temporary directory) with only an
ape-config.yaml and tests, run in a subprocess by pytest with the plugin's
entry points. Its files are the README's example (docs/example), so the
example cannot rot. The `ape pst` commands run there too, and the README's
install steps must name every npm package the plugin needs."""

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "example"
CONTRACTS = ROOT / "ape_pst_plugin" / "contracts"
EXAMPLE_TEST = "tests/test_my_shop.py"


@pytest.fixture
def inner(pytester):
    """A copy of the README example in a fresh directory, and a runner."""
    assert not str(pytester.path).startswith(str(ROOT))  # really outside this repository
    for name in ("ape-config.yaml", EXAMPLE_TEST):
        (pytester.path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / name, pytester.path / name)
    # the inner run imports this checkout's plugin (entry points resolve through PYTHONPATH)
    pytester._monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    def run(*args):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args, timeout=600)
        print(result.stdout.str()[-3000:])
        return result

    return run


def test_the_readme_example_passes_in_another_project(inner, pytester):
    # the example's `node_modules: node_modules` resolves inside the project
    (pytester.path / "node_modules").symlink_to(ROOT / "node_modules")
    result = inner()
    result.assert_outcomes(passed=3)


def test_the_same_machine_fails_on_an_overshooting_stabiliser(inner, pytester):
    # node_modules from an absolute path in the config this time
    config = pytester.path / "ape-config.yaml"
    text = config.read_text()
    assert "node_modules: node_modules" in text
    # its own Vyper modules are imported by its contracts, not compiled on their own
    config.write_text(
        text.replace("node_modules: node_modules", f"node_modules: {ROOT / 'node_modules'}")
        + '\ncompile:\n  exclude:\n    - "modules/*"\n'
    )
    # a real broken stabiliser on chain: the Reserve with a swap-to-target maths module that
    # trades 10% past the target price
    (pytester.path / "contracts").mkdir()
    shutil.copytree(CONTRACTS / "interfaces", pytester.path / "contracts" / "interfaces")
    shutil.copytree(CONTRACTS / "modules", pytester.path / "contracts" / "modules")
    maths = pytester.path / "contracts" / "modules" / "swap_math.vy"
    broken, n = re.subn(r"\n    return y - r_in\n", "\n    return (y - r_in) * 11 // 10\n", maths.read_text())
    assert n == 1
    maths.write_text(broken)
    reserve = (CONTRACTS / "Reserve.vy").read_text()
    assert "@custom:contract-name Reserve" in reserve
    (pytester.path / "contracts" / "OvershootReserve.vy").write_text(
        reserve.replace("@custom:contract-name Reserve", "@custom:contract-name OvershootReserve")
    )
    (pytester.path / "tests" / "conftest.py").write_text(
        "import pytest\n"
        "from hypothesis import Phase, settings\n\n"
        "# report the first failure unshrunk: shrinking replays chain transactions for minutes;\n"
        "# five times the machines' examples (still the same ones every run)\n"
        "settings.register_profile('no-shrink', settings.get_profile('pst-ci'), max_examples=500,\n"
        "                          phases=[Phase.explicit, Phase.reuse, Phase.generate])\n"
        "settings.load_profile('no-shrink')\n\n\n"
        "@pytest.fixture(scope='session')\n"
        "def pst_blueprints(project):\n"
        "    return {'Reserve': project.OvershootReserve}\n"
    )
    # more examples than the README's budget (the profile above), so a run whose few trades all
    # hit the capacity cap (where the overshoot does not show) cannot pass by luck; the first
    # real trade fails
    result = inner("-k", "stabiliser")
    result.assert_outcomes(failed=1, deselected=2)
    # hypothesis (6.170 here) reports the falsifying steps as "Failing test case"
    result.stdout.fnmatch_lines(["*Failing test case: <state machine>*", "*state = WideBand()*"])
    # and what it caught is the overshoot: the reserve traded 10% more than the exact amount to the target
    pairs = re.findall(r"^E .*?(\d+) == (\d+)", result.stdout.str(), re.MULTILINE)
    assert any(int(chain) == int(model) * 11 // 10 > int(model) for chain, model in pairs), pairs


# --- `ape pst` in another project ------------------------------------------------------------


@pytest.fixture
def shop(tmp_path):
    """The README example's ape-config.yaml in a folder outside this
    repository (its pst.node_modules pointing at this repository's), and a
    runner of `ape` commands there with this checkout's plugin."""
    folder = tmp_path / "shop"
    folder.mkdir()
    assert not str(folder).startswith(str(ROOT))
    config = (EXAMPLE / "ape-config.yaml").read_text()
    (folder / "ape-config.yaml").write_text(
        config.replace("node_modules: node_modules", f"node_modules: {ROOT / 'node_modules'}")
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def ape(*args, **extra_env):
        return subprocess.run(
            ["ape", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=900,
            cwd=folder,
            env={**env, **extra_env},
        )

    return ape


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fork_start_and_stop_work_in_another_project(shop, tmp_path):
    from ape_pst_plugin import fork

    port = _free_port()
    # a fresh Ape data folder: the plugin's contracts are compiled as a new user's would be
    started = shop("pst", "fork", "start", "--port", str(port), "--json", APE_DATA_FOLDER=str(tmp_path / "ape-data"))
    try:
        assert started.returncode == 0, started.stderr
        assert started.stderr == ""  # no traceback, no dependency's warning
        uri = json.loads(started.stdout)["uri"]
        assert fork._rpc(uri, "eth_getCode", [fork.USDC, "latest"]) != "0x"  # seeded from the plugin's own sources
    finally:
        stopped = shop("pst", "fork", "stop", "--json")
    assert json.loads(stopped.stdout)["stopped"] is True, stopped.stderr
    assert not fork.port_open(port)


def test_simulate_works_in_another_project(shop):
    result = shop("pst", "simulate", "steady", "--days", "1", "--step-hours", "24", "--out", "report", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # stdout is the JSON alone: no progress bar off a terminal
    assert (out["scenario"], out["days"], out["buys"], out["sells"]) == ("steady", 1, 0, 0)
    assert Path(out["files"]["report"]).is_file()


def test_readme_install_steps_name_every_npm_package_the_plugin_needs():
    from ape_pst_plugin.npm import ARTIFACTS

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use it from your own Ape project", 1)[1].split("\n## ", 1)[0]
    words = [word for line in re.findall(r"npm install ([^`\n]+)", section) for word in line.split()]
    named = {re.sub(r"(?<!^)@[^/@]*$", "", word) for word in words}  # without the @version
    loaded = (
        "UniswapV2Factory",
        "UniswapV2Router02",
        "UniswapV2Pair",
        "WETH9",
        "ERC20PresetMinterPauser",
        "Safe",
        "SafeProxyFactory",
    )
    needed = {ARTIFACTS[name][0] for name in loaded} | {"@foundry-rs/anvil"}  # anvil: ape-foundry and `fork start`
    assert needed <= named, needed - named


def test_deploy_in_another_project_prints_no_dependency_warning(shop):
    # ape-vyper's config used to make pydantic-settings warn on stderr whenever the contracts load
    result = shop("pst", "deploy", "--min-delay", "0", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["threshold"] == 2


def test_simulate_off_a_terminal_prints_no_progress_bar(shop):
    result = shop("pst", "simulate", "steady", "--days", "1", "--step-hours", "24", "--out", "report")
    assert result.returncode == 0, result.stderr
    # ape's own log lines aside ("INFO: Starting 'anvil' process."), the summary and the report's path alone
    summary, report = [line for line in result.stdout.strip().splitlines() if not line.startswith("INFO:")]
    assert summary.startswith("steady: 1 days on ethereum:local:foundry") and report.startswith("report: ")
