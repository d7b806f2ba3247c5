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

from conftest import ROOT, requires_third_party, run_scons
from teensyml import options, test_digits
from teensyml.classify_serial import parse_answer

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
    variant = options.variant_name(options.resolve(settings))
    return ROOT / "build" / variant / "firmware.hex"


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


def exchange(port, command, pattern, timeout=600):
    port.reset_input_buffer()
    port.write(command)
    received, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        received += port.read(port.in_waiting or 1)
        if re.search(pattern, received):
            return received
        assert b"error:" not in received, received
    raise AssertionError(f"{pattern!r} did not arrive after {command!r}: {received!r}")


def model_name(port):
    answer = exchange(port, b"1", rb"arena: \d+ of \d+ bytes used\r\n")
    return re.search(rb"model: ([^,\s]+),", answer).group(1).decode(), answer


def test_command_1_describes_the_model(emulated):
    port, configuration = emulated
    name, answer = model_name(port)
    dtype = configuration.split("-")[0]
    assert re.search(rb"input: " + dtype.encode() + rb" \[1,28,28,1\]", answer), answer
    assert re.search(rb"output: " + dtype.encode() + rb" \[1,10\]", answer), answer
    kernels = b"cmsis_nn" if configuration.endswith("cmsis_nn") else b"reference"
    assert b"kernels " + kernels in answer


def test_command_2_matches_the_host_runtime(emulated):
    port, configuration = emulated
    digits = test_digits.load(str(DIGITS))
    name, _ = model_name(port)
    answer = exchange(port, b"2", rb"predicted: \d+\r\n")
    assert re.search(rb"layer 0 \S+ cycles=\d+ us=\d+\.\d{3}", answer), answer
    outputs, predicted, _ = parse_answer(answer)
    index = digits.builtin_test_index
    assert index < len(digits.images), "the test digits must include the built-in digit"
    expected = digits.outputs[name][index]
    ours = np.array([float(value) for value in outputs])
    if expected.dtype.kind == "i":
        assert np.array_equal(ours.astype(np.int64), expected.astype(np.int64)), \
            f"{configuration}: {ours} != host {expected}"
    else:
        assert np.max(np.abs(ours - expected)) <= FLOAT_TOLERANCE, \
            f"{configuration}: {ours} vs host {expected}"
    assert predicted == int(digits.predicted[name][index]) == digits.builtin_label


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
