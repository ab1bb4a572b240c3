"""Compile a Vyper 0.4 contract from a source string (a variant of one of the
plugin's contracts, or a test-only token) into an Ape ``ContractContainer``.

The source may import the plugin's modules (``from modules import ...``,
``from interfaces import ...``) and snekmate, exactly like the shipped
contracts; nothing is written to the project's contracts folder."""

from functools import cache
from pathlib import Path

import snekmate
from ape.contracts import ContractContainer
from ethpm_types import ContractType

from ape_pst_plugin.deployment import CONTRACTS_DIR


def patched(name: str, replacements: list[tuple[str, str]]) -> str:
    """The source of ``contracts/<name>.vy`` with each ``(old, new)`` replaced
    once; ``old`` must occur exactly once (a stale patch fails loudly)."""
    source = (CONTRACTS_DIR / f"{name}.vy").read_text()
    for old, new in replacements:
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in {name}.vy"
        source = source.replace(old, new)
    return source


@cache
def compile_source(source: str, name: str) -> ContractContainer:
    from vyper.compiler import compile_code
    from vyper.compiler.input_bundle import FilesystemInputBundle

    search_paths = [CONTRACTS_DIR, Path(next(iter(snekmate.__path__))).parent]
    out = compile_code(
        source,
        contract_path=CONTRACTS_DIR / f"{name}.vy",
        input_bundle=FilesystemInputBundle(search_paths),
        output_formats=["abi", "bytecode", "bytecode_runtime"],
    )
    contract_type = ContractType(
        contractName=name,
        abi=out["abi"],
        deploymentBytecode={"bytecode": out["bytecode"]},
        runtimeBytecode={"bytecode": out["bytecode_runtime"]},
    )
    return ContractContainer(contract_type)
