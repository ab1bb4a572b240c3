"""The README's "Use it from your own Ape project" example is the project in
docs/example that tests/test_plugin_in_another_project.py runs: they must
not drift apart."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_shows_the_example_files_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", readme, re.S)
    assert {path for path, _ in blocks} == {"docs/example/ape-config.yaml", "docs/example/tests/test_my_shop.py"}
    for path, text in blocks:
        assert text == (ROOT / path).read_text(), f"README's copy of {path} differs from the file"
