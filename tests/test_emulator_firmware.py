"""The real TFLM firmware in the emulator, end to end: for each configuration
it boots, answers `1` and `2` over a pseudo-terminal driven with pyserial,
and its outputs equal TFLM's host runtime on the same digit (bit-exact for
int8, within 1e-5 for float32); 100 test images through `3` (the
classify_serial tool) get the host's predictions."""
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import serial

from conftest import ROOT, layout, requires_third_party, run_scons
from teensyml import console_protocol as protocol
from teensyml.model import digit_set

pytestmark = [pytest.mark.firmware, requires_third_party]

CONFIGURATIONS = {
    "int8-reference": {"MODEL": "int8", "USE_CMSIS_NN": "0"},
    "int8-cmsis_nn": {"MODEL": "int8", "USE_CMSIS_NN": "1"},
    "float32-reference": {"MODEL": "float32", "USE_CMSIS_NN": "0"},
    "float32-cmsis_nn": {"MODEL": "float32", "USE_CMSIS_NN": "1"},
}
DIGITS = ROOT / "models" / "test_digits.npz"
FLOAT_TOLERANCE = 1e-5


def build(settings):
    run_scons(*(f"{key}={value}" for key, value in settings.items()))
    path = layout(**settings).firmware["hex"]
    assert path.is_file(), f"no {path}"
    return path


@pytest.fixture(scope="module", params=list(CONFIGURATIONS))
def emulated(request):
    """(serial port on the emulator's pty, configuration name), the firmware booted."""
    firmware = build(CONFIGURATIONS[request.param])
    process = subprocess.Popen([sys.executable, str(ROOT / "tools" / "emulate.py"),
                                str(firmware), "--pty", "--max-seconds", "3000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.fullmatch(r"emulate: console on (\S+)\n", line)
    assert match, line + process.stderr.read()
    port = serial.Serial(match.group(1), 115200, timeout=0.2)
    yield port, request.param
    port.close()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130, process.stderr.read()


def exchange(port, command, end, timeout=600):
    """The answer to `command`, as text with LF line ends, once `end` (a
    console_protocol pattern) shows it is complete."""
    port.reset_input_buffer()
    port.write(command)
    received, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        received += port.read(port.in_waiting or 1)
        text = received.decode(errors="replace").replace("\r\n", "\n")
        if end.search(text):
            return text
    raise AssertionError(f"no answer to {command!r}: {received!r}")


def test_command_1_describes_the_model(emulated):
    port, configuration = emulated
    description = protocol.parse_description(exchange(port, protocol.INFO, protocol.INFO_END))
    dtype, kernels = configuration.split("-")
    size = 1 if dtype == "int8" else 4
    assert description.inputs == (protocol.Tensor(0, dtype, (1, 28, 28, 1),
                                                  description.input.scale,
                                                  description.input.zero_point, 784 * size,
                                                  "serving_default_image:0"),)
    assert [(tensor.dtype, tensor.shape, tensor.bytes) for tensor in description.outputs] \
        == [(dtype, (1, 10), 10 * size)]
    assert description.kernels == kernels
    assert 0 < description.arena_used <= description.arena_size


def test_command_2_matches_the_host_runtime(emulated):
    port, configuration = emulated
    digits = digit_set.load(str(DIGITS))
    name = protocol.parse_description(exchange(port, protocol.INFO, protocol.INFO_END)).model
    result = protocol.parse_result(exchange(port, protocol.INFER_BUILTIN, protocol.RESULT_END))
    assert len(result.layers) == 9 and all(layer.cycles > 0 for layer in result.layers)
    assert result.total_cycles >= sum(layer.cycles for layer in result.layers)
    index = digits.builtin_test_index
    assert index < len(digits.images), "the test digits must include the built-in digit"
    expected = digits.outputs[name][index]
    ours = np.array(result.outputs, dtype=np.float64)
    if expected.dtype.kind == "i":
        assert np.array_equal(ours.astype(np.int64), expected.astype(np.int64)), \
            f"{configuration}: {ours} != host {expected}"
    else:
        assert np.max(np.abs(ours - expected)) <= FLOAT_TOLERANCE, \
            f"{configuration}: {ours} vs host {expected}"
    assert result.predicted == int(digits.predicted[name][index]) == digits.builtin_label
    assert result.label == digits.builtin_label


def test_hundred_images_agree_with_the_host(emulated):
    port, configuration = emulated
    path = port.port
    port.close()                   # the tool opens the port itself
    try:
        result = subprocess.run([sys.executable, str(ROOT / "tools" / "classify_serial.py"),
                                 f"PORT={path}", "--count", "100", "--digits", str(DIGITS)],
                                capture_output=True, text=True, timeout=3000)
    finally:
        port.open()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agree with TFLM's host runtime on 100/100" in result.stdout


def test_scons_emulate_runs_the_configuration():
    result = run_scons("emulate", "USE_CMSIS_NN=1", "SEND=2", r"EXPECT=predicted: \d",
                       "MAX_SECONDS=300", "STATS=1", "BETWEEN=tflite::MicroInterpreter::Invoke")
    assert re.search(r"predicted: \d", result.stdout)
    invoke = re.search(r"MicroInterpreter::Invoke\(\) \(1 call\): ([\d,]+) instructions",
                       result.stderr)
    assert invoke and int(invoke.group(1).replace(",", "")) > 1_000_000
