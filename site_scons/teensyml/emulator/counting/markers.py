"""Counters between two markers with no special firmware build: from a
function's entry to its return, summed over every call.

A block hook on the function's first address snapshots the counters and
notes the return address and stack pointer; a block hook added on the return
address (with its translation dropped, so the new hook is compiled in) closes
the window when the caller's code resumes with the same stack pointer.
Recursive calls count once, in the outermost call. The per-block snapshot
costs a pass over every block seen so far, so a marker on a function called
millions of times slows the run; Invoke is called once per inference.
"""
from collections import Counter

from unicorn import arm_const as uc_arm

from ..machine.fasthooks import block_hook


class FunctionMarker:
    def __init__(self, uc, counters, start, name):
        self.uc = uc
        self.counters = counters
        self.start = start
        self.name = name
        self.calls = 0
        self.executions = Counter()     # block start -> executions inside
        self.data = [0] * len(counters.data)
        self.timing = None              # calibrated model statistics, summed
        self._inside = False
        self._exit_hook = None
        block_hook(uc, self._on_entry, start, start)

    def counts(self):
        timing = self.timing
        if timing is None and self.counters.timing is not None:
            timing = (0,) * len(self.counters.timing.stats)      # never called yet
        return self.counters.counts(self.executions, self.data, self.calls, timing)

    def profile(self, function_of):
        return self.counters.profile(self.executions, function_of)

    # The counting hook was added first, so it has already counted the block at
    # hand when these run, unless it stopped the run there (then the block
    # runs, and both hooks run, again later).
    def _on_entry(self, address, _size):
        if self._inside or self.counters.stopped_at() == address:
            return
        self._inside = True
        self._entry = address
        self._before = self.counters.snapshot()
        self._stack = self.uc.reg_read(uc_arm.UC_ARM_REG_SP)
        back = self.uc.reg_read(uc_arm.UC_ARM_REG_LR) & ~1
        self._exit_hook = block_hook(self.uc, self._on_return, back, back)
        self.uc.ctl_remove_cache(back, back + 2)

    def _on_return(self, address, _size):
        if self.counters.stopped_at() == address or \
                self.uc.reg_read(uc_arm.UC_ARM_REG_SP) != self._stack:
            return
        executions, data, timing = self.counters.since(self._before)
        self.executions.update(executions)
        self.executions[self._entry] += 1          # the entry block is inside ...
        self.executions[address] -= 1              # ... the return block is not
        for index, difference in enumerate(data):
            self.data[index] += difference
        if timing is not None:
            self.timing = timing if self.timing is None else \
                tuple(map(sum, zip(self.timing, timing)))
        self.calls += 1
        self._inside = False
        self.uc.hook_del(self._exit_hook)
        self._exit_hook = None
