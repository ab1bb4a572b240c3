"""The plugin's exceptions: every failure a user can cause or meet is a
:class:`PstError` (an Ape :class:`~ape.exceptions.ApeException`) whose
message is one line that says what to do. ``ape pst`` prints it as
``ERROR: <message>`` on stderr and exits with code 1.

The older names stay importable from where they were first defined
(``ape_pst_plugin.registry.NoDeployment``, ``ape_pst_plugin.fork.ForkError``)."""

from pathlib import Path

from ape.exceptions import ApeException


class PstError(ApeException):
    """Base class of every error the PST plugin raises on purpose."""


class NoDeployment(PstError, LookupError):
    """No PST protocol on the connected network."""


class UnknownListing(PstError, LookupError):
    """No such listing on this network's factory."""


class BadInput(PstError, ValueError):
    """A command-line value that cannot be used (not an address, too long, ...)."""


class BadAmount(BadInput):
    """An amount that is zero, negative, not a number or too precise."""


class UnknownAccount(BadInput):
    """``--account`` names no Ape account (alias or ``TEST::N``)."""


class BadCall(BadInput):
    """A governance call that cannot be proposed: an unknown target or
    function, arguments that do not fit its ABI, or a call that would revert
    if the timelock made it now."""


class NotAnOwner(BadInput):
    """The signer of a Safe transaction is not an owner of the DAO Safe."""


class UnknownProposal(PstError, LookupError):
    """No Safe transaction with this id in ``ape pst``'s queue for this deployment."""


class AlreadySigned(PstError):
    """This owner has already signed this Safe transaction."""


class NotExecutable(PstError):
    """A proposal that cannot be executed (or approved) in its state: not yet
    scheduled, before its ETA, expired, stale, or done."""


class BadMerchantData(PstError, ValueError):
    """A merchant's monthly data export that cannot be underwritten: the
    message names the file and the row (or the rows of the window)."""


class TwinMismatch(PstError, AssertionError):
    """The registry scored an attestation otherwise than the Python model
    (``ape_pst_plugin.underwriting``) did: a bug to report."""


class NotWritable(PstError, OSError):
    """A file or folder the command must write cannot be written (checked
    before the command changes anything)."""


class CorruptFile(PstError, ValueError):
    """A file the plugin wrote earlier is not valid any more."""

    def __init__(self, path: Path | str, reason: str, advice: str = "delete it"):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path} is corrupt ({reason}): {advice}")


class ForkError(PstError, RuntimeError):
    """The mainnet stand-in cannot be started, reached or stopped."""


class StandInNotRunning(ForkError):
    """A network forks the mainnet stand-in, and it is not running."""


__all__ = [
    "AlreadySigned",
    "BadAmount",
    "BadCall",
    "BadInput",
    "BadMerchantData",
    "CorruptFile",
    "ForkError",
    "NoDeployment",
    "NotAnOwner",
    "NotExecutable",
    "NotWritable",
    "PstError",
    "StandInNotRunning",
    "TwinMismatch",
    "UnknownAccount",
    "UnknownListing",
    "UnknownProposal",
]
