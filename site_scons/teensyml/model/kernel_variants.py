"""The CMSIS-NN kernel variants no layer of the model can reach, left out of
its firmware.

    excluded_variants(read_model("models/mnist_int8.tflite"), "cmsis_nn")   # Variants
    write_exclusions("models/mnist_int8.tflite", "cmsis_nn", ".../app/kernel_variants.c")

CMSIS-NN and TFLM's CMSIS-NN glue choose a code path at run time, from each
layer's shapes and quantization (arm_convolve_wrapper_s8 picks a 1x1, a 1xN
or the general convolution; a per-tensor fully connected layer takes another
function than a per-channel one; max pooling switches on int8/int16; our
tuned convolution hands a few shapes back to CMSIS-NN's). So the link keeps
every path the code names, though this model's layers reach few of them:
6.6 KB of the MNIST firmware's text. The model fixes the shapes, so the build
can decide instead.

For each variant no layer needs, the generated C file defines the function
itself, as a stop: linked before the libraries, it keeps the library's object
out of the link. Called anyway (the rules below would then be wrong), it
prints one line naming the function and stops at a breakpoint (the emulator
reports a crash), rather than computing garbage.

The rules are conservative (a doubtful layer keeps the variant) and rest on
who calls whom in CMSIS-NN and TFLM at their pinned commits: CALLERS, which
tests/test_kernel_variants.py checks against those sources, so a new caller
after a pin update fails the test instead of the firmware.
"""
import os
import textwrap
from dataclasses import dataclass
from typing import Callable

from ..atomic_file import update_text
from ..tflm.layout import KERNEL_SETS
from .tflite_model import read_model

# function -> the files that call it (CMSIS-NN's Source/ as compiled for the
# Cortex-M7, TFLM's kernels/cmsis_nn/), at the pinned commits. A CMSIS-NN
# caller is itself a key, so every chain ends at a TFLM kernel: OPERATOR_OF.
CALLERS = {
    "arm_max_pool_s16": ("pooling.cc",),
    # (arm_depthwise_conv_wrapper_s8 calls it too, only under ARM_MATH_MVEI.)
    "arm_convolve_wrapper_s8": ("conv.cc",),
    "arm_convolve_1x1_s8": ("arm_convolve_wrapper_s8.c",),
    "arm_convolve_1_x_n_s8": ("arm_convolve_wrapper_s8.c",),
    "arm_convolve_1x1_s8_fast": ("arm_convolve_wrapper_s8.c", "fully_connected.cc"),
    # (arm_convolve_1_x_n_s8 and arm_convolve_s8 call it too, only under ARM_MATH_MVEI.)
    "arm_nn_mat_mult_nt_t_s8": ("arm_convolve_1x1_s8.c", "arm_convolve_1x1_s8_fast.c"),
    "arm_fully_connected_wrapper_s8": ("fully_connected.cc",),
    "arm_fully_connected_s8": ("arm_fully_connected_wrapper_s8.c",),
    "arm_svdf_s8": ("svdf.cc",),
    "arm_batch_matmul_s8": ("batch_matmul.cc",),
    "arm_nn_vec_mat_mult_t_s8": ("arm_fully_connected_s8.c", "arm_svdf_s8.c",
                                 "arm_batch_matmul_s8.c"),
    # Ours (src/cmsis_nn_tuned/, TUNED_KERNELS=1) hands some convolutions back
    # to CMSIS-NN's own, built renamed; without ours nothing calls the name and
    # the link drops its stop.
    "upstream_arm_convolve_s8": ("arm_convolve_s8.c",),
    "arm_convolve_s8": ("arm_convolve_wrapper_s8.c", "arm_convolve_1_x_n_s8.c",
                        "arm_transpose_conv_wrapper_s8.c"),
    "arm_transpose_conv_wrapper_s8": ("transpose_conv.cc",),
}
# TFLM's CMSIS-NN kernel file -> the operators it implements.
OPERATOR_OF = {"pooling.cc": ("AVERAGE_POOL_2D", "MAX_POOL_2D"), "conv.cc": ("CONV_2D",),
               "fully_connected.cc": ("FULLY_CONNECTED",), "svdf.cc": ("SVDF",),
               "batch_matmul.cc": ("BATCH_MATMUL",), "transpose_conv.cc": ("TRANSPOSE_CONV",)}


def reaching_operators(function):
    """The operators whose kernels may call `function`, by CALLERS."""
    operators, pending, seen = set(), [function], set()
    while pending:
        for caller in CALLERS[pending.pop()]:
            if caller in OPERATOR_OF:
                operators.update(OPERATOR_OF[caller])
            elif caller not in seen:
                seen.add(caller)
                pending.append(os.path.splitext(caller)[0])
    return operators


def _int8_input(operation):
    return bool(operation.inputs) and operation.inputs[0] is not None \
        and operation.inputs[0].dtype == "int8"


def _filter_hw(operation):
    """(height, width) of a convolution's filter (OHWI); None if the model
    does not say."""
    weights = operation.inputs[1] if len(operation.inputs) > 1 else None
    return tuple(weights.shape[1:3]) if weights is not None and len(weights.shape) == 4 else None


def _convolution_wrapper(operation):
    return operation.name == "CONV_2D" and _int8_input(operation)      # conv.cc's int8 path


def _one_by_one(operation):
    return _convolution_wrapper(operation) and _filter_hw(operation) in (None, (1, 1))


def _one_by_n(operation):
    hw = _filter_hw(operation)
    return _convolution_wrapper(operation) and (hw is None or hw[0] == 1)


def _fully_connected_as_1x1(operation):
    # fully_connected.cc takes arm_convolve_1x1_s8_fast when the output has
    # more than two dimensions (and a depth that is a multiple of 4).
    output = operation.outputs[0] if operation.outputs else None
    return operation.name == "FULLY_CONNECTED" and _int8_input(operation) \
        and (output is None or len(output.shape) > 2)


def _handed_back_convolution(operation):
    # Our arm_convolve_s8 hands back a grouped convolution (the filter's depth
    # is not the input's), an upscaled one (TRANSPOSE_CONV's) and one without
    # an aligned scratch buffer, which TFLM's glue never passes: conv.cc asks
    # for 4 bytes per element of one filter (never 0), the arena aligns to 16.
    if operation.name == "TRANSPOSE_CONV":
        return _int8_input(operation)
    if not _convolution_wrapper(operation):
        return False
    weights = operation.inputs[1] if len(operation.inputs) > 1 else None
    data = operation.inputs[0]
    return weights is None or len(weights.shape) != 4 or len(data.shape) != 4 \
        or weights.shape[3] != data.shape[3]


def _per_tensor_fully_connected(operation):
    # TFLM: per channel when the weights have more than one scale.
    weights = operation.inputs[1] if len(operation.inputs) > 1 else None
    return operation.name == "FULLY_CONNECTED" and _int8_input(operation) \
        and (weights is None or len(weights.scales) <= 1)


@dataclass(frozen=True)
class Variant:
    function: str
    needed_by: Callable            # Operation whose kernel calls it -> bool: may it reach it?
    rule: str                      # when it is needed, for the generated comment


VARIANTS = (
    Variant("arm_max_pool_s16",
            lambda op: bool(op.inputs) and (op.inputs[0] is None or op.inputs[0].dtype == "int16"),
            "a pooling layer with int16 input"),
    Variant("arm_convolve_1x1_s8", _one_by_one,
            "an int8 convolution with a 1x1 filter"),
    Variant("arm_convolve_1_x_n_s8", _one_by_n,
            "an int8 convolution with a 1xN filter"),
    Variant("arm_nn_mat_mult_nt_t_s8",
            lambda op: _one_by_one(op) or _fully_connected_as_1x1(op),
            "an int8 convolution with a 1x1 filter, or an int8 FULLY_CONNECTED "
            "with an output of more than two dimensions"),
    Variant("arm_nn_vec_mat_mult_t_s8",
            lambda op: _per_tensor_fully_connected(op) or op.name in ("SVDF", "BATCH_MATMUL"),
            "an int8 FULLY_CONNECTED with per-tensor weights, an SVDF or a BATCH_MATMUL"),
    Variant("upstream_arm_convolve_s8", _handed_back_convolution,
            "a grouped int8 convolution or an int8 TRANSPOSE_CONV (CMSIS-NN's "
            "arm_convolve_s8, which src/cmsis_nn_tuned/'s hands them to)"),
)


def excluded_variants(info, kernel_set):
    """The Variants no operation of `info` (a tflite_model.ModelInfo) needs,
    with `kernel_set`'s kernels; the reference kernels have none to leave out."""
    if kernel_set not in KERNEL_SETS:
        raise ValueError(f"unknown kernel set {kernel_set!r}")
    if kernel_set != "cmsis_nn":
        return ()
    return tuple(variant for variant in VARIANTS
                 if not any(operation.name in reaching_operators(variant.function)
                            and variant.needed_by(operation) for operation in info.operations))


def exclusions_source(excluded, info, kernel_set):
    """The C file that keeps `excluded` out of the link."""
    model = os.path.basename(info.path)
    lines = [f"/* Generated by teensyml/model/kernel_variants.py for {model}",
             f" * with the {kernel_set} kernels.",
             " * Do not edit: rebuild instead.",
             " *",
             " * The kernel variants below are needed only by layers this model does not",
             " * have. Each definition takes the place of the library's function, so that",
             " * object stays out of the link; if one is ever called, it says so and stops.",
             " * The callers pass arguments these definitions ignore. */",
             '#include "console.h"', ""]
    if excluded:
        lines += ["__attribute__((noreturn, noinline)) static void excluded(const char *function)",
                  "{",
                  '    console_puts("\\r\\n*** Kernel variant left out of this build was called: ");',
                  "    console_puts(function);",
                  '    console_puts(" (teensyml/model/kernel_variants.py)\\r\\n");',
                  "    for (;;) {",
                  '        __asm volatile("bkpt #0");',
                  "    }",
                  "}", ""]
    for variant in excluded:
        lines += textwrap.wrap(f"/* Needed only by {variant.rule}. */", 96,
                               subsequent_indent=" * ")
        lines += [
                  f"void {variant.function}(void);",
                  f'void {variant.function}(void) {{ excluded("{variant.function}"); }}', ""]
    if not excluded:
        lines.append("/* None: every variant may be reached, or these kernels choose none. */")
    return "\n".join(lines).rstrip("\n") + "\n"


def write_exclusions(model_path, kernel_set, path):
    """Write the exclusions of the model at `model_path` to `path` (a .c file)."""
    info = read_model(model_path)
    update_text(path, exclusions_source(excluded_variants(info, kernel_set), info, kernel_set))
