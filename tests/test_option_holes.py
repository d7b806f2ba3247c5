"""No option holes: every bad value, model or place gets one paragraph and a
non-zero exit status before anything is built (or right after the link, for
what only the link can tell), never a traceback and never a silent success."""
import json
import re
import shutil
import subprocess
import sys

import flatbuffers
import numpy as np
import pytest
from serial.tools.list_ports_common import ListPortInfo

from conftest import (NEEDS_DEPS_REASON, ROOT, THIRD_PARTY, layout, requires_third_party,
                      run_scons)
from teensyml.model import firmware_model
from teensyml import options
from teensyml.emulator.cli import Settings as EmulatorSettings
from teensyml.errors import UserError
from teensyml.serial_link import candidate_ports, pick_port
from teensyml.model.tflite_model import load_schema

MODELS = ROOT / "models"
needs_toolchain = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                     reason="arm-none-eabi-gcc is not installed (./setup.sh)")


def refused(result, *texts):
    """The run failed with status 2 and one `error:` paragraph holding `texts`."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for text in texts:
        assert text in errors[0], errors[0]
    return errors[0]


# --- numbers: typed and range-checked once, in the option table ------------------------

@pytest.mark.parametrize("setting, valid", [
    ("ARENA_SIZE=0", "a whole number of bytes greater than 0, a multiple of 16, "
                     "e.g. ARENA_SIZE=65536 or 0x10000, or auto"),
    ("ARENA_SIZE=-5", "a whole number of bytes greater than 0, a multiple of 16"),
    ("ARENA_SIZE=1000", "a multiple of 16"),
    ("ARENA_SIZE=big", "or auto"),
    ("TIMEOUT=0", "a number of seconds greater than 0, e.g. TIMEOUT=60"),
    ("BAUD=fast", "a whole number greater than 0, e.g. BAUD=115200"),
    ("MAX_SECONDS=-1", "a number of seconds, 0 or more (0: no limit)"),
    ("MAX_INSTRUCTIONS=1.5", "a whole number, 0 or more (0: no limit)"),
    ("PROFILE=all", "a whole number, 0 or more (0: no list)"),
    ("TOP=-1", "a whole number, 0 or more (0: all)"),
    ("STACK_MARGIN=lots", "a whole number of bytes, 0 or more, e.g. STACK_MARGIN=4096"),
])
def test_bad_number_lists_what_is_valid(setting, valid):
    refused(run_scons("-n", setting, check=False), f"{setting} is not valid; give", valid)


def test_numbers_are_typed_when_resolved():
    values = options.resolve({"ARENA_SIZE": "0x10000", "TIMEOUT": "0.5", "BAUD": "9600",
                              "MAX_SECONDS": "1.5", "PROFILE": "0x10"})
    assert values["ARENA_SIZE"] == 65536 and values["TIMEOUT"] == 0.5
    assert values["BAUD"] == 9600 and values["PROFILE"] == 16
    defaults = options.resolve({})
    assert defaults["ARENA_SIZE"] == "auto" and defaults["TIMEOUT"] == 60.0
    assert (defaults["TOP"], defaults["STACK_MARGIN"], defaults["MAX_INSTRUCTIONS"]) == \
        (10, 4096, 0)
    # The emulator's settings take the resolved numbers.
    settings = EmulatorSettings.from_options(values, firmware="x.hex")
    assert (settings.max_seconds, settings.profile, settings.max_instructions) == (1.5, 16, 0)


@requires_third_party
def test_arena_below_the_measured_need_warns():
    needed = json.loads((MODELS / "mnist_int8.json").read_text())["arena_bytes_host"]
    result = run_scons("-n", "ARENA_SIZE=4096")
    assert f"warning: ARENA_SIZE=4096 is below the {needed:,} bytes" in result.stderr
    assert "ARENA_SIZE=auto" in result.stderr


# --- ITCM_EXTRA ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["foo;bar", "}*", "a b", "x$y"])
def test_itcm_extra_the_linker_script_cannot_hold(value):
    refused(run_scons("-n", f"ITCM_EXTRA={value}", check=False),
            f"ITCM_EXTRA={value} is not valid", "cannot be written in the linker script",
            "conv.o", "arm_nn_mat_mult*", "* ? [ ] !")


@needs_toolchain
@pytest.mark.parametrize("value, kind, candidate", [
    ("does_not_exist", "function", "tensor_describe"),
    ("nothere.o", "object", "main.o"),
])
def test_itcm_extra_matching_nothing_lists_candidates(value, kind, candidate):
    result = run_scons("fixture", f"ITCM_EXTRA={value}", check=False)
    message = refused(result, f"ITCM_EXTRA={value} asks for code this firmware does not have",
                      f"{value} matches no {kind} of this firmware", candidate, "fixture.map")
    assert "*Conv*" in message
    assert not layout(ITCM_EXTRA=value).fixture["elf"].exists()


# --- `$` in a value: never expanded by SCons -------------------------------------------------

def test_dollar_in_a_value_reaches_the_help_as_typed():
    result = run_scons("-h", "SEND=$x.", "EXPECT=^predicted: [0-9]$")
    assert "Traceback" not in result.stdout + result.stderr
    assert "actual: $x." in result.stdout
    assert "actual: ^predicted: [0-9]$" in result.stdout


@needs_toolchain
def test_dollar_in_send_reaches_the_firmware():
    result = run_scons("emulate-fixture", "SEND=$hb", "MAX_SECONDS=60")
    assert "fixture: hello" in result.stdout
    assert "Traceback" not in result.stderr


@requires_third_party
def test_dollar_in_a_model_path(tmp_path):
    model = tmp_path / "mine$x.tflite"
    shutil.copy(MODELS / "mnist_int8.tflite", model)
    elf = layout(MODEL=model).firmware["elf"].relative_to(ROOT)
    assert "$" not in str(elf)
    result = run_scons("-n", f"MODEL={model}")
    assert "Traceback" not in result.stdout + result.stderr
    assert str(elf) in result.stdout


# --- a place that cannot be written at read time -------------------------------------------

def test_cache_that_cannot_be_written_is_one_paragraph(tmp_path):
    in_the_way = tmp_path / "build"
    in_the_way.write_text("a file where the build directory should be")
    model = tmp_path / "fresh.tflite"
    shutil.copy(MODELS / "mnist_int8.tflite", model)
    with pytest.raises(UserError, match=r"^Cannot write .*: Not a directory\. Make .* "
                                        r"writable .*then run again\.$"):
        firmware_model.resolve(str(model), str(MODELS), cache_dir=str(in_the_way / "x"))


def _read_only_build_works():
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


@requires_third_party
@pytest.mark.skipif(not _read_only_build_works(),
                    reason="needs `unshare -rm` (user and mount namespaces) to mount build/ "
                           "read-only")
def test_read_only_build_directory_with_a_new_model(tmp_path):
    model = tmp_path / "fresh.tflite"
    shutil.copy(MODELS / "mnist_int8.tflite", model)
    (ROOT / "build").mkdir(exist_ok=True)
    script = ("mount --bind build build && mount -o remount,ro,bind build && "
              f"exec {sys.executable} -m SCons -Q MODEL={model}")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT,
                            capture_output=True, text=True)
    refused(result, "Cannot write", "Read-only file system", "writable")


# --- scons monitor without PORT= ----------------------------------------------------------

def serial_port(device, description, vid=None, pid=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.description, info.vid, info.pid = description, vid, pid
    return info


LEGACY = serial_port("/dev/ttyS0", "ttyS0")
ADAPTER = serial_port("/dev/ttyUSB0", "FT232R USB UART", 0x0403, 0x6001)
TEENSY = serial_port("/dev/ttyACM0", "USB Serial", 0x16C0, 0x0483)


def test_monitor_never_picks_a_legacy_port():
    assert candidate_ports([LEGACY, ADAPTER]) == [ADAPTER]
    assert pick_port("", candidate_ports([LEGACY, ADAPTER])) == "/dev/ttyUSB0"
    with pytest.raises(UserError, match=r"No USB serial port found \(legacy ports such as "
                                        r"/dev/ttyS0 are never picked.* PORT=<device>"):
        pick_port("", candidate_ports([LEGACY]))
    # The Teensy's own USB serial port wins over an adapter (issue 17's console).
    assert pick_port("", candidate_ports([TEENSY, LEGACY, ADAPTER])) == "/dev/ttyACM0"
    assert pick_port("/dev/pts/7", candidate_ports([LEGACY])) == "/dev/pts/7"


@requires_third_party
@pytest.mark.firmware
@pytest.mark.skipif(bool(candidate_ports()), reason="a USB serial port is attached here")
def test_scons_monitor_without_port_and_no_usb_serial():
    result = run_scons("monitor", check=False)
    refused(result, "No USB serial port found", "PORT=<device>")


# --- a model the app cannot use --------------------------------------------------------------

def four_class_model(path):
    """The committed int8 model with its output said to hold 4 classes."""
    schema = load_schema()
    model = schema.ModelT.InitFromPackedBuf((MODELS / "mnist_int8.tflite").read_bytes(), 0)
    graph = model.subgraphs[0]
    graph.tensors[graph.outputs[0]].shape = [1, 4]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def test_a_model_of_any_shape_is_accepted(tmp_path):
    """Command 4 feeds any input shape: a four-class model builds."""
    model = four_class_model(tmp_path / "four.tflite")
    assert firmware_model.resolve(str(model), str(MODELS)).operators


def many_outputs_model(path, count):
    """The int8 MNIST model listing its output tensor `count` times."""
    schema = load_schema()
    model = schema.ModelT.InitFromPackedBuf((MODELS / "mnist_int8.tflite").read_bytes(), 0)
    graph = model.subgraphs[0]
    graph.outputs = [graph.outputs[0]] * count
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def test_model_with_more_outputs_than_the_app_holds_is_refused(tmp_path):
    from teensyml.model import codegen as model_codegen
    limit = model_codegen.APP_MAX_TENSORS
    assert firmware_model.resolve(str(many_outputs_model(tmp_path / "ok.tflite", limit)),
                                  str(MODELS))
    with pytest.raises(UserError, match=rf"cannot run in this firmware: it has {limit + 1} "
                                        rf"outputs; the app takes at most {limit}"):
        firmware_model.resolve(str(many_outputs_model(tmp_path / "many.tflite", limit + 1)),
                               str(MODELS))


@requires_third_party
def test_scons_refuses_a_model_the_app_cannot_hold(tmp_path):
    model = many_outputs_model(tmp_path / "many.tflite", 33)
    refused(run_scons("-n", f"MODEL={model}", check=False),
            "many.tflite cannot run in this firmware", "it has 33 outputs")


def padded_model(path, extra_bytes):
    """The int8 MNIST model with an unused buffer of `extra_bytes` added."""
    schema = load_schema()
    model = schema.ModelT.InitFromPackedBuf((MODELS / "mnist_int8.tflite").read_bytes(), 0)
    padding = schema.BufferT()
    padding.data = np.zeros(extra_bytes, np.uint8)
    model.buffers.append(padding)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def test_a_model_larger_than_its_memory_is_refused_naming_one_that_holds_it(tmp_path):
    from teensyml import memory_map as mm
    big = firmware_model.resolve(str(padded_model(tmp_path / "big.tflite", 600 * 1024)),
                                 str(MODELS))
    firmware_model.check_fits(big, "flash")
    with pytest.raises(UserError, match=rf"big.tflite is [\d,]+ bytes, more than DTCM holds "
                                        rf"\({mm.DTCM.length:,} bytes\), where MODEL_MEM=dtcm "
                                        rf"puts the weights: give MODEL_MEM=flash \(1,984 KB\)"):
        firmware_model.check_fits(big, "dtcm")
    huge = firmware_model.resolve(str(padded_model(tmp_path / "huge.tflite", 2 * 1024 * 1024)),
                                  str(MODELS))
    with pytest.raises(UserError, match="no memory of the Teensy 4.0 holds it"):
        firmware_model.check_fits(huge, "flash")


@requires_third_party
def test_scons_refuses_a_model_larger_than_flash_before_compiling(tmp_path):
    model = padded_model(tmp_path / "huge.tflite", 2 * 1024 * 1024)
    result = run_scons("-n", f"MODEL={model}", check=False)
    refused(result, "huge.tflite is", "more than FLASH holds")


def test_the_build_time_check_is_the_apps():
    """model_codegen's limit is the app's constant (src/app/inference.h)."""
    from teensyml.model import codegen as model_codegen
    header = (ROOT / "src" / "app" / "inference.h").read_text()
    assert model_codegen.APP_MAX_TENSORS == int(re.search(r"kMaxModelTensors = (\d+);",
                                                          header).group(1))
