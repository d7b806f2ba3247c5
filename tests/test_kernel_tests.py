"""`scons kernel-tests` (teensyml.kernel_tests): which TFLM kernel test files
exist and what they need, OPS= selection, reading TFLM's test output, the
report; then real builds of a few test files with both kernel sets."""
import json

import pytest

from conftest import layout, requires_third_party, run_scons
from teensyml import kernel_tests as kt, options
from teensyml.errors import UserError
from teensyml.options import OPTIONS_BY_KEY, resolve

MAKEFILE = """\
# comment: $(eval $(call microlite_test,kernel_nothing_test,x_test.cc))
$(eval $(call microlite_test,kernel_conv_test,\\
  $(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/conv_test.cc \\
  $(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/conv_test_common.cc \\
  $(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/testdata/conv_test_data.cc,\\
  $(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/conv_test.h))

$(eval $(call microlite_test,kernel_lstm_test,\\
  $(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/lstm_test.cc \\
  $(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/testdata/lstm_test_data.cc,\\
  $(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/testdata/lstm_test_data.h))

MICROLITE_KERNEL_SIMPLE_TEST_SRCS := \\
$(TENSORFLOW_ROOT)tensorflow/lite/micro/kernels/pooling_test.cc
"""
K = kt.KERNEL_DIR
OPS_INDEX = {
    "CONV_2D": {"register": "Register_CONV_2D", "method": "AddConv2D", "file": "conv.cc"},
    "MAX_POOL_2D": {"register": "Register_MAX_POOL_2D", "method": "AddMaxPool2D",
                    "file": "pooling.cc"},
    "AVERAGE_POOL_2D": {"register": "Register_AVERAGE_POOL_2D",
                        "method": "AddAveragePool2D", "file": "pooling.cc"},
    "ADD": {"register": "Register_ADD", "method": "AddAdd", "file": "add.cc"},
    "WHILE": {"register": "Register_WHILE", "method": "AddWhile", "file": "while.cc"},
    "FULLY_CONNECTED": {"register": "Register_FULLY_CONNECTED",
                        "method": "AddFullyConnected", "file": "fully_connected.cc"},
}


def test_makefile_extra_sources():
    extras = kt.extra_sources(MAKEFILE)
    assert extras == {
        f"{K}/conv_test.cc": (f"{K}/conv_test_common.cc", f"{K}/testdata/conv_test_data.cc"),
        f"{K}/lstm_test.cc": (f"{K}/testdata/lstm_test_data.cc",),
    }


def test_operators_from_register_calls_and_resolver_methods():
    registers = {entry["register"]: [op] for op, entry in OPS_INDEX.items()}
    text = ("tflite::Register_CONV_2D(); Register_FULLY_CONNECTED_INT8 ();"
            " Register_NOT_A_KERNEL(); resolver.AddWhile(); resolver . AddAdd();")
    assert kt.ops_of(text, registers) == ("CONV_2D", "FULLY_CONNECTED")
    methods = {entry["method"]: [op] for op, entry in OPS_INDEX.items()}
    assert kt.methods_of(text, methods) == ("ADD", "WHILE")


def make_tree(root):
    """A small TFLM-shaped tree: four test files, one with an extra source
    that is missing, and kernel headers that select kernel files."""
    kernels = root / K
    (kernels / "testdata").mkdir(parents=True)
    (kernels / "Makefile.inc").write_text(MAKEFILE)
    (root / "tensorflow/lite/micro/micro_mutable_op_resolver.h").write_text(
        '#include "tensorflow/lite/micro/kernels/micro_ops.h"\n')
    (kernels / "micro_ops.h").write_text('#include "tensorflow/lite/micro/kernels/add.h"\n')
    (kernels / "conv.h").write_text("")
    (kernels / "add.h").write_text("")
    (kernels / "conv_test.h").write_text('#include "tensorflow/lite/micro/kernels/conv.h"\n')
    (kernels / "conv_test_common.cc").write_text("")
    (kernels / "testdata/conv_test_data.cc").write_text("")
    (kernels / "conv_test.cc").write_text(
        '#include "tensorflow/lite/micro/kernels/conv_test.h"\n'
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n'
        "auto r = tflite::Register_CONV_2D();\n")
    (kernels / "pooling_test.cc").write_text("Register_MAX_POOL_2D(); Register_AVERAGE_POOL_2D();")
    (kernels / "lstm_test.cc").write_text("")
    (kernels / "while_test.cc").write_text("resolver.AddWhile(); resolver.AddAdd();")
    (kernels / "decompress_test.cc").write_text("")
    return root


def test_scan_finds_each_test_file_and_what_it_needs(tmp_path):
    tests = {test.name: test for test in kt.scan(str(make_tree(tmp_path)), OPS_INDEX)}
    assert sorted(tests) == ["conv", "decompress", "lstm", "pooling", "while"]
    conv = tests["conv"]
    assert conv.stem == "conv_test" and conv.path == f"{K}/conv_test.cc"
    assert conv.ops == conv.needs == ("CONV_2D",)
    assert conv.extra_sources == (f"{K}/conv_test_common.cc", f"{K}/testdata/conv_test_data.cc")
    # conv.h selects conv.cc; not add.h behind the resolver's micro_ops.h, and
    # not its own extra source conv_test_common.cc.
    assert "conv.cc" in conv.kernel_seeds and "add.cc" not in conv.kernel_seeds
    assert "conv_test_common.cc" not in conv.kernel_seeds
    assert not conv.not_built
    assert tests["pooling"].ops == ("AVERAGE_POOL_2D", "MAX_POOL_2D")
    # while_test tests WHILE (while.cc is its namesake) and needs ADD too.
    assert tests["while"].ops == ("WHILE",)
    assert tests["while"].needs == ("ADD", "WHILE")
    assert "lstm_test_data.cc" in tests["lstm"].not_built       # missing extra source
    assert "ENABLE_COMPRESSION" in tests["decompress"].not_built
    chosen = [tests["conv"], tests["while"], tests["decompress"]]
    assert kt.selected_ops(chosen) == ["ADD", "CONV_2D", "WHILE"]
    assert "conv.cc" in kt.selected_seeds(chosen)


def test_scan_without_a_tree_says_run_scons_deps(tmp_path):
    with pytest.raises(UserError, match="scons deps"):
        kt.scan(str(tmp_path), OPS_INDEX)


TESTS = [kt.TestFile("conv", f"{K}/conv_test.cc", ("CONV_2D",)),
         kt.TestFile("pooling", f"{K}/pooling_test.cc", ("AVERAGE_POOL_2D", "MAX_POOL_2D")),
         kt.TestFile("add", f"{K}/add_test.cc", ("ADD",)),
         kt.TestFile("decompress", f"{K}/decompress_test.cc", (), not_built="no")]


def test_select_by_ops_option_and_by_model():
    assert [t.name for t in kt.select(TESTS, "all")] == ["conv", "pooling", "add", "decompress"]
    assert [t.name for t in kt.select(TESTS, " pooling, conv,pooling ")] == ["pooling", "conv"]
    assert [t.name for t in kt.select(TESTS, "", ["MAX_POOL_2D", "CONV_2D", "RESHAPE"])] == \
        ["conv", "pooling"]
    assert [t.name for t in kt.buildable(TESTS)] == ["conv", "pooling", "add"]


@pytest.mark.parametrize("ops", ["conv,frobnicate", "conv_test", "CONV", ","])
def test_a_bad_ops_name_is_one_paragraph_listing_the_valid_names(ops):
    with pytest.raises(UserError) as error:
        kt.select(TESTS, ops)
    message = str(error.value)
    assert f"OPS={ops} is not valid" in message and "\n" not in message
    assert "all" in message and "conv, pooling, add, decompress" in message


def test_a_model_with_no_tested_operator_is_refused():
    with pytest.raises(UserError, match="OPS=all"):
        kt.select(TESTS, "", ["RESHAPE"], "mnist_x")


def test_kernel_tests_build_with_tflm_messages():
    """TFLM's tests report through MicroPrintf: BUILD=release compiles it out."""
    assert resolve({}, ["kernel-tests"])["BUILD"] == kt.BUILD == "release_with_logs"
    assert resolve({"BUILD": "debug"}, ["kernel-tests"])["BUILD"] == "debug"
    assert resolve({}, ["emulate"])["BUILD"] == "release"
    assert resolve({"BUILD": "release"}, ["emulate"])["BUILD"] == "release"
    with pytest.raises(UserError) as error:
        resolve({"BUILD": "release"}, ["kernel-tests", "fixture"])
    assert str(error.value) == (
        "`scons kernel-tests` cannot use BUILD=release: TFLM's tests report through "
        "MicroPrintf, which that build type compiles out. Leave BUILD= out (kernel-tests "
        "uses release_with_logs) or give one of: release_with_logs, debug.")
    with pytest.raises(UserError, match="choose one of"):
        resolve({"BUILD": "fast"}, ["kernel-tests"])
    values = resolve({}, ["kernel-tests"])
    assert kt.variant_name(values) == "reference"
    assert kt.variant_name(resolve({"BUILD": "debug"}, ["kernel-tests"])) == "reference-debug"
    # The firmware's directories spell every build type but the table's default.
    assert "release_with_logs" in options.variant_name(values)


def test_ops_is_one_option_of_the_table():
    option = OPTIONS_BY_KEY["OPS"]
    assert option.group == "kernel-tests" and option.default == ""
    assert resolve({"OPS": "conv,pooling"})["OPS"] == "conv,pooling"


# --- TFLM's output ---------------------------------------------------------------------

V2_PASSED = """\
[==========] Running tests.\r
[ RUN      ] ConvTest.Simple\r
conv.cc:12 some expected error message\r
[       OK ] ConvTest.Simple\r
[ RUN      ] ConvTest.Other\r
[       OK ] ConvTest.Other\r
[==========] 2 tests ran.\r
[  PASSED  ] 2 tests.\r
~~~ALL TESTS PASSED~~~
"""

V2_FAILED = """\
[==========] Running tests.
[ RUN      ] LstmTest.Int8
lstm_test.cc:40: Failure
  Expression:  output[i] == expected[i]
  Evaluated:   3 == 4
[  FAILED  ] LstmTest.Int8
[ RUN      ] LstmTest.Float
[       OK ] LstmTest.Float
[==========] 2 tests ran.
[  PASSED  ] 1 tests.
[  FAILED  ] 1 tests, listed below:
[  FAILED  ] LstmTest.Int8
"""


def test_all_passed_v2():
    result = kt.parse_output("conv", V2_PASSED)
    assert result.status == "passed" and (result.passed, result.total) == (2, 2)
    assert result.tests == [["ConvTest.Simple", "passed"], ["ConvTest.Other", "passed"]]
    assert result.failures == []


def test_some_failed_v2_names_the_test_and_the_first_failure():
    result = kt.parse_output("lstm", V2_FAILED)
    assert result.status == "failed" and (result.passed, result.total) == (1, 2)
    assert result.tests == [["LstmTest.Int8", "failed"], ["LstmTest.Float", "passed"]]
    assert result.reason == "1 of 2 failed: LstmTest.Int8; first: lstm_test.cc:40: Failure"


def test_micro_test_v1_format():
    passed = kt.parse_output("a", "Testing One\r\nTesting Two\r\n2/2 tests passed\r\n"
                                  "~~~ALL TESTS PASSED~~~\n\r\n")
    assert passed.status == "passed" and (passed.passed, passed.total) == (2, 2)
    failed = kt.parse_output("a", "Testing One\r\nx == y failed at a.cc:3 (1 vs 2)\r\n"
                                  "Testing Two\r\n1/2 tests passed\r\n~~~SOME TESTS FAILED~~~\n")
    assert failed.status == "failed"
    assert failed.tests == [["One", "failed"], ["Two", "passed"]]
    assert "One" in failed.reason and "a.cc:3" in failed.reason


def test_a_crash_inside_a_test_fails_that_test_with_the_reason():
    text = V2_PASSED.split("[ RUN      ] ConvTest.Other")[0] + "[ RUN      ] ConvTest.Other\n"
    result = kt.parse_output("conv", text, "emulator: crash: BusFault: precise data bus error")
    assert result.status == "failed"
    assert result.tests == [["ConvTest.Simple", "passed"], ["ConvTest.Other", "failed"]]
    assert result.reason.startswith("emulator: crash: BusFault")
    assert "in test ConvTest.Other" in result.reason


def test_passed_line_then_a_limit_is_still_a_failure():
    # The end line arrived but the emulator reports a problem: not a pass.
    assert kt.parse_output("conv", V2_PASSED, "emulator: time limit").status == "failed"


def test_no_output_at_all():
    result = kt.parse_output("conv", "")
    assert result.status == "failed" and result.total == 0
    assert "before its first test" in result.reason


def test_report_lines_summary_and_exit_status():
    results = [kt.parse_output("conv", V2_PASSED), kt.parse_output("lstm", V2_FAILED),
               kt.FileResult("decompress", "not built", reason="needs compression")]
    lines, status = kt.report(results, "reference kernels, OPS=all")
    assert status == 1
    assert lines[0].split()[:3] == ["passed", "conv_test", "2/2"]
    assert lines[1].split()[:2] == ["FAILED", "lstm_test"]
    assert "needs compression" in lines[2]
    assert lines[-1] == ("kernel-tests (reference kernels, OPS=all): 3 test files: 1 passed, "
                         "1 failed, 1 not built")
    assert kt.report(results[:1] + results[2:], "x")[1] == 0
    again = kt.FileResult.from_json(results[1].to_json())
    assert again == results[1]


# --- the emulator's side: crash, hang, an early return --------------------------------------

def run_code(assemble, source, **limits):
    from teensy_images import code_image
    return kt.run_loaded("probe", code_image(assemble(source)), **limits)


def test_a_crash_is_a_failure_with_the_fault(assemble):
    result, log = run_code(assemble, "ldr r0, =0x10000000\nldr r1, [r0]\nb .\n.ltorg")
    assert result.status == "failed"
    assert "BusFault" in result.reason and "before its first test" in result.reason
    assert "BusFault" in log


def test_a_hang_stops_at_the_time_limit(assemble):
    result, _ = run_code(assemble, "b .", max_seconds=0.3)
    assert result.status == "failed" and "time limit" in result.reason


def test_returning_without_the_summary_is_a_failure(assemble):
    result, _ = run_code(assemble, "wfi\nb .")
    assert result.status == "failed"
    assert result.reason.startswith("main() returned without the tests summary")


# --- real builds --------------------------------------------------------------------------

def results_of(directory, names):
    return {name: json.loads((directory / f"{name}_test.result.json").read_text())
            for name in names}


@requires_third_party
@pytest.mark.parametrize("use_cmsis_nn", ["0", "1"])
def test_real_kernel_tests_pass_on_the_emulated_board(use_cmsis_nn):
    names = ["conv", "unidirectional_sequence_lstm"]
    directory = layout(USE_CMSIS_NN=use_cmsis_nn, BUILD=kt.BUILD).kernel_tests
    run = run_scons("kernel-tests", f"OPS={','.join(names)}", f"USE_CMSIS_NN={use_cmsis_nn}")
    kernels = "CMSIS-NN" if use_cmsis_nn == "1" else "reference"
    assert (f"kernel-tests ({kernels} kernels, OPS={','.join(names)}): 2 test files: "
            f"2 passed, 0 failed, 0 not built") in run.stdout
    results = results_of(directory, names)
    # As many tests as TFLM's files define, each one run and passed.
    assert results["conv"]["status"] == "passed" and results["conv"]["total"] >= 20
    assert results["unidirectional_sequence_lstm"]["total"] >= 3
    for result in results.values():
        assert result["passed"] == result["total"] == len(result["tests"])
        assert all(status == "passed" for _, status in result["tests"])
    log = (directory / "conv_test.log").read_text()
    assert "~~~ALL TESTS PASSED~~~" in log
    linked = (directory / "conv_test.map").read_text()
    # With CMSIS-NN, our tuned arm_convolve_s8 (src/cmsis_nn_tuned/) is the one
    # linked: it hands grouped convolutions to CMSIS-NN's, renamed upstream_.
    assert ("libcmsis_nn.a(arm_convolve_s8.o) (upstream_arm_convolve_s8)" in linked) == \
        (use_cmsis_nn == "1")


@requires_third_party
def test_a_bad_ops_name_stops_scons_with_one_paragraph():
    run = run_scons("kernel-tests", "OPS=conv,nope", check=False)
    assert run.returncode == 2
    assert "error: OPS=conv,nope is not valid" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "unidirectional_sequence_lstm" in run.stderr


@requires_third_party
def test_a_not_built_test_file_is_reported_with_its_reason():
    run = run_scons("kernel-tests", "OPS=decompress")
    assert "not built  decompress_test" in run.stdout
    assert "0 passed, 0 failed, 1 not built" in run.stdout
