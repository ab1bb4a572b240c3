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
