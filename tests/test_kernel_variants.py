"""The kernel variants left out of a model's firmware (teensyml/model/kernel_variants.py):
the rules on hand-made layers, the committed models, the generated C compiled
with the firmware's compiler, and (with third_party) the call graph the rules
rest on, read from CMSIS-NN's and TFLM's sources, and the real firmware's link."""
import re
import shutil
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from conftest import ROOT, THIRD_PARTY, layout, requires_third_party, run_scons
from teensyml.model import kernel_variants as kv
from teensyml.model.tflite_model import ModelInfo, Operation, TensorInfo, read_model
from teensyml.tflm.c_scan import strip_comments

ALL = {variant.function for variant in kv.VARIANTS}


def tensor(dtype="int8", shape=(1, 8, 8, 4), scales=(0.5,)):
    return TensorInfo("t", dtype, tuple(shape), tuple(scales), (0,) * len(scales))


def conv(filter_hw, dtype="int8", name="CONV_2D"):
    weights = tensor(dtype, (8,) + tuple(filter_hw) + (4,), (0.1,) * 8)
    return Operation(name, (tensor(dtype), weights, None), (tensor(dtype),))


def fully_connected(weight_scales=8, output_shape=(1, 8), dtype="int8"):
    weights = tensor(dtype, (8, 16), (0.1,) * weight_scales)
    return Operation("FULLY_CONNECTED", (tensor(dtype, (1, 16)), weights, None),
                     (tensor(dtype, output_shape),))


def model(*operations):
    return ModelInfo(path="hand_made.tflite", size=0, sha256="", schema_version=3,
                     operators=(), distinct_operators=(), custom_operators=(), inputs=(),
                     outputs=(), subgraphs=1, operations=operations)


def kept(*operations):
    """The variants the firmware keeps for a model of `operations`."""
    excluded = {variant.function for variant in kv.excluded_variants(model(*operations),
                                                                       "cmsis_nn")}
    return ALL - excluded


def test_a_3x3_int8_convolution_needs_none_of_them():
    assert kept(conv((3, 3))) == set()


def test_a_1x1_convolution_keeps_its_paths():
    assert kept(conv((1, 1))) == {"arm_convolve_1x1_s8", "arm_convolve_1_x_n_s8",
                                  "arm_nn_mat_mult_nt_t_s8"}


def test_a_1xn_convolution_keeps_the_1xn_path_only():
    assert kept(conv((1, 5))) == {"arm_convolve_1_x_n_s8"}


def test_a_depthwise_convolution_reaches_no_convolution_path_on_the_m7():
    # Only with Helium (ARM_MATH_MVEI) does the depthwise wrapper call the convolution's.
    assert kept(conv((1, 1), name="DEPTHWISE_CONV_2D")) == set()


def test_float_layers_never_reach_cmsis_nn():
    assert kept(conv((1, 1), dtype="float32"), fully_connected(1, dtype="float32")) == set()


def test_fully_connected_per_tensor_and_per_channel():
    assert kept(fully_connected(weight_scales=8)) == set()
    assert kept(fully_connected(weight_scales=1)) == {"arm_nn_vec_mat_mult_t_s8"}


def test_fully_connected_with_a_3d_output_takes_the_1x1_path():
    assert kept(fully_connected(output_shape=(1, 4, 8))) == {"arm_nn_mat_mult_nt_t_s8"}


def test_int16_max_pooling_keeps_the_int16_kernel():
    pool = lambda dtype: Operation("MAX_POOL_2D", (tensor(dtype),), (tensor(dtype),))  # noqa
    assert kept(pool("int8")) == set()
    assert kept(pool("int16")) == {"arm_max_pool_s16"}


def test_svdf_and_batch_matmul_keep_the_vector_kernel_whatever_their_types():
    for name in ("SVDF", "BATCH_MATMUL"):
        operation = Operation(name, (tensor("float32"),), (tensor("float32"),))
        assert kept(operation) == {"arm_nn_vec_mat_mult_t_s8"}


def test_a_layer_without_weights_shape_keeps_the_variants():
    unknown = Operation("CONV_2D", (tensor(), None, None), (tensor(),))
    assert kept(unknown) == {"arm_convolve_1x1_s8", "arm_convolve_1_x_n_s8",
                             "arm_nn_mat_mult_nt_t_s8", "upstream_arm_convolve_s8"}


def test_a_grouped_convolution_keeps_cmsis_nns_own_convolution():
    # Filter depth 2 against an input depth of 4: two groups, which our
    # arm_convolve_s8 hands back to CMSIS-NN's.
    weights = tensor("int8", (8, 3, 3, 2), (0.1,) * 8)
    grouped = Operation("CONV_2D", (tensor(), weights, None), (tensor(),))
    assert kept(grouped) == {"upstream_arm_convolve_s8"}


def test_a_transposed_convolution_keeps_cmsis_nns_own_convolution():
    assert kept(conv((3, 3), name="TRANSPOSE_CONV")) == {"upstream_arm_convolve_s8"}
    assert kept(conv((3, 3), dtype="float32", name="TRANSPOSE_CONV")) == set()


def test_reference_kernels_leave_nothing_out():
    assert kv.excluded_variants(model(conv((3, 3))), "reference") == ()
    with pytest.raises(ValueError, match="unknown kernel set"):
        kv.excluded_variants(model(), "cmsis")


def test_the_committed_mnist_models():
    int8 = read_model(ROOT / "models" / "mnist_int8.tflite")
    assert {v.function for v in kv.excluded_variants(int8, "cmsis_nn")} == ALL
    assert len(int8.operations_of("CONV_2D")) == 3
    float32 = read_model(ROOT / "models" / "mnist_float32.tflite")
    assert {v.function for v in kv.excluded_variants(float32, "cmsis_nn")} == ALL


def test_every_chain_of_callers_ends_at_an_operator():
    for variant in kv.VARIANTS:
        assert kv.reaching_operators(variant.function), variant.function
    assert kv.reaching_operators("arm_nn_vec_mat_mult_t_s8") == {
        "FULLY_CONNECTED", "SVDF", "BATCH_MATMUL"}


def _compile(source, tmp_path):
    compiler = shutil.which("arm-none-eabi-gcc")
    if not compiler:
        pytest.skip("arm-none-eabi-gcc is not installed (the firmware toolchain: ./setup.sh)")
    (tmp_path / "console.h").write_text("void console_puts(const char *text);\n")
    (tmp_path / "kernel_variants.c").write_text(source)
    subprocess.run([compiler, "-mcpu=cortex-m7", "-mthumb", "-Os", "-Wall", "-Wextra",
                    "-Werror", "-std=gnu11", "-c", "kernel_variants.c"],
                   cwd=tmp_path, check=True, capture_output=True, text=True)
    with open(tmp_path / "kernel_variants.o", "rb") as stream:
        symbols = ELFFile(stream).get_section_by_name(".symtab")
        return {s.name for s in symbols.iter_symbols()
                if s["st_info"]["bind"] == "STB_GLOBAL" and s["st_shndx"] != "SHN_UNDEF"}


def test_generated_c_defines_each_left_out_function(tmp_path):
    info = model(fully_connected(weight_scales=1))
    excluded = kv.excluded_variants(info, "cmsis_nn")
    source = kv.exclusions_source(excluded, info, "cmsis_nn")
    assert _compile(source, tmp_path) == ALL - {"arm_nn_vec_mat_mult_t_s8"}
    assert source.count('excluded("arm_max_pool_s16")') == 1


def test_generated_c_with_nothing_to_leave_out_compiles_empty(tmp_path):
    info = model(conv((3, 3)))
    assert _compile(kv.exclusions_source((), info, "reference"), tmp_path) == set()


# --- with third_party: the call graph and the real link -------------------------

def _calls(path, function, tmp_path):
    """Does the file call `function`? CMSIS-NN's C compiled for the M7 (its
    Helium paths fall away; the object's undefined symbols are its calls),
    TFLM's C++ read without comments."""
    if path.suffix == ".c":
        include = THIRD_PARTY / "CMSIS-NN" / "Include"
        obj = tmp_path / (path.stem + ".o")
        subprocess.run(["arm-none-eabi-gcc", "-c", "-O2", "-mcpu=cortex-m7", "-mthumb",
                        f"-I{include}", str(path), "-o", str(obj)], check=True,
                       capture_output=True, text=True)
        undefined = subprocess.run(["arm-none-eabi-nm", "--undefined-only", str(obj)],
                                   check=True, capture_output=True, text=True).stdout.split()
        return function in undefined
    return re.search(rf"\b{function}\s*\(", strip_comments(path.read_text())) is not None


@requires_third_party
def test_callers_are_those_of_the_pinned_sources(tmp_path):
    files = list((THIRD_PARTY / "CMSIS-NN" / "Source").rglob("*.c"))
    files += (THIRD_PARTY / "tflite-micro" / "tensorflow" / "lite" / "micro" / "kernels"
              / "cmsis_nn").glob("*.cc")
    files += (ROOT / "src" / "cmsis_nn_tuned").glob("*.c")        # ours (TUNED_KERNELS=1)
    for function, callers in kv.CALLERS.items():
        mentioned = [path for path in files if path.stem != function
                     and re.search(rf"\b{function}\s*\(", path.read_text())]
        found = {path.name for path in mentioned if _calls(path, function, tmp_path)}
        assert found == set(callers), function


@requires_third_party
def test_the_firmware_links_the_stops_not_the_kernels():
    run_scons("USE_CMSIS_NN=1")
    files = layout(USE_CMSIS_NN=1).firmware
    elf_path = files["elf"]
    with open(elf_path, "rb") as stream:
        symbols = {s.name: s for s in ELFFile(stream).get_section_by_name(".symtab")
                   .iter_symbols() if s["st_info"]["type"] == "STT_FUNC"}
    for function in ALL:
        stop = symbols[function]
        assert stop["st_size"] <= 16, (function, stop["st_size"])
        assert stop["st_value"] >= 0x60000000, function      # in flash, not ITCM
    map_text = files["map"].read_text()
    for function in ALL:
        assert f"libcmsis_nn.a({function}.o)" not in map_text
