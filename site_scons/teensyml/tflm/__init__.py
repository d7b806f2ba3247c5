"""What a firmware compiles from TensorFlow Lite Micro (TFLM), and with which flags.

TFLM's own Makefile (tensorflow/lite/micro/tools/make: Makefile, sources.inc,
ext_libs/cmsis_nn.inc, specialize_files.py, targets/cortex_m_generic_makefile.inc)
builds `libtensorflow-microlite.a` from every kernel it has, and, with
OPTIMIZED_KERNEL_DIR=cmsis_nn, from every CMSIS-NN source. This package answers
the same question for one model: the framework ("core") sources as the Makefile
lists them, only the kernels of the model's operators plus what they need, and
only the CMSIS-NN sources those kernels call.

    tree = TflmTree.from_third_party("third_party", cache_path="build/tflm-index.json")
    for group in tree.groups({"CONV_2D", "SOFTMAX"}, kernels="cmsis_nn"):
        group.name, group.sources, group.include_dirs, group.defines, group.optimization

Rules (each mirrors the Makefile unless it says otherwise):

- Core: tensorflow/lite/micro/{,arena_allocator/,memory_planner/,tflite_bridge/}*.cc
  and every .cc/.c under tensorflow/ outside lite/micro and lite/experimental,
  minus lite/array.cc, tests and benchmarks (sources.inc). Then files of the
  same name in the target directory replace them (specialize_files.py with
  TARGET=cortex_m_generic: debug_log.cc, micro_time.cc). Deliberately left out:
  the test scaffolding the Makefile also archives (TESTING_SUPPORT).
- Kernels: the file that defines the `Register_*` function the resolver's
  AddXxx method uses for each operator (micro_mutable_op_resolver.h), then a
  closure: for every header of tensorflow/lite/micro/kernels/ that a selected
  file (or a core file) includes, directly or through other headers of the
  tree, `<stem>.cc` and `<stem>_common.cc` of that directory are selected too
  (conv.h -> conv.cc, conv_common.cc; kernel_util.h -> kernel_util.cc). With
  kernels="cmsis_nn", a file of kernels/cmsis_nn/ replaces the reference file
  of the same name (specialize_files.py), before its own includes are followed.
- CMSIS-NN: not all of Source/**/*.c as ext_libs/cmsis_nn.inc does, but the
  .c files that define a function or table a selected kernel names, closed
  over the .c files those name in turn (inline functions and macros of
  CMSIS-NN's headers are followed to what they call). Names are matched as
  identifiers after comments are removed, so the selection can only err on
  the side of too many files. `cmsis_nn_sources()` with no ops gives the

    layout.py         TFLM's directories, file patterns, flags (the Makefile's facts)
    c_scan.py         C text: comments, #include edges, definitions, macros
    tflm_scan.py      a TFLM tree: core sources, kernel files, who registers what
    cmsis_nn_scan.py  CMSIS-NN: which .c files each kernel and file needs
    index_cache.py    the scanned facts kept in build/tflm-index.json between runs
    tree.py           TflmTree: the source groups for a model's operators
"""
from .index_cache import INDEX_FORMAT, STAMP_NAME
from .layout import (CMSIS_NN_FOR_SIZE, CMSIS_NN_HELPERS_CALLED, DEFAULT_TARGET, GROUPS,
                     KERNEL_DIR, KERNEL_PRECOMPILED_HEADERS, KERNEL_SETS, MICRO, TESTING_SUPPORT,
                     specialize, unity_source)
from .tree import SourceGroup, TflmTree

__all__ = ["CMSIS_NN_FOR_SIZE", "CMSIS_NN_HELPERS_CALLED", "DEFAULT_TARGET", "GROUPS",
           "INDEX_FORMAT", "KERNEL_DIR", "KERNEL_PRECOMPILED_HEADERS", "KERNEL_SETS", "MICRO",
           "STAMP_NAME", "TESTING_SUPPORT", "SourceGroup", "TflmTree", "specialize", "unity_source"]
