"""What the UnderwritingRegistry hands back about a merchant's attestations:
`latest` (the newest, field by field), `record_count` (one record per accepted
nonce), `verified_cap` over the history and `listing_terms`. The registry packs
the newest attestation into three storage slots, so these check every field
at the edges of its range, and that a value beyond a packed field's range is
refused rather than cut."""

import dataclasses

import ape

from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.deployment import attest, default_inputs, sign_attestation

USDC = 10**6
MAX_128 = 2**128 - 1
# the largest month revenue whose cap (+5% tolerance, rounded down) still fits 128 bits
MAX_MONTH = ((MAX_128 + 1) * 10_000 - 1) // 10_500


def _latest_matches(registry, merchant, agent, inputs, receipt, validity):
    latest = registry.latest(merchant)
    score = uw.score(inputs, 6)
    issued_at = receipt.timestamp  # sign_attestation issues at the head block's time
    assert latest.agent == agent.address
    assert (latest.grade, latest.score) == (score.grade, score.total)
    assert (latest.avg_monthly_revenue, latest.month_revenue, latest.volatility_bps) == (
        inputs.avg_monthly_revenue,
        inputs.month_revenue,
        inputs.volatility_bps,
    )
    assert latest.recorded_at == receipt.timestamp == registry.verified_at(merchant)
    assert latest.issued_at <= issued_at and latest.expires_at == latest.issued_at + validity


def test_latest_and_the_history_hold_every_attested_field(protocol, registry, agent, accounts, chain):
    merchant = accounts.generate_test_account()
    assert registry.record_count(merchant) == 0 and registry.latest(merchant).agent == ape.utils.ZERO_ADDRESS
    first = default_inputs(100_000 * USDC)
    r1 = attest(protocol, merchant, first)
    _latest_matches(registry, merchant, agent, first, r1, uw.DEFAULT_VALIDITY)
    chain.pending_timestamp += 86_400
    # every packed field at the top of its range: R and volatility 128 bits, a month revenue whose
    # cap fills 128 bits, the longest validity
    second = dataclasses.replace(first, avg_monthly_revenue=MAX_128, month_revenue=MAX_MONTH, volatility_bps=MAX_128)
    r2 = attest(protocol, merchant, second, issued_at=chain.pending_timestamp, validity=uw.MAX_VALIDITY)
    _latest_matches(registry, merchant, agent, second, r2, uw.MAX_VALIDITY)
    assert registry.record_count(merchant) == registry.nonces(merchant) == 2
    # the history: the first record caps up to the second's recording, the second from then on
    assert registry.verified_cap(merchant, r2.timestamp - 1) == 100_000 * USDC * 10_500 // 10_000
    assert registry.verified_cap(merchant, r2.timestamp) == MAX_MONTH * 10_500 // 10_000
    assert registry.is_fresh(merchant)
    terms = registry.listing_terms(merchant)
    assert (terms.agent, terms.grade, terms.avg_monthly_revenue) == (agent.address, uw.score(second, 6).grade, MAX_128)
    assert terms.target_ratio_bps == uw.terms(terms.grade, MAX_128).target_ratio_bps


def test_values_beyond_a_packed_field_are_refused(protocol, registry, agent, accounts):
    merchant = accounts.generate_test_account()
    inputs = default_inputs(100_000 * USDC)
    for field, value, reason in (
        ("avg_monthly_revenue", MAX_128 + 1, "registry: average revenue out of range"),
        ("volatility_bps", MAX_128 + 1, "registry: volatility out of range"),
        ("month_revenue", MAX_MONTH + 1, "registry: month revenue out of range"),
    ):
        message, signature = sign_attestation(registry, agent, merchant, dataclasses.replace(inputs, **{field: value}))
        with ape.reverts(reason):
            registry.submit(message.as_tuple(), signature, sender=agent)
    assert registry.record_count(merchant) == 0 and not registry.is_fresh(merchant)
