"""Underwriting in Python: the scoring twin of ``contracts/modules/scoring.vy``
(equal for every input, revert reasons included), the attested inputs, and
the EIP-712 ``Attestation`` an agent signs with an Ape account
(``account.sign_message(attestation)``).

The model (docs/PROTOCOL.md, "Underwriting"): hard rejections, then points
per criterion (at most 100), a grade and the grade's terms.

The loader of a merchant's monthly data lives in
:mod:`ape_pst_plugin.merchant_data`; it computes :class:`Inputs` from an
export."""

from dataclasses import asdict, dataclass

from eip712.messages import EIP712Message
from eth_pydantic_types import abi

from ape_pst_plugin.constants import BPS, DAY, WAD
from ape_pst_plugin.exceptions import PstError

MODEL_VERSION = 1
MIN_HISTORY_MONTHS = 6
MIN_REVENUE_UNITS = 10_000
MAX_REFUND_BPS = 1_500
#: An attestation is valid for at most this long (``MAX_VALIDITY``).
MAX_VALIDITY = 35 * DAY
#: What ``ape pst underwrite`` signs by default.
DEFAULT_VALIDITY = MAX_VALIDITY

#: Grade numbers as the registry returns them; 0 is not listable.
GRADES = ("none", "A", "B", "C", "D")
GRADE_NONE, GRADE_A, GRADE_B, GRADE_C, GRADE_D = range(5)

#: grade -> (stake bps of listing market cap, target ratio bps of R, highest listing PE (wad), premium bps of gross)
TERMS_TABLE = {
    GRADE_A: (500, 8_000, 15 * WAD, 25),
    GRADE_B: (750, 7_500, 13 * WAD, 50),
    GRADE_C: (1_000, 7_000, 11 * WAD, 75),
    GRADE_D: (1_500, 6_000, 9 * WAD, 100),
}


class ScoringError(PstError, ValueError):
    """The model rejects the inputs outright (the contract's revert reason)."""


@dataclass(frozen=True)
class Inputs:
    """What an agent attests about a merchant (settlement units for money,
    basis points for ratios)."""

    history_months: int
    avg_monthly_revenue: int
    """R: average of the last 3 full months, net of refunds."""
    month_revenue: int
    """The last full month, net of refunds: caps counted revenue."""
    volatility_bps: int
    """Coefficient of variation of the last 6 months' net revenue."""
    growth_bps: int
    """Last 3 months against the prior 3, signed."""
    refund_bps: int
    top_channel_bps: int


@dataclass(frozen=True)
class Score:
    history: int
    scale: int
    stability: int
    growth: int
    refunds: int
    concentration: int
    total: int
    grade: int

    @property
    def grade_name(self) -> str:
        return GRADES[self.grade]

    def points(self) -> dict[str, int]:
        """Points per criterion."""
        d = asdict(self)
        d.pop("total"), d.pop("grade")
        return d


@dataclass(frozen=True)
class Terms:
    grade: int
    stake_bps: int
    target_ratio_bps: int
    max_listing_pe: int
    premium_bps: int

    def revenue_target(self, avg_monthly_revenue: int) -> int:
        """The listing's revenue target per period (settlement units)."""
        return avg_monthly_revenue * self.target_ratio_bps // BPS


def score(inputs: Inputs, decimals: int) -> Score:
    """Points, total and grade of ``inputs``; :class:`ScoringError` (with the
    contract's revert reason) on a hard rejection."""
    unit = 10**decimals
    h, r = inputs.history_months, inputs.avg_monthly_revenue
    if h < MIN_HISTORY_MONTHS:
        raise ScoringError("scoring: history under 6 months")
    if r < MIN_REVENUE_UNITS * unit:
        raise ScoringError("scoring: revenue under 10,000 units a month")
    if inputs.refund_bps > MAX_REFUND_BPS:
        raise ScoringError("scoring: refunds over 15% of gross")
    if inputs.top_channel_bps > BPS:
        raise ScoringError("scoring: channel share over 100%")
    history = 20 * min(h, 24) // 24
    scale = _step(r, [(250_000 * unit, 20), (100_000 * unit, 16), (50_000 * unit, 12), (25_000 * unit, 8)], 4)
    stability = _step(-inputs.volatility_bps, [(-1_000, 20), (-2_000, 15), (-3_500, 10), (-5_000, 5)], 0)
    growth = _step(inputs.growth_bps, [(2_000, 15), (0, 12), (-1_000, 6)], 0)
    refunds = _step(-inputs.refund_bps, [(-200, 15), (-500, 10), (-1_000, 5)], 0)
    concentration = _step(-inputs.top_channel_bps, [(-1_000, 10), (-2_500, 6), (-5_000, 3)], 0)
    total = history + scale + stability + growth + refunds + concentration
    if total >= 80 and h >= 12:
        grade = GRADE_A
    elif total >= 65:
        grade = GRADE_B
    elif total >= 50:
        grade = GRADE_C
    elif total >= 40:
        grade = GRADE_D
    else:
        grade = GRADE_NONE
    return Score(history, scale, stability, growth, refunds, concentration, total, grade)


def _step(value: int, steps: list[tuple[int, int]], otherwise: int) -> int:
    # the first threshold `value` reaches (thresholds in decreasing order)
    for threshold, points in steps:
        if value >= threshold:
            return points
    return otherwise


def terms(grade: int, volatility_bps: int) -> Terms:
    """A grade's terms; the target ratio is ``min(ratio, max(5000, 10_000 - 2 * CV))``."""
    if grade not in TERMS_TABLE:
        return Terms(grade, 0, 0, 0, 0)
    stake_bps, ratio, max_pe, premium = TERMS_TABLE[grade]
    return Terms(grade, stake_bps, min(ratio, max(5_000, BPS - 2 * volatility_bps)), max_pe, premium)


class Attestation(EIP712Message):
    """The EIP-712 message a risk agent signs (domain ``PST Underwriting``,
    version ``1``, the chain id and the registry). Build it with
    :func:`attestation`; sign it with ``account.sign_message(msg)``."""

    merchant: abi.address
    merchant_id: abi.bytes32
    history_months: abi.uint256
    avg_monthly_revenue: abi.uint256
    month_revenue: abi.uint256
    volatility_bps: abi.uint256
    growth_bps: abi.int256
    refund_bps: abi.uint256
    top_channel_bps: abi.uint256
    issued_at: abi.uint256
    expires_at: abi.uint256
    nonce: abi.uint256
    model_version: abi.uint256
    evidence_hash: abi.bytes32

    def as_tuple(self) -> tuple:
        """The ``Attestation`` struct argument of ``UnderwritingRegistry.submit``."""
        return tuple(self)


def attestation(
    inputs: Inputs,
    *,
    merchant: str,
    chain_id: int,
    registry: str,
    issued_at: int,
    nonce: int,
    validity: int = DEFAULT_VALIDITY,
    merchant_id: bytes = b"\0" * 32,
    evidence_hash: bytes = b"\0" * 32,
    model_version: int = MODEL_VERSION,
) -> Attestation:
    """The message attesting ``inputs`` for ``merchant`` to ``registry`` on ``chain_id``."""
    return Attestation(
        merchant=merchant,
        merchant_id=merchant_id,
        history_months=inputs.history_months,
        avg_monthly_revenue=inputs.avg_monthly_revenue,
        month_revenue=inputs.month_revenue,
        volatility_bps=inputs.volatility_bps,
        growth_bps=inputs.growth_bps,
        refund_bps=inputs.refund_bps,
        top_channel_bps=inputs.top_channel_bps,
        issued_at=issued_at,
        expires_at=issued_at + validity,
        nonce=nonce,
        model_version=model_version,
        evidence_hash=evidence_hash,
        eip712_name="PST Underwriting",
        eip712_version="1",
        eip712_chainId=chain_id,
        eip712_verifyingContract=registry,
    )


def signature_bytes(signature) -> bytes:
    """An Ape ``MessageSignature`` as the 65 bytes ``submit`` takes (r, s, v).
    Ape keeps ``r`` and ``s`` without their leading zero bytes (about one
    signature in 128 has one): ``encode_rsv`` pads each to 32."""
    return signature.encode_rsv()
