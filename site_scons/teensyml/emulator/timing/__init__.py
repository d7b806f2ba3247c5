"""Timing models of the emulated board: what DWT CYCCNT reads.

- "simple": one cycle per instruction plus wait states per access by region
  (memory_map.WaitStates); a yardstick for placement, not a prediction.
- "calibrated": the Cortex-M7 of the i.MX RT1062 as far as public sources
  describe it: dual-issue core and branch prediction (core.py), 32 KB
  I- and D-caches with the firmware's enables, maintenance operations and MPU
  attributes (attributes.py, calibrated.py), FlexSPI line fills timed from
  the image's own configuration block (flexspi.py). Constants and their
  sources: parameters.py; the fit: bench/calibration.py, docs/emulator.md.
"""
from ... import memory_map as mm
from .parameters import DEFAULT, Parameters

from ...options import OPTIONS_BY_KEY

TIMING_MODELS = OPTIONS_BY_KEY["TIMING"].choices      # the option table's list


def flash_configuration_block(image, size=0x200):
    """The first `size` bytes of flash as the image programs them (0xFF where
    it leaves them out)."""
    block = bytearray(b"\xff" * size)
    for segment in image.segments:
        start = max(segment.address, mm.FLASH.origin)
        end = min(segment.address + len(segment.data), mm.FLASH.origin + size)
        if start < end:
            block[start - mm.FLASH.origin:end - mm.FLASH.origin] = \
                segment.data[start - segment.address:end - segment.address]
    return bytes(block)


def make_timing(name, image, parameters=None):
    """The Counters' `timing` argument for model `name`."""
    if name not in TIMING_MODELS:
        from ...errors import UserError
        raise UserError(f"TIMING={name!r} is not a timing model; choose one of "
                        f"{', '.join(TIMING_MODELS)}.")
    if name == "simple":
        return None
    from .calibrated import CalibratedTiming
    block = flash_configuration_block(image)
    return lambda uc, stop, data, regions: CalibratedTiming(
        uc, block, stop, data, regions, parameters or DEFAULT)


__all__ = ["TIMING_MODELS", "make_timing", "Parameters", "DEFAULT"]
