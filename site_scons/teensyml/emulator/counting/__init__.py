"""What ran and how long it took: instruction fetches and data accesses by
memory region, the simple timing model's wait states (counters), per-function
counts between entry and return (markers), and the statistics printed at exit
(report). The calibrated timing model is the next room, timing/.
"""
