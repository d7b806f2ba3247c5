"""Double-precision VFP: the instructions Unicorn's Cortex-M7 lacks, decoded
(vfp) and executed in Python with IEEE 754 results bit for bit (fpu64).
"""
