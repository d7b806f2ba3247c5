"""BUILD=: the build types, after TFLM's Makefile (BUILD_TYPE=).

    BUILD_TYPES["release"].tflm_logs      # False: TF_LITE_STRIP_ERROR_STRINGS
    BUILD_TYPES["debug"].optimization     # "-Og" for every component

release            TFLM's `release`: optimised, NDEBUG, TFLM's own messages
                   (MicroPrintf, TF_LITE_REPORT_ERROR) compiled out; the app's
                   messages stay. About 11 KB less flash than with the logs.
release_with_logs  TFLM's `release_with_logs`: as release, with TFLM's messages
                   (why a model did not load, in TFLM's words). Kernel tests
                   need them: TFLM's tests report through MicroPrintf.
debug              -Og everywhere, no NDEBUG, TFLM's messages.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class BuildType:
    name: str
    optimized: bool        # each component's own level (TFLM core -Os, kernels -O2)
    optimization: str      # the level for code with none of its own: when
                           # optimised, the board, SDK and app run beside the
                           # inference, not in it (-Os: 2 KB less, same cycles)
    tflm_logs: bool        # False: TF_LITE_STRIP_ERROR_STRINGS

    @property
    def defines(self):
        """What TFLM's sources define for this build type (NDEBUG reaches the
        other components through arm_none_eabi)."""
        return (["NDEBUG"] if self.optimized else []) + \
            ([] if self.tflm_logs else ["TF_LITE_STRIP_ERROR_STRINGS"])


BUILD_TYPES = {build.name: build for build in (
    BuildType("release", optimized=True, optimization="-Os", tflm_logs=False),
    BuildType("release_with_logs", optimized=True, optimization="-Os", tflm_logs=True),
    BuildType("debug", optimized=False, optimization="-Og", tflm_logs=True),
)}
DEFAULT_BUILD = "release"
