# pragma version ~=0.4.3
"""
@title PST protocol constants
@custom:contract-name constants
@license GNU Affero General Public License v3.0 only
@notice Every protocol number that is not a governance parameter, and the
        hard bounds of those that are (docs/PROTOCOL.md). One home: the
        contracts import this module instead of re-declaring them.
"""

# fixed point and time
WAD: constant(uint256) = 10**18
BPS: constant(uint256) = 10_000
DAY: constant(uint256) = 86_400
YEAR: constant(uint256) = 365 * DAY
EPOCH: constant(uint256) = DAY
PERIOD: constant(uint256) = 30 * DAY

# listing
MAX_SETTLEMENT_DECIMALS: constant(uint8) = 18
# Staking packs a stake into 96 bits; 2**96 - 1 wei is 79 billion tokens.
MAX_SUPPLY: constant(uint256) = (1 << 96) - 1
RESERVE_ALLOCATION_BPS: constant(uint256) = 1_000
INITIAL_UNLOCK_BPS: constant(uint256) = 2_500
VESTING_DURATION: constant(uint256) = YEAR
STAKE_BPS: constant(uint256) = 500
STAKING_VESTING: constant(uint256) = 7 * DAY

# revenue
DEFAULT_SHARE_BPS: constant(uint256) = 1_000
MIN_SHARE_BPS: constant(uint256) = 100
MAX_SHARE_BPS: constant(uint256) = 3_000
DEFAULT_TOLERANCE_BPS: constant(uint256) = 500
MAX_TOLERANCE_BPS: constant(uint256) = 2_000
MAX_VALIDITY: constant(uint256) = 35 * DAY
MAX_TRAILING_PERIODS: constant(uint256) = 12
# the protection premium a grade may set, bps of gross
MAX_PREMIUM_BPS: constant(uint256) = 500

# oracle
DEFAULT_TWAP_WINDOW: constant(uint256) = 30 * 60
DEFAULT_MAX_AGE: constant(uint256) = 2 * 3_600
MIN_TWAP_WINDOW: constant(uint256) = 600
MAX_MAX_AGE: constant(uint256) = 7 * DAY

# stabiliser
DEFAULT_PE_LOW: constant(uint256) = 8 * WAD
DEFAULT_PE_HIGH: constant(uint256) = 15 * WAD
MIN_PE: constant(uint256) = WAD
MAX_PE: constant(uint256) = 100 * WAD
DEFAULT_CAPACITY_BPS: constant(uint256) = 1_000
MAX_CAPACITY_BPS: constant(uint256) = 2_500
DEFAULT_COOLDOWN: constant(uint256) = 3_600
MIN_COOLDOWN: constant(uint256) = 600
MAX_COOLDOWN: constant(uint256) = 30 * DAY
DEFAULT_SLIPPAGE_BPS: constant(uint256) = 100
MAX_SLIPPAGE_BPS: constant(uint256) = 1_000
DEFAULT_DEVIATION_BPS: constant(uint256) = 1_000
MIN_DEVIATION_BPS: constant(uint256) = 100
MAX_DEVIATION_BPS: constant(uint256) = 5_000
DEFAULT_EXPOSURE_BPS: constant(uint256) = 5_000
MIN_EXPOSURE_BPS: constant(uint256) = 1_000
MAX_EXPOSURE_BPS: constant(uint256) = 10_000

# credit
SLASH_BPS: constant(uint256) = 2_000
MAX_MISSES: constant(uint256) = 3
ACTIVE: constant(uint256) = 0
LATE: constant(uint256) = 1
DEFAULTED: constant(uint256) = 2

# underwriting (docs/PROTOCOL.md "Underwriting")
MODEL_VERSION: constant(uint256) = 1
BOND_COOLDOWN: constant(uint256) = 7 * DAY
DEFAULT_MIN_AGENT_BOND_BPS: constant(uint256) = 200
MIN_MIN_AGENT_BOND_BPS: constant(uint256) = 50
MAX_MIN_AGENT_BOND_BPS: constant(uint256) = 2_000
DEFAULT_AGENT_SLASH_BPS: constant(uint256) = 2_000
MAX_AGENT_SLASH_BPS: constant(uint256) = 5_000
MIN_HISTORY_MONTHS: constant(uint256) = 6
MIN_REVENUE_UNITS: constant(uint256) = 10_000
MAX_REFUND_BPS: constant(uint256) = 1_500
# grades: 0 = not listable
GRADE_NONE: constant(uint256) = 0
GRADE_A: constant(uint256) = 1
GRADE_B: constant(uint256) = 2
GRADE_C: constant(uint256) = 3
GRADE_D: constant(uint256) = 4

# holder protection fund (docs/PROTOCOL.md "Holder protection fund")
DEFAULT_COVER_BPS: constant(uint256) = 5_000
MIN_COVER_BPS: constant(uint256) = 1_000
MAX_COVER_BPS: constant(uint256) = 10_000
DEFAULT_MAX_PAYOUT_BPS: constant(uint256) = 3_000
MIN_MAX_PAYOUT_BPS: constant(uint256) = 500
MAX_MAX_PAYOUT_BPS: constant(uint256) = 5_000
DEFAULT_PER_LISTING_CAP_BPS: constant(uint256) = 1_000
MIN_PER_LISTING_CAP_BPS: constant(uint256) = 100
DEFAULT_CLAIM_WINDOW: constant(uint256) = YEAR
MIN_CLAIM_WINDOW: constant(uint256) = 30 * DAY
MAX_CLAIM_WINDOW: constant(uint256) = 3 * YEAR
DEFAULT_MIN_COVERAGE_BPS: constant(uint256) = 1_000
MAX_MIN_COVERAGE_BPS: constant(uint256) = 5_000
DEFAULT_STRESS_BPS: constant(uint256) = 5_000
MIN_STRESS_BPS: constant(uint256) = 1_000
MAX_STRESS_BPS: constant(uint256) = 10_000
# a pot's per-token rate: settlement units per token wei, times RATE_SCALE
RATE_SCALE: constant(uint256) = 10**36
