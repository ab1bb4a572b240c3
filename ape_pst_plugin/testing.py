"""Helpers for hypothesis state machines that drive a real chain."""

from hypothesis.stateful import RuleBasedStateMachine


class ChainMachine(RuleBasedStateMachine):
    """A state machine on an Ape test chain with its own clock.

    Each example starts from a chain snapshot and restores it in
    `teardown`. Every transaction goes through `send`, which lands it at
    `self.now`, so a Python model knows the exact block timestamp; `sync`
    mines an empty block at `self.now` before views are read."""

    def __init__(self, chain):
        super().__init__()
        self.chain = chain
        self.snapshot = chain.snapshot()
        self.now = chain.blocks.head.timestamp + 1
        self.head = None  # timestamp of the newest block; views read that block

    def teardown(self):
        self.chain.restore(self.snapshot)

    def send(self, fn, *args, sender):
        self.chain.pending_timestamp = self.now
        receipt = fn(*args, sender=sender)
        assert receipt.timestamp == self.now
        self.head = self.now
        return receipt

    def sync(self):
        """Mines a block at the machine's clock if the newest block is older."""
        if self.head != self.now:
            self.chain.pending_timestamp = self.now
            self.chain.mine()
            self.head = self.now
