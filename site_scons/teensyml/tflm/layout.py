"""Where TFLM keeps what, and how its Makefile builds it: the directories,
file patterns, flags and optimisation levels the rest of the package uses
(tensorflow/lite/micro/tools/make: Makefile, sources.inc, ext_libs/cmsis_nn.inc,
specialize_files.py, targets/cortex_m_generic_makefile.inc)."""
import fnmatch
import os

from ..errors import UserError

KERNEL_SETS = ("reference", "cmsis_nn")
GROUPS = ("core", "kernels", "cmsis_nn")

MICRO = "tensorflow/lite/micro"
KERNEL_DIR = MICRO + "/kernels"
RESOLVER = MICRO + "/micro_mutable_op_resolver.h"
DEFAULT_TARGET = MICRO + "/cortex_m_generic"
# Headers every kernel includes, precompiled once per configuration: parsing
# them (flatbuffers' schema_generated.h above all) is most of a kernel's
# compile time. Order as a kernel includes them; each has include guards.
KERNEL_PRECOMPILED_HEADERS = ("tensorflow/lite/c/common.h",
                              MICRO + "/kernels/kernel_util.h",
                              MICRO + "/micro_common.h",
                              "tensorflow/lite/schema/schema_generated.h")

# sources.inc, MICROLITE_CC_BASE_SRCS (wildcards, not recursive).
CORE_DIRS = (MICRO, MICRO + "/arena_allocator", MICRO + "/memory_planner",
             MICRO + "/tflite_bridge")
# sources.inc, TFL_CC_SRCS: `find tensorflow` minus these subtrees and files.
TFL_ROOT = "tensorflow"
TFL_PRUNED = ("tensorflow/lite/micro", "tensorflow/lite/experimental")
TFL_EXCLUDED = ("tensorflow/lite/array.cc",)   # excluded with TF_LITE_STATIC_MEMORY
# MICROLITE_TEST_SRCS / MICROLITE_BENCHMARK_SRCS, as patterns.
TEST_PATTERNS = ("*_test.cc", "*benchmark.cc")
# In the Makefile's library, used only by tests (kernel_runner, unit-test
# helpers); no firmware needs them, so they stay out of the build.
TESTING_SUPPORT = (MICRO + "/test_helpers.cc", MICRO + "/test_helper_custom_ops.cc",
                   MICRO + "/fake_micro_context.cc", MICRO + "/mock_micro_graph.cc",
                   KERNEL_DIR + "/kernel_runner.cc")

# Makefile: CORE_OPTIMIZATION_LEVEL (-Os with gcc), KERNEL_OPTIMIZATION_LEVEL
# and THIRD_PARTY_KERNEL_OPTIMIZATION_LEVEL (-O2).
OPTIMIZATION = {"core": "-Os", "kernels": "-O2", "cmsis_nn": "-O2"}
# CMSIS-NN files compiled for size (-Os), with why: no convolution runs through
# them, and their unrolled -O2 code is two to three times larger. Figures for
# int8 MNIST with CMSIS-NN (README, "Size"; docs/kernels.md has the table).
CMSIS_NN_FOR_SIZE = {
    "arm_nn_vec_mat_mult_t_s8.c": "fully connected, per-tensor: 3,778 -> 1,344 bytes",
    "arm_nn_vec_mat_mult_t_per_ch_s8.c": "fully connected, per-channel: 3,870 -> 1,424 bytes; "
                                         "its layer waits on weights read once (+2.7% cycles "
                                         "with them in flash)",
    "arm_nn_softmax_common_s8.c": "softmax, once per inference: 3,816 -> 3,220 bytes",
    "arm_nn_mat_mult_nt_t_s8.c": "batched fully connected and 1x1 convolutions: "
                                 "2,340 -> 1,998 bytes",
}
SIZE_OPTIMIZATION = "-Os"
# CMSIS-NN forces its small helpers inline (__STATIC_FORCEINLINE) wherever they
# are used. In these files, already compiled for size, the compiler may call
# them instead, with why: the same C, so the same results. CMSIS's compiler
# header defines __STATIC_FORCEINLINE only where it is not defined yet.
CMSIS_NN_HELPERS_CALLED = {
    "arm_nn_softmax_common_s8.c": "softmax, once per inference: each of its two "
                                  "exponentials expands to 1 KB inline; 3,220 -> 938 bytes, "
                                  "+2,900 cycles (0.05% of an inference)",
    "arm_nn_vec_mat_mult_t_per_ch_s8.c": "fully connected, per-channel: 1,424 -> 1,132 "
                                         "bytes; its layer waits on the weights in flash "
                                         "(+0.03% cycles)",
}
HELPERS_CALLED_DEFINE = ("__STATIC_FORCEINLINE", "__STATIC_INLINE")

# Groups whose sources compile as one translation unit (unity_source()):
# checked for the core at the pinned commit (41 files: 11 s instead of about
# 150 s of CPU, since every file parses schema_generated.h again). Not the
# kernels: reshape.h's constants are defined twice in one unit, and kernels are
# the files one edits.
UNITY_GROUPS = ("core",)

# Makefile COMMON_FLAGS, OPTIMIZE_KERNELS_FOR's default, cortex_m_generic's
# PLATFORM_FLAGS (TF_LITE_MCU_DEBUG_LOG).
TFLM_DEFINES = ("TF_LITE_STATIC_MEMORY", "TF_LITE_DISABLE_X86_NEON",
                "TF_LITE_MCU_DEBUG_LOG", "KERNELS_OPTIMIZED_FOR_SPEED")


def unity_source(paths):
    """The text of one translation unit that compiles all of `paths`."""
    return "".join(f'#include "{path}"\n' for path in paths)



# --- specialization (specialize_files.py) -----------------------------------------

def specialize(sources, directory):
    """Replace each of `sources` by the file of the same name in `directory`,
    when there is one; `sources` is kept as is when the directory is absent."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return list(sources)
    return [os.path.join(directory, os.path.basename(path))
            if os.path.basename(path) in names else path for path in sources]



def is_test(name):
    return any(fnmatch.fnmatch(name, pattern) for pattern in TEST_PATTERNS)


def check_choice(what, value, choices):
    if value not in choices:
        raise UserError(f"Unknown {what} {value!r}: choose one of {', '.join(choices)}.")

