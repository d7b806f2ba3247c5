"""Reading .tflite files without TensorFlow, and the C++ generated from them:
the committed models, hand-made bad ones, and the table of TFLM's operators."""
import re
import shutil
import subprocess
import sys

import flatbuffers
import numpy as np
import pytest

from conftest import ROOT, THIRD_PARTY, requires_third_party, run_scons
from teensyml.model import digit_set, firmware_model, codegen as model_codegen, tflm_ops
from teensyml.errors import UserError
from teensyml.model.tflite_model import load_schema, read_model

MODELS = ROOT / "models"
MNIST_OPERATORS = ("CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "RESHAPE",
                   "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX")
MNIST_OP_SET = ("CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "RESHAPE", "SOFTMAX")
MNIST_METHODS = {"AddConv2D", "AddFullyConnected", "AddMaxPool2D", "AddReshape", "AddSoftmax"}


def committed(kind):
    return MODELS / f"mnist_{kind}.tflite"


def edited_model(path, edit):
    """A copy of the model at `path`, changed by `edit(ModelT)` and packed
    again with the flatbuffers builder."""
    schema = load_schema()
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    edit(model, schema)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def replace_operator(name, builtin_code=None, custom_code=None):
    def edit(model, schema):
        code = next(c for c in model.operatorCodes
                    if c.builtinCode == getattr(schema.BuiltinOperator, name))
        new = schema.BuiltinOperator.CUSTOM if custom_code else builtin_code
        code.builtinCode = code.deprecatedBuiltinCode = new
        code.customCode = custom_code
    return edit


# --- reading ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind,dtype", [("int8", "int8"), ("float32", "float32")])
def test_committed_model_info(kind, dtype):
    info = read_model(committed(kind))
    assert info.operators == MNIST_OPERATORS
    assert info.distinct_operators == MNIST_OP_SET
    assert info.custom_operators == ()
    assert info.schema_version == 3
    assert info.inputs[0].shape == (1, 28, 28, 1) and info.outputs[0].shape == (1, 10)
    assert info.inputs[0].dtype == info.outputs[0].dtype == dtype
    assert info.size == committed(kind).stat().st_size
    if kind == "int8":
        assert info.inputs[0].scale == pytest.approx(1 / 255)
        assert info.inputs[0].zero_point == -128
        assert info.outputs[0].scale == pytest.approx(1 / 256)
    else:
        assert info.inputs[0].scale is None


@pytest.mark.parametrize("kind", ["int8", "float32"])
def test_committed_report_matches_the_file(kind):
    import json
    report = json.loads((MODELS / f"mnist_{kind}.json").read_text())
    info = read_model(committed(kind))
    assert report["sha256"] == info.sha256 and report["size_bytes"] == info.size
    assert tuple(report["operators"]) == info.operators
    assert report["input"] == info.inputs[0].as_dict()
    assert report["accuracy"]["tflm_host"] >= 0.98
    assert report["accuracy"]["test_images"] == 10000


def test_committed_test_digits_belong_to_the_committed_models():
    digits = digit_set.load(str(MODELS / digit_set.NPZ_NAME))
    assert len(digits.images) == 100 and digits.builtin_test_index < 100
    for kind in ("int8", "float32"):
        name = f"mnist_{kind}"
        assert digits.model_sha256[name] == read_model(committed(kind)).sha256
        assert digits.outputs[name].dtype == np.dtype(kind)
        # The host reference classifies the built-in 8 and nearly all 100 right.
        assert digits.predicted[name][digits.builtin_test_index] == 8
        assert np.mean(digits.predicted[name] == digits.labels) >= 0.95


def test_reading_does_not_import_tensorflow():
    code = ("import sys; from teensyml.model.tflite_model import read_model; "
            f"read_model({str(committed('int8'))!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tflite_micro', 'keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "site_scons")}, check=True)
    assert result.stdout.strip() == "[]"


def test_not_a_tflite_file(tmp_path):
    text = tmp_path / "notes.tflite"
    text.write_text("this is not a model, just some text in a file\n")
    with pytest.raises(UserError, match="not a TensorFlow Lite model.*TFL3"):
        read_model(text)


@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.97])
def test_truncated_model(tmp_path, fraction):
    data = committed("int8").read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(UserError, match="truncated or damaged"):
        read_model(cut)


def test_missing_model(tmp_path):
    with pytest.raises(UserError, match="Cannot read the model"):
        read_model(tmp_path / "absent.tflite")


# --- the generated C++ ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["int8", "float32"])
def test_generated_op_resolver_for_committed_models(tmp_path, kind):
    model_codegen.write_model_sources(str(committed(kind)), str(tmp_path))
    header = (tmp_path / "op_resolver.h").read_text()
    source = (tmp_path / "op_resolver.cc").read_text()
    assert "constexpr unsigned int kModelOpCount = 5u;" in header
    assert "constexpr unsigned int kModelLayerCount = 9u;" in header
    assert "tflite::MicroMutableOpResolver<kModelOpCount>" in header
    calls = re.findall(r"resolver\.(Add\w+)\(([\w:]*)(?:\(\))?\)", source)
    assert {method for method, _ in calls} == MNIST_METHODS and len(calls) == 5
    assert re.findall(r'^    "(\w+)",$', source, re.M) == list(MNIST_OP_SET)
    # int8: every operator but RESHAPE has one type path, and its own kernel.
    specialised = {method: argument for method, argument in calls if argument}
    expected = {"AddConv2D": "tflite::Register_CONV_2D_INT8",
                "AddFullyConnected": "tflite::Register_FULLY_CONNECTED_INT8",
                "AddMaxPool2D": "tflite::Register_MAX_POOL_2D_INT8",
                "AddSoftmax": "tflite::Register_SOFTMAX_INT8"}
    assert specialised == (expected if kind == "int8" else {})
    assert "// RESHAPE: generic: TFLM has no type-specialised kernel for it." in source


@pytest.mark.parametrize("operator, signatures, expected, why", [
    ("CONV_2D", [(("INT8", "INT8", "INT32"), ("INT8",))], "Register_CONV_2D_INT8",
     "every use is int8/int8"),
    ("CONV_2D", [(("INT16", "INT8", "INT64"), ("INT16",))], "Register_CONV_2D_INT16",
     "int16/int8"),
    ("FULLY_CONNECTED", [(("INT8", "INT4", ""), ("INT8",))], "Register_FULLY_CONNECTED_INT4",
     "int8/int4"),
    ("SOFTMAX", [(("INT8",), ("INT16",))], "Register_SOFTMAX_INT8_INT16", "int8/int16"),
    ("CONV_2D", [(("INT8", "INT8", "INT32"), ("INT8",)),
                 (("INT16", "INT8", "INT64"), ("INT16",))], None, "differ in type"),
    ("CONV_2D", [(("FLOAT32", "FLOAT32", "FLOAT32"), ("FLOAT32",))], None,
     "no specialised kernel for float32/float32"),
    ("RESHAPE", [(("INT8", "INT32"), ("INT8",))], None, "no type-specialised kernel"),
])
def test_registration_chooses_the_type_specialised_kernel(operator, signatures, expected,
                                                         why):
    function, reason = tflm_ops.registration(operator, signatures)
    assert function == expected and why in reason


@pytest.mark.skipif(not (THIRD_PARTY / "tflite-micro" / "tensorflow").is_dir(),
                    reason="third_party/tflite-micro is absent: run `scons deps`")
def test_specialised_registrations_exist_in_the_pinned_tflm():
    kernels = THIRD_PARTY / "tflite-micro" / "tensorflow" / "lite" / "micro" / "kernels"
    declared = set()
    for header in kernels.glob("*.h"):
        declared |= set(re.findall(r"TFLMRegistration (Register_\w+)\(\)", header.read_text()))
    names = {name for _, table in tflm_ops.SPECIALISED.values() for name in table.values()}
    assert names <= declared, names - declared


def test_generated_model_data_holds_the_file(tmp_path):
    data = committed("int8").read_bytes()
    model_codegen.write_model_sources(str(committed("int8")), str(tmp_path))
    source = (tmp_path / "model_data.cc").read_text()
    assert 'alignas(16) const unsigned char g_model_data[] ' \
           '__attribute__((section(".model_data")))' in source
    body = source[source.index("= {") + 3:source.index("};")]
    assert bytes(int(b, 16) for b in re.findall(r"0x([0-9a-f]{2})", body)) == data
    assert f"g_model_data_len = {len(data)}u;" in source
    assert f"kModelDataLen = {len(data)}u;" in (tmp_path / "model_data.h").read_text()


def test_operator_tflm_lacks_is_named(tmp_path):
    schema = load_schema()
    bad = tmp_path / "lsh.tflite"
    bad.write_bytes(edited_model(committed("int8"), replace_operator(
        "SOFTMAX", builtin_code=schema.BuiltinOperator.LSH_PROJECTION)))
    info = read_model(bad)      # a valid model, just not one TFLM can run
    assert "LSH_PROJECTION" in info.distinct_operators
    with pytest.raises(UserError) as error:
        model_codegen.write_model_sources(str(bad), str(tmp_path / "out"))
    assert "LSH_PROJECTION (builtin)" in str(error.value)
    assert "SOFTMAX" in str(error.value)          # in the list of what TFLM has
    assert not (tmp_path / "out").exists()


def test_unknown_custom_operator_is_named(tmp_path):
    bad = tmp_path / "custom.tflite"
    bad.write_bytes(edited_model(committed("int8"), replace_operator(
        "RESHAPE", custom_code=b"MyFancyReshape")))
    assert read_model(bad).custom_operators == ("MyFancyReshape",)
    with pytest.raises(UserError, match=r"MyFancyReshape \(custom\)"):
        model_codegen.read_checked_model(str(bad))


def test_custom_operator_tflm_has_is_registered(tmp_path):
    model = tmp_path / "circular.tflite"
    model.write_bytes(edited_model(committed("int8"), replace_operator(
        "RESHAPE", custom_code=b"CIRCULAR_BUFFER")))
    model_codegen.write_model_sources(str(model), str(tmp_path))
    assert "resolver.AddCircularBuffer();" in (tmp_path / "op_resolver.cc").read_text()


def test_hybrid_model_is_refused(tmp_path):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    # Big enough (4,096 weights) for the converter to quantize the weights.
    model = keras.Sequential([keras.Input((64,), batch_size=1), keras.layers.Dense(64)])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]     # no representative data
    hybrid = tmp_path / "hybrid.tflite"
    hybrid.write_bytes(converter.convert())
    with pytest.raises(UserError) as error:
        model_codegen.read_checked_model(str(hybrid))
    assert "hybrid" in str(error.value) and "FULLY_CONNECTED" in str(error.value)
    assert "int8 weights" in str(error.value)


def test_builtin_digit(tmp_path):
    paths = model_codegen.write_builtin_digit(str(MODELS / digit_set.NPZ_NAME),
                                              str(tmp_path / "builtin_digit.cc"))
    assert [p.rsplit("/", 1)[1] for p in paths] == ["builtin_digit.cc", "builtin_digit.h"]
    digits = digit_set.load(str(MODELS / digit_set.NPZ_NAME))
    assert digits.builtin_label == 8
    assert digits.builtin_test_index == 61     # the first 8 of the MNIST test set
    header = (tmp_path / "builtin_digit.h").read_text()
    assert "constexpr int kBuiltinDigitLabel = 8;" in header
    body = (tmp_path / "builtin_digit.cc").read_text()
    pixels = [int(v) for v in re.findall(r"(\d+),", body[body.index("= {"):])]
    assert pixels == list(digits.builtin_image.reshape(-1))


def test_firmware_model_resolves_the_option():
    model = firmware_model.resolve("float32", str(MODELS))
    assert model.name == "mnist_float32" and model.operators == MNIST_OP_SET
    assert model.report is not None and model.arena_bytes > 0
    own = firmware_model.resolve(str(committed("int8")), str(MODELS))
    assert own.name == "mnist_int8" and own.report["sha256"] == own.sha256


# --- the table of TFLM's operators ----------------------------------------------------------

def test_unsupported_ops_error_lists_all_of_them():
    with pytest.raises(UserError) as error:
        tflm_ops.resolver_methods(["CONV_2D", "LSH_PROJECTION", "SKIP_GRAM"], ["Foo"])
    for name in ("LSH_PROJECTION (builtin)", "SKIP_GRAM (builtin)", "Foo (custom)"):
        assert name in str(error.value)
    assert tflm_ops.resolver_methods(["CONV_2D"]) == {"CONV_2D": "AddConv2D"}


@pytest.mark.skipif(not (THIRD_PARTY / "tflite-micro" / "tensorflow").is_dir(),
                    reason="third_party/tflite-micro is absent: run `scons deps`")
def test_table_matches_the_pinned_tflm_resolver():
    from teensyml.tflm import TflmTree
    index = TflmTree(str(THIRD_PARTY / "tflite-micro")).index
    header = {op: entry["method"] for part in ("ops", "ops_elsewhere")
              for op, entry in index[part].items() if not op.startswith("Signal")}
    assert {**tflm_ops.BUILTIN_OPS, **tflm_ops.CUSTOM_OPS} == header


@pytest.mark.skipif(not shutil.which("arm-none-eabi-g++")
                    or not (THIRD_PARTY / "flatbuffers" / "include").is_dir(),
                    reason="needs arm-none-eabi-g++ and third_party (run `scons deps`)")
def test_generated_sources_compile_for_the_cortex_m7(tmp_path):
    model_codegen.write_model_sources(str(committed("int8")), str(tmp_path))
    flags = ["-std=c++17", "-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard",
             "-mfpu=fpv5-d16", "-Wall", "-Wextra", "-Werror", "-DTF_LITE_STATIC_MEMORY",
             "-I", str(tmp_path)]
    for tree in ("tflite-micro", "flatbuffers/include", "gemmlowp"):
        flags += ["-isystem", str(THIRD_PARTY / tree)]
    for name in ("model_data", "op_resolver"):
        subprocess.run(["arm-none-eabi-g++", *flags, "-c", str(tmp_path / f"{name}.cc"),
                        "-o", str(tmp_path / f"{name}.o")], check=True)
    sections = subprocess.run(["arm-none-eabi-objdump", "-h", str(tmp_path / "model_data.o")],
                              capture_output=True, text=True, check=True).stdout
    line = next(l for l in sections.splitlines() if ".model_data" in l)
    size, alignment = int(line.split()[2], 16), line.split()[-1]
    assert size == committed("int8").stat().st_size and alignment == "2**4"
    symbols = subprocess.run(["arm-none-eabi-nm", "-C", str(tmp_path / "op_resolver.o")],
                             capture_output=True, text=True, check=True).stdout
    assert "RegisterModelOps(tflite::MicroMutableOpResolver<5u>&)" in symbols


def test_scons_tool_generates_without_tensorflow(tmp_path):
    (tmp_path / "SConstruct").write_text(f"""
import sys
env = Environment(tools=[], toolpath=[{str(ROOT / 'site_scons' / 'site_tools')!r}])
env.Tool("teensy_model")
model = env.ModelInfo({str(committed('int8'))!r})
env.ModelSources("gen", model.path)
env.BuiltinDigit("gen/builtin_digit.cc", {str(MODELS / digit_set.NPZ_NAME)!r})
print("ops", ",".join(model.operators))
print("tf", any(m.split(".")[0] in ("tensorflow", "tflite_micro") for m in sys.modules))
""")
    command = [sys.executable, "-m", "SCons", "-Q", "--site-dir", str(ROOT / "site_scons"),
               "-C", str(tmp_path), "."]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ops " + ",".join(MNIST_OP_SET) in result.stdout
    assert "tf False" in result.stdout
    for name in (*model_codegen.MODEL_SOURCES, "builtin_digit.cc", "builtin_digit.h"):
        assert (tmp_path / "gen" / name).is_file()


def test_scons_stops_on_a_bad_model(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(committed("int8").read_bytes()[:5000])
    (tmp_path / "SConstruct").write_text(f"""
env = Environment(tools=[], toolpath=[{str(ROOT / 'site_scons' / 'site_tools')!r}])
env.Tool("teensy_model")
env.ModelInfo({str(bad)!r})
""")
    result = subprocess.run([sys.executable, "-m", "SCons", "-Q", "--site-dir",
                             str(ROOT / "site_scons"), "-C", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "error:" in result.stderr and "truncated or damaged" in result.stderr
    assert "Traceback" not in result.stderr


@requires_third_party
@pytest.mark.firmware
def test_int8_cmsis_nn_image_links_only_the_int8_kernels():
    """The specialised registrations reach the image: none of CMSIS-NN's int4
    or int16 convolution and fully connected paths is linked (the generic
    registrations link every type path); no float printf and no 64-bit
    division (the console formats numbers with src/tensor_console/float_format.c);
    the softmax calls CMSIS-NN's helpers rather than inlining them
    (CMSIS_NN_HELPERS_CALLED)."""
    run_scons("USE_CMSIS_NN=1")
    elf = ROOT / "build" / "int8-cmsis_nn" / "firmware.elf"
    symbols = set(subprocess.run(["arm-none-eabi-nm", "--defined-only", str(elf)],
                                 capture_output=True, text=True, check=True)
                  .stdout.split())
    assert "arm_convolve_s8" in symbols and "arm_fully_connected_s8" in symbols
    assert "arm_nn_exp_on_negative_values" in symbols
    unwanted = {"arm_convolve_s4", "arm_convolve_s16", "arm_nn_mat_mult_nt_t_s4",
                "arm_nn_mat_mult_kernel_s16", "arm_nn_vec_mat_mult_t_s4",
                "_ZN6tflite16Register_CONV_2DEv", "_printf_float", "_dtoa_r",
                "__udivmoddi4"}
    assert not unwanted & symbols, unwanted & symbols


STDIO = {"_vfprintf_r", "_svfprintf_r", "vsnprintf", "setvbuf", "printf"}


@requires_third_party
@pytest.mark.firmware
@pytest.mark.parametrize("build, variant, logged", [
    ("release", "int8-cmsis_nn", False),
    ("release_with_logs", "int8-cmsis_nn-release_with_logs", True)])
def test_release_compiles_tflm_messages_out_and_still_times_each_layer(build, variant,
                                                                       logged):
    """BUILD=release is TFLM's release (TF_LITE_STRIP_ERROR_STRINGS): no
    MicroPrintf, so no newlib stdio (the app prints without printf);
    release_with_logs keeps TFLM's messages. Both report every layer's time:
    the app times the kernels' invoke functions, not TFLM's profiler hook
    (which the stripped build compiles out)."""
    run_scons("USE_CMSIS_NN=1", f"BUILD={build}")
    elf = ROOT / "build" / variant / "firmware.elf"
    symbols = set(subprocess.run(["arm-none-eabi-nm", "--defined-only", str(elf)],
                                 capture_output=True, text=True, check=True)
                  .stdout.split())
    assert ("_Z11MicroPrintfPKcz" in symbols) == logged
    assert bool(STDIO & symbols) == logged, STDIO & symbols
    run = run_scons("emulate", "USE_CMSIS_NN=1", f"BUILD={build}", "SEND=2",
                    "EXPECT=predicted", "HEADLESS=1")
    layers = re.findall(r"^layer (\d+) (\w+) cycles=(\d+)", run.stdout, re.M)
    assert [name for _, name, _ in layers] == [
        "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "RESHAPE",
        "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    assert all(int(cycles) > 0 for _, _, cycles in layers)
    total = int(re.search(r"^total cycles=(\d+)", run.stdout, re.M).group(1))
    assert 0.9 * total < sum(int(cycles) for _, _, cycles in layers) < total
