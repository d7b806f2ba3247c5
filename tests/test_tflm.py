"""teensyml.tflm: which TFLM / CMSIS-NN files a model needs.

The first part builds a small fake TFLM + CMSIS-NN tree in tmp_path and runs
everywhere (CI has no third_party). The second part checks the real pinned
trees and skips until `scons deps` has populated third_party/.
"""
import json
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from teensyml import tflm
from teensyml.errors import UserError
from teensyml.tflm import TflmTree, c_scan, cmsis_nn_scan, tflm_scan

MICRO = "tensorflow/lite/micro"
KDIR = MICRO + "/kernels"

RESOLVER = """\
namespace tflite {
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  TfLiteStatus AddCustom(const char* name, const TFLMRegistration* registration) {
    return kTfLiteOk;
  }
  TfLiteStatus AddAdd(const TFLMRegistration& registration = Register_ADD()) {
    return AddBuiltin(BuiltinOperator_ADD, registration, ParseAdd);
  }
  TfLiteStatus AddCircularBuffer() {
    return AddCustom("CIRCULAR_BUFFER", tflite::Register_CIRCULAR_BUFFER());
  }
  // AddNotAnOp() { AddBuiltin(BuiltinOperator_COMMENTED_OUT, Register_X()); }
  TfLiteStatus AddConv2D(
      const TFLMRegistration& registration = Register_CONV_2D()) {
    return AddBuiltin(BuiltinOperator_CONV_2D, registration, ParseConv2D);
  }
  TfLiteStatus AddDelay() {
    return AddCustom("SignalDelay", tflite::tflm_signal::Register_DELAY());
  }
 private:
  TfLiteStatus AddBuiltin(tflite::BuiltinOperator op,
                          const TFLMRegistration& registration,
                          TfLiteBridgeBuiltinParseFunction parser) {
    return kTfLiteOk;
  }
};
}  // namespace tflite
"""

FAKE_TFLM = {
    f"{MICRO}/micro_mutable_op_resolver.h": RESOLVER,
    f"{MICRO}/micro_interpreter.cc": '#include "tensorflow/lite/micro/micro_interpreter.h"\n',
    f"{MICRO}/micro_interpreter.h": "",
    f"{MICRO}/micro_context.cc":
        '#ifdef USE_TFLM_COMPRESSION\n'
        '#include "tensorflow/lite/micro/kernels/decompress.h"\n#endif\n',
    f"{MICRO}/debug_log.cc": "// generic\n",
    f"{MICRO}/micro_time.cc": "// generic\n",
    f"{MICRO}/test_helpers.cc": "",
    f"{MICRO}/micro_interpreter_test.cc": "",
    f"{MICRO}/arena_allocator/single_arena_buffer_allocator.cc": "",
    f"{MICRO}/arena_allocator/deeper/not_globbed.cc": "",
    f"{MICRO}/cortex_m_generic/debug_log.cc": "// cortex-m\n",
    f"{MICRO}/cortex_m_generic/micro_time.cc": "// cortex-m\n",
    f"{MICRO}/cortex_m_generic/only_here.cc": "",
    f"{MICRO}/examples/hello/hello.cc": "",
    "tensorflow/lite/array.cc": "",
    "tensorflow/lite/experimental/thing.cc": "",
    "tensorflow/lite/kernels/internal/quantization_util.cc": "",
    "tensorflow/lite/kernels/internal/reference/plain.c": "",
    "tensorflow/compiler/mlir/lite/schema/schema_utils.cc": "",
    # kernels
    f"{KDIR}/conv.cc": textwrap.dedent("""\
        #include "tensorflow/lite/micro/kernels/conv.h"
        #include "tensorflow/lite/micro/kernels/kernel_util.h"
        namespace tflite {
        TFLMRegistration Register_CONV_2D() {
          return tflite::micro::RegisterOp(Init, Prepare, Eval);
        }
        }  // namespace tflite
        """),
    f"{KDIR}/conv.h": '#include "tensorflow/lite/micro/kernels/helper.h"\n'
                      'TFLMRegistration Register_CONV_2D();\n',
    f"{KDIR}/conv_common.cc": '#include "tensorflow/lite/micro/kernels/conv.h"\n',
    f"{KDIR}/helper.h": '#include "deep.h"\n',             # relative to its directory
    f"{KDIR}/deep.h": "",
    f"{KDIR}/deep.cc": '#include "tensorflow/lite/micro/kernels/deep.h"\n',
    f"{KDIR}/kernel_util.h": "",
    f"{KDIR}/kernel_util.cc": '#include "tensorflow/lite/micro/kernels/kernel_util.h"\n',
    f"{KDIR}/add.h": "",
    f"{KDIR}/add.cc": '#include "tensorflow/lite/micro/kernels/add.h"\n'
                      "TFLMRegistration Register_ADD() { return {}; }\n",
    f"{KDIR}/add_common.cc": '#include "tensorflow/lite/micro/kernels/add.h"\n',
    f"{KDIR}/circular_buffer.cc":
        "TFLMRegistration* Register_CIRCULAR_BUFFER() { static TFLMRegistration r; return &r; }\n",
    f"{KDIR}/unused.cc": '#include "tensorflow/lite/micro/kernels/kernel_util.h"\n'
                        "TFLMRegistration Register_UNUSED() { return {}; }\n",
    f"{KDIR}/decompress.h": "",
    f"{KDIR}/decompress.cc": '#include "tensorflow/lite/micro/kernels/decompress.h"\n',
    f"{KDIR}/kernel_runner.cc": '#include "tensorflow/lite/micro/kernels/kernel_util.h"\n',
    f"{KDIR}/conv_test.cc": '#include "tensorflow/lite/micro/kernels/conv.h"\n'
                            "TFLMRegistration Register_CONV_2D() { return {}; }\n",
    f"{KDIR}/cmsis_nn/conv.cc": textwrap.dedent("""\
        #include "Include/arm_nnfunctions.h"
        #include "tensorflow/lite/micro/kernels/conv.h"
        // arm_unrelated() is only named in this comment.
        TFLMRegistration Register_CONV_2D() { arm_convolve_s8(); return {}; }
        """),
    f"{KDIR}/cmsis_nn/add.cc": '#include "Include/arm_nnfunctions.h"\n'
                               "TFLMRegistration Register_ADD() { arm_add_s8(); return {}; }\n",
    f"{KDIR}/cmsis_nn/only_optimized.cc": "",
}

FAKE_CMSIS_NN = {
    "Include/arm_nnfunctions.h": "void arm_convolve_s8(void);\nvoid arm_add_s8(void);\n",
    "Include/arm_nnsupportfunctions.h": textwrap.dedent("""\
        #ifdef __cplusplus
        extern "C" {
        #endif
        #define MUL_SAT(a, b) arm_nn_sat_mul((a), \\
                                             (b))
        __STATIC_FORCEINLINE int arm_nn_inline_helper(int x)
        {
            if (x) { return arm_nn_deep_support(x); }
            return 0;
        }
        #ifdef __cplusplus
        }
        #endif
        """),
    "Source/ConvolutionFunctions/arm_convolve_s8.c": textwrap.dedent("""\
        #include "arm_nnsupportfunctions.h"
        /* arm_unrelated is mentioned in a comment only */
        static int local_helper(int x) { return x; }
        void arm_convolve_s8(void)
        {
            const char *s = "arm_unrelated";
            local_helper(arm_nn_inline_helper(MUL_SAT(1, 2)));
        }
        """),
    "Source/NNSupportFunctions/arm_nn_deep_support.c":
        "int arm_nn_deep_support(int x) { return x; }\n",
    "Source/NNSupportFunctions/arm_nn_sat_mul.c":
        "int arm_nn_sat_mul(int a,\n    int b)\n{ return a * b; }\n",
    "Source/NNSupportFunctions/arm_nntables.c":
        "const unsigned short sigmoid_table[3] = {\n 1, 2, 3 };\n",
    "Source/BasicMathFunctions/arm_add_s8.c":
        "extern const unsigned short sigmoid_table[3];\n"
        "void arm_add_s8(void) { (void)sigmoid_table[0]; }\n",
    "Source/Other/arm_unrelated.c": "static int local_helper(void) { return 1; }\n"
                                    "void arm_unrelated(void) { local_helper(); }\n",
}


def write_tree(root, files):
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


@pytest.fixture
def fake(tmp_path):
    tflm_root = write_tree(tmp_path / "tflite-micro", FAKE_TFLM)
    cmsis = write_tree(tmp_path / "CMSIS-NN", FAKE_CMSIS_NN)
    (tflm_root / tflm.STAMP_NAME).write_text('{"commit": "1111"}')
    (cmsis / tflm.STAMP_NAME).write_text('{"commit": "2222"}')
    return tmp_path


def tree_of(base, **kwargs):
    kwargs.setdefault("cache_path", base / "build" / "tflm-index.json")
    return TflmTree(base / "tflite-micro", cmsis_nn_root=base / "CMSIS-NN", **kwargs)


def rel(paths, root):
    return sorted(os.path.relpath(path, root).replace(os.sep, "/") for path in paths)


def kernel_names(tree, ops, kernels="reference"):
    return rel(tree.kernel_sources(ops, kernels), os.path.join(tree.root, KDIR))


# --- the fake tree --------------------------------------------------------------

def test_resolver_methods_name_the_supported_operators(fake):
    tree = tree_of(fake)
    assert tree.ops_supported() == ["ADD", "CIRCULAR_BUFFER", "CONV_2D"]
    assert tree.resolver_method("CONV_2D") == "AddConv2D"
    assert tree.resolver_method("circular_buffer") == "AddCircularBuffer"
    assert tree.index["ops"]["CONV_2D"]["file"] == "conv.cc"   # not conv_test.cc


def test_core_sources_follow_the_makefile_and_the_target_directory(fake):
    tree = tree_of(fake)
    assert rel(tree.core_sources(), tree.root) == [
        "tensorflow/compiler/mlir/lite/schema/schema_utils.cc",
        "tensorflow/lite/kernels/internal/quantization_util.cc",
        "tensorflow/lite/kernels/internal/reference/plain.c",
        f"{MICRO}/arena_allocator/single_arena_buffer_allocator.cc",
        f"{MICRO}/cortex_m_generic/debug_log.cc",
        f"{MICRO}/cortex_m_generic/micro_time.cc",
        f"{MICRO}/micro_context.cc",
        f"{MICRO}/micro_interpreter.cc",
    ]


def test_a_later_target_directory_overrides_an_earlier_one(fake, tmp_path):
    own = write_tree(tmp_path / "board", {"micro_time.cc": "// 600 MHz\n", "new.cc": ""})
    tree = tree_of(fake)
    generic = os.path.join(tree.root, tflm.DEFAULT_TARGET)
    sources = tree.core_sources([generic, str(own)])
    assert str(own / "micro_time.cc") in sources
    assert os.path.join(generic, "debug_log.cc") in sources
    assert not any(path.endswith("new.cc") for path in sources)
    assert os.path.join(tree.root, MICRO, "debug_log.cc") in tree.core_sources([])


def test_kernel_closure_follows_headers_transitively(fake):
    tree = tree_of(fake)
    assert kernel_names(tree, ["CONV_2D"]) == [
        "conv.cc", "conv_common.cc", "decompress.cc", "deep.cc", "kernel_util.cc"]


def test_cmsis_nn_files_replace_reference_files_of_the_same_name(fake):
    tree = tree_of(fake)
    assert kernel_names(tree, ["CONV_2D"], "cmsis_nn") == [
        "cmsis_nn/conv.cc", "conv_common.cc", "decompress.cc", "deep.cc"]


def test_an_extra_operator_adds_its_files_and_only_those(fake):
    tree = tree_of(fake)
    base = set(kernel_names(tree, ["CONV_2D"]))
    assert set(kernel_names(tree, ["CONV_2D", "ADD"])) - base == {"add.cc", "add_common.cc"}
    # cmsis_nn/add.cc does not include add.h: its includes, not the reference
    # file's, decide what else comes.
    cmsis = set(kernel_names(tree, ["CONV_2D"], "cmsis_nn"))
    assert set(kernel_names(tree, ["CONV_2D", "ADD"], "cmsis_nn")) - cmsis == {"cmsis_nn/add.cc"}


def test_cmsis_nn_sources_are_only_those_the_kernels_call(fake):
    tree = tree_of(fake)
    root = tree.cmsis_nn_root
    assert rel(tree.cmsis_nn_sources(["CONV_2D"]), root) == [
        "Source/ConvolutionFunctions/arm_convolve_s8.c",          # named by cmsis_nn/conv.cc
        "Source/NNSupportFunctions/arm_nn_deep_support.c",        # via a header inline function
        "Source/NNSupportFunctions/arm_nn_sat_mul.c",             # via a header macro
    ]
    assert set(rel(tree.cmsis_nn_sources(["CONV_2D", "ADD"]), root)) - set(
        rel(tree.cmsis_nn_sources(["CONV_2D"]), root)) == {
        "Source/BasicMathFunctions/arm_add_s8.c", "Source/NNSupportFunctions/arm_nntables.c"}
    assert len(tree.cmsis_nn_sources()) == 6                      # all, as cmsis_nn.inc


def test_unknown_operator_is_a_user_error_naming_it(fake):
    tree = tree_of(fake)
    with pytest.raises(UserError) as error:
        tree.kernel_sources(["CONV_2D", "FROBNICATE"])
    message = str(error.value)
    assert "FROBNICATE" in message and "TFLM lacks" in message and "CONV_2D" in message
    with pytest.raises(UserError, match="signal library"):
        tree.kernel_sources(["SignalDelay"])
    with pytest.raises(UserError, match="UNUSED"):       # defined, but no resolver method
        tree.kernel_sources(["UNUSED"])


def test_groups_carry_flags_per_library(fake):
    tree = tree_of(fake)
    reference = {g.name: g for g in tree.groups(["CONV_2D"])}
    assert list(reference) == ["core", "kernels"]
    cmsis = {g.name: g for g in tree.groups(["CONV_2D"], "cmsis_nn", build="debug")}
    assert list(cmsis) == ["core", "kernels", "cmsis_nn"]
    assert cmsis["core"].unity and not cmsis["kernels"].unity
    assert (cmsis["core"].optimization, cmsis["kernels"].optimization,
            cmsis["cmsis_nn"].optimization) == ("-Os", "-O2", "-O2")
    assert "CMSIS_NN" in cmsis["kernels"].defines
    assert "CMSIS_NN" not in cmsis["core"].defines and cmsis["cmsis_nn"].defines == ()
    assert cmsis["core"].sources == reference["core"].sources
    assert cmsis["cmsis_nn"].include_dirs == (os.path.join(tree.cmsis_nn_root, "Include"),)
    assert tree.cmsis_nn_root in cmsis["kernels"].include_dirs
    assert tree.cmsis_nn_root not in reference["kernels"].include_dirs
    assert cmsis["cmsis_nn"].language == {"c": 3, "c++": 0}


def test_a_cmsis_nn_directory_replaces_files_and_lists_the_originals(fake, tmp_path):
    own = write_tree(tmp_path / "tuned", {"arm_convolve_s8.c": "// ours\n", "unused.c": ""})
    tree = tree_of(fake)
    original = os.path.join(tree.cmsis_nn_root,
                            "Source/ConvolutionFunctions/arm_convolve_s8.c")
    plain = {g.name: g for g in tree.groups(["CONV_2D"], "cmsis_nn")}["cmsis_nn"]
    tuned = {g.name: g for g in tree.groups(["CONV_2D"], "cmsis_nn",
                                            cmsis_nn_dirs=[str(own)])}["cmsis_nn"]
    assert original in plain.sources and plain.replaced == ()
    assert str(own / "arm_convolve_s8.c") in tuned.sources and original not in tuned.sources
    assert tuned.replaced == (original,)
    assert not any(path.endswith("unused.c") for path in tuned.sources)
    assert len(tuned.sources) == len(plain.sources)
    # Ours at the group's level; the original, kept for the shapes ours hand
    # back, for size.
    assert tuned.optimization_of(str(own / "arm_convolve_s8.c")) == "-O2"
    assert tuned.optimization_of(original) == "-Os" and plain.optimization_of(original) == "-O2"


def test_cmsis_nn_files_listed_for_size_compile_with_os(fake, monkeypatch):
    monkeypatch.setitem(tflm.CMSIS_NN_FOR_SIZE, "arm_nn_sat_mul.c", "a test's")
    tree = tree_of(fake)
    group = {g.name: g for g in tree.groups(["CONV_2D"], "cmsis_nn")}["cmsis_nn"]
    listed = [path for path in group.sources
              if os.path.basename(path) in tflm.CMSIS_NN_FOR_SIZE]
    assert [os.path.basename(path) for path in listed] == ["arm_nn_sat_mul.c"]
    assert all(group.optimization_of(path) == "-Os" for path in listed)
    assert all(group.optimization_of(path) == "-O2"
               for path in set(group.sources) - set(listed))


def test_cmsis_nn_files_listed_let_the_compiler_call_the_helpers(fake, monkeypatch):
    monkeypatch.setitem(tflm.CMSIS_NN_HELPERS_CALLED, "arm_nn_sat_mul.c", "a test's")
    groups = {g.name: g for g in tree_of(fake).groups(["CONV_2D"], "cmsis_nn")}
    cmsis_nn = groups["cmsis_nn"]
    listed = [path for path in cmsis_nn.sources
              if os.path.basename(path) in tflm.CMSIS_NN_HELPERS_CALLED]
    assert [os.path.basename(path) for path in listed] == ["arm_nn_sat_mul.c"]
    assert cmsis_nn.size_defines_of(listed[0]) == [("__STATIC_FORCEINLINE", "__STATIC_INLINE")]
    assert not any(cmsis_nn.size_defines_of(path)
                   for path in set(cmsis_nn.sources) - set(listed))
    assert not any(groups["kernels"].size_defines_of(path) for path in groups["kernels"].sources)


def test_defines_follow_the_build_type(fake):
    tree = tree_of(fake)
    release = tree.defines("kernels", build="release")
    assert "NDEBUG" in release and "TF_LITE_STRIP_ERROR_STRINGS" in release
    assert "TF_LITE_STATIC_MEMORY" in release
    logged = tree.defines("core", build="release_with_logs")
    assert "NDEBUG" in logged and "TF_LITE_STRIP_ERROR_STRINGS" not in logged
    debug = tree.defines("core", build="debug")
    assert "NDEBUG" not in debug and "TF_LITE_STRIP_ERROR_STRINGS" not in debug
    assert 'CMSIS_DEVICE_ARM_CORTEX_M_XX_HEADER_FILE="MIMXRT1062.h"' in tree.defines(
        "core", device_header="MIMXRT1062.h")
    with pytest.raises(UserError, match="release, release_with_logs, debug"):
        tree.defines("core", build="fast")
    with pytest.raises(UserError, match="reference, cmsis_nn"):
        tree.kernel_sources(["ADD"], kernels="xtensa")


def test_the_cache_is_reused_without_a_rescan(fake, monkeypatch):
    first = tree_of(fake)
    expected = first.kernel_sources(["CONV_2D"], "cmsis_nn"), first.cmsis_nn_sources(["ADD"])
    assert first.scans == 1 and first.cache_path and os.path.isfile(first.cache_path)

    def no_scan(*args):
        raise AssertionError("scanned although the cache is valid")
    monkeypatch.setattr(tflm_scan, "scan_tflm", no_scan)
    monkeypatch.setattr(cmsis_nn_scan, "scan_cmsis_nn", no_scan)
    second = tree_of(fake)
    assert (second.kernel_sources(["CONV_2D"], "cmsis_nn"),
            second.cmsis_nn_sources(["ADD"])) == expected
    assert second.scans == 0


def test_the_cache_is_invalidated_when_a_stamp_changes(fake):
    tree_of(fake).ops_supported()
    (fake / "tflite-micro" / KDIR / "cmsis_nn" / "add.cc").unlink()   # tree changes ...
    stale = tree_of(fake)
    assert "cmsis_nn/add.cc" in kernel_names(stale, ["ADD"], "cmsis_nn")   # ... unnoticed
    assert stale.scans == 0
    (fake / "tflite-micro" / tflm.STAMP_NAME).write_text('{"commit": "3333"}')
    fresh = tree_of(fake)
    assert kernel_names(fresh, ["ADD"], "cmsis_nn") == ["add.cc", "add_common.cc",
                                                       "decompress.cc"]
    assert fresh.scans == 1
    (fake / "CMSIS-NN" / tflm.STAMP_NAME).write_text('{"commit": "4444"}')
    again = tree_of(fake)
    again.ops_supported()
    assert again.scans == 1


def test_a_tree_without_stamp_is_keyed_by_its_files(fake):
    (fake / "tflite-micro" / tflm.STAMP_NAME).unlink()
    assert tree_of(fake).ops_supported() == ["ADD", "CIRCULAR_BUFFER", "CONV_2D"]
    reader = tree_of(fake)
    reader.ops_supported()
    assert reader.scans == 0
    resolver = fake / "tflite-micro" / MICRO / "micro_mutable_op_resolver.h"
    resolver.write_text(RESOLVER.replace("AddAdd(", "AddAdd2(").replace(
        "BuiltinOperator_ADD,", "BuiltinOperator_ADD_TWO,"))
    os.utime(resolver, ns=(time.time_ns() + 10**9,) * 2)
    changed = tree_of(fake)
    assert "ADD_TWO" in changed.ops_supported() and changed.scans == 1


def test_a_damaged_cache_file_is_rebuilt(fake):
    tree_of(fake).ops_supported()
    cache = fake / "build" / "tflm-index.json"
    cache.write_text("{not json")
    tree = tree_of(fake)
    assert tree.ops_supported() == ["ADD", "CIRCULAR_BUFFER", "CONV_2D"] and tree.scans == 1
    assert json.loads(cache.read_text())["key"]["format"] == tflm.INDEX_FORMAT


def test_without_cmsis_nn_only_the_reference_kernels_work(fake):
    shutil.rmtree(fake / "CMSIS-NN")
    tree = tree_of(fake)
    assert [g.name for g in tree.groups(["CONV_2D"])] == ["core", "kernels"]
    with pytest.raises(UserError, match="scons deps"):
        tree.groups(["CONV_2D"], "cmsis_nn")


def test_a_directory_that_is_no_tflm_tree_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="scons deps"):
        TflmTree(tmp_path / "nothing").ops_supported()


def test_top_level_definitions_of_c():
    code = c_scan.drop_preprocessor(c_scan.strip_comments(textwrap.dedent("""\
        #include "x.h"
        extern "C" {
        typedef struct { int a; } pair;
        static int hidden(int x) { if (x) { return 1; } return 0; }
        const int table[2][2] = { {1, 2}, {3, 4} };
        int visible(const pair *p,
                    int (*fn)(int))   /* { not a brace */
        {
            return fn(p->a);
        }
        }
        """)))
    found = {name: static for name, static, _ in c_scan.top_level_definitions(code)}
    assert found == {"hidden": True, "table": False, "visible": False}


# --- the real, pinned trees ----------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
THIRD_PARTY = ROOT / "third_party"
REAL_REASON = "third_party/tflite-micro is absent: run `scons deps` (MIRROR=<dir> offline)"
needs_tflm = pytest.mark.skipif(not (THIRD_PARTY / "tflite-micro" / MICRO).is_dir(),
                                reason=REAL_REASON)
needs_cmsis_nn = pytest.mark.skipif(not (THIRD_PARTY / "CMSIS-NN" / "Source").is_dir(),
                                    reason="third_party/CMSIS-NN is absent: run `scons deps` "
                                           "(MIRROR=<dir> offline)")
MNIST = ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
EXTRA = ["DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D"]


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    cache = tmp_path_factory.mktemp("tflm") / "tflm-index.json"
    return TflmTree.from_third_party(THIRD_PARTY, cache_path=cache)


@needs_tflm
def test_real_core_sources(real):
    core = rel(real.core_sources(), real.root)
    assert f"{MICRO}/cortex_m_generic/debug_log.cc" in core
    assert f"{MICRO}/cortex_m_generic/micro_time.cc" in core
    assert f"{MICRO}/micro_interpreter.cc" in core
    assert "tensorflow/compiler/mlir/lite/schema/schema_utils.cc" in core
    assert "tensorflow/lite/core/api/flatbuffer_conversions.cc" in core
    assert f"{MICRO}/debug_log.cc" not in core and f"{MICRO}/test_helpers.cc" not in core
    assert not [path for path in core if path.endswith("_test.cc")]
    assert len(core) == 41


@needs_tflm
def test_real_mnist_kernels_reference(real):
    assert kernel_names(real, MNIST) == [
        "conv.cc", "conv_common.cc",
        "fully_connected.cc", "fully_connected_common.cc", "kernel_util.cc",
        "pooling.cc", "pooling_common.cc", "reshape.cc", "reshape_common.cc",
        "softmax.cc", "softmax_common.cc"]
    assert [g.name for g in real.groups(MNIST)] == ["core", "kernels"]


def test_a_file_wholly_inside_an_ifdef_is_found():
    conditional = c_scan.wholly_conditional
    assert conditional("/* licence */\n#ifdef USE_X\n#include <a.h>\n#if Y\nint a;\n#endif\n"
                       "int b;\n#endif  // USE_X\n\n") == "USE_X"
    assert conditional("#ifdef USE_X\nint a;\n#endif\nint b;\n#ifdef USE_X\n#endif\n") is None
    assert conditional("#include <a.h>\n#ifdef USE_X\nint a;\n#endif\n") is None
    assert conditional("#ifndef GUARD\nint a;\n#endif\n") is None
    assert conditional("") is None


@needs_tflm
def test_real_kernel_files_wholly_inside_an_ifdef_are_left_out(real):
    # TFLM's compression (USE_TFLM_COMPRESSION, which no build defines): the
    # Makefile compiles these files to empty objects.
    assert real.index["conditional_kernel_files"] == {
        "decompress.cc": "USE_TFLM_COMPRESSION", "decompress_common.cc": "USE_TFLM_COMPRESSION"}
    assert "decompress.cc" not in kernel_names(real, MNIST + EXTRA, "cmsis_nn")


@needs_tflm
@needs_cmsis_nn
def test_real_mnist_kernels_cmsis_nn(real):
    names = kernel_names(real, MNIST, "cmsis_nn")
    assert [n for n in names if n.startswith("cmsis_nn/")] == [
        "cmsis_nn/conv.cc", "cmsis_nn/fully_connected.cc", "cmsis_nn/pooling.cc",
        "cmsis_nn/softmax.cc"]
    assert "conv.cc" not in names and "reshape.cc" in names and "conv_common.cc" in names
    cmsis = {os.path.basename(p) for p in real.cmsis_nn_sources(MNIST)}
    assert {"arm_convolve_wrapper_s8.c", "arm_nn_mat_mult_kernel_s8_s16.c",
            "arm_max_pool_s8.c", "arm_fully_connected_s8.c", "arm_softmax_s8.c"} <= cmsis
    assert "arm_elementwise_add_s8.c" not in cmsis and "arm_depthwise_conv_s8.c" not in cmsis
    assert len(cmsis) < len(real.cmsis_nn_sources())
    groups = {g.name: g for g in real.groups(MNIST, "cmsis_nn")}
    assert len(groups["cmsis_nn"].sources) == len(cmsis)


@needs_tflm
@needs_cmsis_nn
def test_real_extra_operators_pull_in_their_files(real):
    assert set(kernel_names(real, MNIST + EXTRA)) - set(kernel_names(real, MNIST)) == {
        "add.cc", "add_common.cc", "depthwise_conv.cc", "depthwise_conv_common.cc"}
    assert set(kernel_names(real, MNIST + EXTRA, "cmsis_nn")) - set(
        kernel_names(real, MNIST, "cmsis_nn")) == {
        "cmsis_nn/add.cc", "cmsis_nn/depthwise_conv.cc", "depthwise_conv_common.cc"}
    extra = {os.path.basename(p) for p in real.cmsis_nn_sources(MNIST + EXTRA)} - {
        os.path.basename(p) for p in real.cmsis_nn_sources(MNIST)}
    assert {"arm_depthwise_conv_wrapper_s8.c", "arm_elementwise_add_s8.c"} <= extra


@needs_tflm
def test_real_unknown_operator(real):
    with pytest.raises(UserError) as error:
        real.kernel_sources(MNIST + ["NOT_AN_OP"])
    assert "NOT_AN_OP" in str(error.value) and "TFLM lacks" in str(error.value)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "UNIDIRECTIONAL_SEQUENCE_LSTM"} <= set(
        real.ops_supported())


@needs_tflm
def test_real_cache_is_reused_and_follows_the_stamp(tmp_path):
    cache = tmp_path / "index.json"
    first = TflmTree.from_third_party(THIRD_PARTY, cache_path=cache)
    expected = first.kernel_sources(MNIST)
    assert first.scans == 1
    start = time.perf_counter()
    second = TflmTree.from_third_party(THIRD_PARTY, cache_path=cache)
    assert second.kernel_sources(MNIST) == expected and second.scans == 0
    assert time.perf_counter() - start < 0.1          # a no-op scons run pays this
    # The cache names the stamp it was made from; another stamp means a rescan.
    data = json.loads(cache.read_text())
    assert data["key"]["tflm"].startswith("stamp:")
    data["key"]["tflm"] = "stamp:another-commit"
    cache.write_text(json.dumps(data))
    third = TflmTree.from_third_party(THIRD_PARTY, cache_path=cache)
    assert third.kernel_sources(MNIST) == expected and third.scans == 1


COMPILER = shutil.which("arm-none-eabi-g++")
DEVICE = THIRD_PARTY / "mcux-sdk" / "devices" / "MIMXRT1062"


@pytest.mark.firmware
@needs_tflm
@needs_cmsis_nn
@pytest.mark.skipif(not COMPILER, reason="arm-none-eabi-g++ is absent: "
                                         "sudo apt-get install gcc-arm-none-eabi")
@pytest.mark.skipif(not (DEVICE / "MIMXRT1062.h").is_file(), reason=REAL_REASON)
def test_real_core_compiles_as_one_unit_and_conv_with_cmsis_nn(real, tmp_path):
    cpu = ["-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard", "-mthumb",
           "-ffunction-sections", "-fdata-sections"]
    cxx = ["-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics"]
    groups = {g.name: g for g in real.groups(MNIST, "cmsis_nn", device_header="MIMXRT1062.h")}

    def compile_(group, source, output, language):
        flags = (cxx if language == "c++" else ["-std=c11"]) + cpu + [group.optimization]
        flags += [f"-D{d}" for d in group.defines]
        flags += [f"-I{d}" for d in group.include_dirs] + [f"-I{DEVICE}"]
        tool = COMPILER if language == "c++" else COMPILER.replace("g++", "gcc")
        result = subprocess.run([tool, *flags, "-c", str(source), "-o", str(output)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return output

    unity = tmp_path / "tflm_core.cc"
    unity.write_text(tflm.unity_source(groups["core"].sources))
    objects = [compile_(groups["core"], unity, tmp_path / "core.o", "c++")]
    conv = [p for p in groups["kernels"].sources if p.endswith("cmsis_nn/conv.cc")]
    objects.append(compile_(groups["kernels"], conv[0], tmp_path / "conv.o", "c++"))
    symbols = subprocess.run([COMPILER.replace("g++", "nm"), "-C", *map(str, objects)],
                             capture_output=True, text=True, check=True).stdout
    assert "T tflite::MicroInterpreter::Invoke()" in symbols
    assert "T tflite::Register_CONV_2D()" in symbols
    assert "U arm_convolve_wrapper_s8" in symbols
