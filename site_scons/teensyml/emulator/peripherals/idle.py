"""When a polling firmware waits for the host: the LPUART and the USB host
share the rule.

    idle = IdlePolls(link)
    idle.empty()       # the firmware found nothing to read
    idle.busy()        # it read or wrote something

A tight loop of empty polls (IDLE_POLLS in a row, each within IDLE_GAP host
seconds of the previous) means the firmware waits: then link.idle() blocks
for host input, instead of the emulator spinning through the loop.
"""
import time

IDLE_POLLS = 64          # empty polls in a row ...
IDLE_GAP = 0.002         # ... each this close (host seconds) to the previous


class IdlePolls:
    def __init__(self, link):
        self.link = link
        self.streak = 0
        self._last_empty = 0.0

    def empty(self):
        now = time.monotonic()
        self.streak = self.streak + 1 if now - self._last_empty < IDLE_GAP else 1
        self._last_empty = now
        if self.streak >= IDLE_POLLS:
            self.link.idle()
            self._last_empty = time.monotonic()

    def busy(self):
        self.streak = 0
