"""Protocol numbers in Python, one home (the contracts' own are in
``contracts/modules/constants.vy``; tests compare the two where it matters)."""

WAD = 10**18
BPS = 10_000
DAY = 86_400
YEAR = 365 * DAY
PERIOD = 30 * DAY
HOUR = 3_600
MAX_TRAILING_PERIODS = 12
RESERVE_ALLOCATION_BPS = 1_000
INITIAL_UNLOCK_BPS = 2_500
STAKE_BPS = 500
MAX_VALIDITY = 35 * DAY
DEFAULT_TOLERANCE_BPS = 500

#: A listing's credit status as the reserve's ``status()`` returns it.
STATUS = ("active", "late", "defaulted")
ACTIVE, LATE, DEFAULTED = range(3)

# holder protection fund (``contracts/modules/constants.vy``, docs/PROTOCOL.md "Holder protection fund")
DEFAULT_COVER_BPS = 5_000
MIN_COVER_BPS = 1_000
MAX_COVER_BPS = 10_000
DEFAULT_MAX_PAYOUT_BPS = 3_000
MIN_MAX_PAYOUT_BPS = 500
MAX_MAX_PAYOUT_BPS = 5_000
DEFAULT_PER_LISTING_CAP_BPS = 1_000
MIN_PER_LISTING_CAP_BPS = 100
DEFAULT_CLAIM_WINDOW = YEAR
MIN_CLAIM_WINDOW = 30 * DAY
MAX_CLAIM_WINDOW = 3 * YEAR
DEFAULT_MIN_COVERAGE_BPS = 1_000
MAX_MIN_COVERAGE_BPS = 5_000
DEFAULT_STRESS_BPS = 5_000
MIN_STRESS_BPS = 1_000
MAX_STRESS_BPS = 10_000
#: A pot's per-token rate is settlement units per token wei, times RATE_SCALE.
RATE_SCALE = 10**36
MAX_UINT256 = 2**256 - 1
