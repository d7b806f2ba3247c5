"""A stateful model classifies every image from the model's initial state:
TFLM's LSTM example (tensorflow/lite/micro/examples/mnist_lstm, in the pinned
TFLM tree) gives the same outputs for an image whatever ran before it, with
both kernel sets, and those of TFLM's host runtime reset before every image
(docs/model.md, "The LSTM under CMSIS-NN")."""
import re

import numpy as np
import pytest

from conftest import ROOT, requires_third_party, run_scons
from teensyml import console_protocol as protocol
from teensyml.model import digit_set
from teensyml import options

pytestmark = [pytest.mark.firmware, requires_third_party]

MODEL = "third_party/tflite-micro/tensorflow/lite/micro/examples/mnist_lstm/" \
        "trained_lstm_int8.tflite"
# Test digit 9 after digit 8: before the firmware reset the state, the reference
# kernels' output for digit 9 changed by 195 (of 255) with digit 8 before it.
SEQUENCE = (9, 8, 9)


def firmware_outputs(kernels, images):
    from teensyml.emulator import Machine, ScriptedConsole, load_firmware
    settings = {"MODEL": MODEL, "USE_CMSIS_NN": kernels}
    run_scons(*(f"{key}={value}" for key, value in settings.items()))
    hex_path = ROOT / "build" / options.variant_name(options.resolve(settings)) / "firmware.hex"
    image, symbols = load_firmware(str(hex_path))
    console = ScriptedConsole(b"".join(protocol.classify_request(pixels.tobytes())
                                       for pixels in images))
    stop = Machine(image, symbols, console, timing="simple").run(max_seconds=600)
    outputs = [[int(word) for word in match.group(1).split()]
               for match in re.finditer(r"^outputs:([^\r\n]*)", console.text(), re.M)]
    assert len(outputs) == len(images), (stop.reason, stop.detail, console.text()[-500:])
    return np.array(outputs)


@pytest.fixture(scope="module")
def images():
    digits = digit_set.load(ROOT / "models" / digit_set.NPZ_NAME)
    return [np.ascontiguousarray(digits.images[index], dtype=np.uint8) for index in SEQUENCE]


@pytest.fixture(scope="module")
def outputs(images):
    return {kernels: firmware_outputs(kernels, images) for kernels in ("0", "1")}


@pytest.mark.parametrize("kernels", ["0", "1"])
def test_an_image_gives_the_same_outputs_whatever_ran_before(outputs, kernels):
    first, _, again = outputs[kernels]
    assert list(first) == list(again)


def test_both_kernel_sets_give_the_host_runtimes_outputs_reset_per_image(outputs, images):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from teensyml.model import model_input
    interpreter = runtime.Interpreter.from_file(str(ROOT / MODEL))
    quantization = interpreter.get_input_details(0)["quantization_parameters"]
    expected = []
    for pixels in images:
        interpreter.reset()
        interpreter.set_input(model_input.quantize(pixels, quantization["scales"][0],
                                                   quantization["zero_points"][0])
                              .reshape(1, 28, 28), 0)
        interpreter.invoke()
        expected.append(interpreter.get_output(0).reshape(-1).astype(int).tolist())
    assert outputs["0"].tolist() == expected
    assert outputs["1"].tolist() == expected
