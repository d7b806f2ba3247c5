"""`scons run-model` and command 4 on the CI fixture (our own firmware: no
third-party code), and the host side's input, comparison and error rules.
The fixture's "model" is C arithmetic (src/fixture/main.c); the outputs
printed by src/tensor_console must come back bit for bit."""
import re
import shutil
import struct
import time

import numpy as np
import pytest
import serial

from conftest import ROOT, layout, requires_third_party, run_scons
from teensyml import console_protocol as protocol
from teensyml import run_model
from teensyml.emulator import Machine, ScriptedConsole, load_firmware
from teensyml.emulator.pty_session import emulated_port
from teensyml.errors import UserError

needs_toolchain = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                     reason="arm-none-eabi-gcc is not installed (./setup.sh)")
# The fixture's inputs, as its command 1 describes them.
X0 = protocol.Tensor(0, "int8", (1, 4), 0.5, -1, 4, "fixture_x0")
X1 = protocol.Tensor(1, "float32", (2, 3), 0.0, 0, 24, "")


def fixture_expected(x0, x1):
    """What src/fixture/main.c computes: y0 = 3 x0 + 1, y1 = x1 / 2 + 0.25, y2 = x0 > 0."""
    y0 = (3 * x0.astype(np.int32) + 1).astype(np.int16)
    y1 = x1 * np.float32(0.5) + np.float32(0.25)
    return y0, y1.astype(np.float32), (x0 > 0).reshape(x0.shape[0], 4)


@pytest.fixture
def fixture_hex(fixture_firmware):
    return fixture_firmware["hex"]


# --- end to end on the fixture ------------------------------------------------------------

@needs_toolchain
def test_scons_run_model_returns_every_output_exactly(fixture_hex, tmp_path):
    rng = np.random.default_rng(7)
    x0 = rng.integers(-128, 128, (3, 1, 4)).astype(np.int8)
    # Floats that need all nine digits, a denormal and the largest float.
    x1 = np.array([[1 / 3, -2.5e-40, 3.4028235e38], [7.1, -0.0, 1e-7]], np.float32)
    np.savez(tmp_path / "in.npz", fixture_x0=x0, arr_1=x1)      # by name and by position
    result = run_scons("run-model-fixture", f"INPUT={tmp_path / 'in.npz'}",
                       f"OUTPUT={tmp_path / 'out.npz'}")
    assert len(re.findall(r"^sample \d+: [\d,]+ cycles$", result.stdout, re.M)) == 3
    outputs = np.load(tmp_path / "out.npz")
    y0, y1, y2 = fixture_expected(x0, np.broadcast_to(x1, (3, 2, 3)))
    assert np.array_equal(outputs["output_0"], y0) and outputs["output_0"].dtype == np.int16
    assert outputs["output_1"].tobytes() == y1.tobytes()          # bit for bit
    assert np.array_equal(outputs["output_2"], y2) and outputs["output_2"].dtype == bool


@needs_toolchain
def test_with_port_it_talks_to_the_board_on_that_port(fixture_hex, tmp_path):
    """PORT=: a board's serial port (here the emulated fixture's pty, as a
    board on a USB-UART adapter would be); no emulator of its own."""
    x0 = np.array([[5, -5, 0, 1]], np.int8)
    np.savez(tmp_path / "in.npz", input_0=x0, input_1=np.ones((2, 3), np.float32))
    with emulated_port(fixture_hex) as port:
        result = run_scons("run-model-fixture", f"PORT={port}", f"INPUT={tmp_path / 'in.npz'}",
                           f"OUTPUT={tmp_path / 'out.npz'}")
    assert "emulate:" not in result.stdout + result.stderr
    assert np.load(tmp_path / "out.npz")["output_0"].tolist() == [[[16, -14, 1, 4]]]


@needs_toolchain
def test_quantised_input_takes_floats_through_its_scale(fixture_hex, tmp_path):
    # x0 is int8 with scale 0.5, zero point -1: 1.25 -> round(2.5) - 1 = 2 (away from zero).
    np.savez(tmp_path / "in.npz", input_0=np.array([[1.25, -1.25, 100.0, -0.2]]),
             input_1=np.zeros((2, 3), np.float32))
    run_scons("run-model-fixture", f"INPUT={tmp_path / 'in.npz'}",
              f"OUTPUT={tmp_path / 'out.npz'}")
    assert np.load(tmp_path / "out.npz")["output_0"].tolist() == [[[7, -11, 382, -2]]]


def run_fixture(fixture_hex, payload, until):
    image, symbols = load_firmware(str(fixture_hex))
    machine = Machine(image, symbols, ScriptedConsole(payload, until=until))
    assert machine.run(max_seconds=60).reason == "until"
    return machine.console.text().replace("\r\n", "\n")


@needs_toolchain
def test_a_wrong_record_is_dropped_whole_and_the_stream_stays_in_step(fixture_hex):
    x0, x1 = bytes([1, 2, 3, 4]), np.zeros(6, np.float32).tobytes()
    good = protocol.run_request([(0, x0), (1, x1)])
    payload = (protocol.run_request([(5, b"4444")])              # no input 5: "4" inside
               + protocol.run_request([(0, b"12345"), (1, x1)])   # wrong length, then fine
               + good)
    text = run_fixture(fixture_hex, payload, rb"done: 3 outputs\r\n")
    errors = re.findall(r"^error: .*$", text, re.M)
    assert errors == ["error: input 5 does not exist: the model has 2 inputs",
                      "error: input 0 takes 4 bytes (int8 [1,4]), not 5"]
    run = protocol.parse_run(text[text.rindex("total"):])
    assert run.outputs[0].numbers == (4, 7, 10, 13)                 # 3 x + 1 on the good one
    assert len(re.findall(r"^done:", text, re.M)) == 1


@needs_toolchain
def test_describe_lists_every_tensor(fixture_hex):
    text = run_fixture(fixture_hex, protocol.INFO, rb"arena: [^\n]*\n")
    description = protocol.parse_description(text)
    assert description.inputs == (X0, X1)
    assert [(t.dtype, t.shape, t.bytes, t.name) for t in description.outputs] == \
        [("int16", (1, 4), 8, "fixture_y0"), ("float32", (2, 3), 24, "fixture_y1"),
         ("bool", (4,), 4, "fixture_y2")]


@needs_toolchain
def test_a_payload_that_stops_times_out_as_on_the_board(fixture_hex):
    """The emulated clock runs on while the firmware waits (2 s, as on the board)."""
    with emulated_port(fixture_hex) as path:
        port = serial.Serial(path, 115200, timeout=0.2)
        try:
            booted, deadline = b"", time.monotonic() + 30
            while b"boot ok" not in booted and time.monotonic() < deadline:
                booted += port.read(64)
            port.write(b"4\x01\x00" + struct.pack("<I", 4) + b"\x01\x02")
            started, received = time.monotonic(), booted[booted.index(b"\n") + 1:]
            while b"\n" not in received and time.monotonic() - started < 20:
                received += port.read(64)
            waited = time.monotonic() - started
            assert received.decode() == "error: input 0 incomplete: 2 of 4 bytes arrived\r\n"
            assert 1.5 < waited < 20
            port.write(protocol.INFO)              # and the console answers again
            answer = b""
            while not protocol.INFO_END.search(answer.decode()) and \
                    time.monotonic() - started < 40:
                answer += port.read(256)
            assert protocol.parse_description(answer.decode()).model == "fixture"
        finally:
            port.close()


@needs_toolchain
def test_run_model_says_what_is_wrong_with_the_inputs(fixture_hex, tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((1, 4), np.int8))
    result = run_scons("run-model-fixture", f"INPUT={tmp_path / 'one.npy'}", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is one array, but the model has 2 inputs" in result.stderr
    result = run_scons("run-model-fixture", f"INPUT={tmp_path / 'one.npy'}", "COMPARE=1",
                       check=False)
    assert result.returncode == 2 and "the fixture" in result.stderr


# --- inputs ---------------------------------------------------------------------------------

def test_samples_come_from_a_leading_axis_and_a_single_sample_is_shared(tmp_path):
    np.savez(tmp_path / "in.npz", **{"0": np.zeros((5, 4), np.int8),     # batch 1 replaced
                                     "input_1": np.ones((2, 3), np.float64)})
    samples = run_model.load_inputs(tmp_path / "in.npz", (X0, X1))
    assert len(samples) == 5
    assert all(s[0].shape == (1, 4) and s[0].dtype == np.int8 for s in samples)
    assert all(s[1].dtype == np.float32 and s[1].shape == (2, 3) for s in samples)


@pytest.mark.parametrize("arrays, message", [
    ({"0": np.zeros((3, 4), np.int8), "1": np.zeros((2, 2, 3), np.float32)},
     "different numbers of samples"),
    ({"0": np.zeros((1, 5), np.int8), "1": np.zeros((2, 3), np.float32)},
     r"Input 0 in .* has shape \[1, 5\]; the model's input 0 is int8 \[1, 4\]"),
    ({"0": np.full((1, 4), 300), "1": np.zeros((2, 3), np.float32)},
     r"outside int8's range -128..127"),
    ({"0": np.zeros((1, 4), np.int8), "1": np.zeros((2, 3), np.float32), "x": np.zeros(1)},
     r"holds x, which name no input"),
    ({"0": np.zeros((1, 4), np.int8)}, r"gives no array for input 1"),
])
def test_inputs_that_do_not_fit_are_refused_with_the_reason(tmp_path, arrays, message):
    np.savez(tmp_path / "in.npz", **arrays)
    with pytest.raises(UserError, match=message):
        run_model.load_inputs(tmp_path / "in.npz", (X0, X1))


def test_floats_for_an_unquantised_integer_input_are_refused(tmp_path):
    tensor = protocol.Tensor(0, "int32", (2,), 0.0, 0, 8)
    np.save(tmp_path / "x.npy", np.array([1.5, 2.0]))
    with pytest.raises(UserError, match="is float64; the model's input 0 is int32 and not "
                                        "quantised"):
        run_model.load_inputs(tmp_path / "x.npy", (tensor,))


def test_quantize_rounds_half_away_from_zero_and_clamps():
    tensor = protocol.Tensor(0, "int8", (4,), 0.5, 3, 4)
    assert run_model.quantize(np.array([0.25, -0.25, 1000.0, -1000.0]), tensor).tolist() == \
        [4, 2, 127, -128]


# --- comparison -----------------------------------------------------------------------------

def description_of(*outputs):
    return protocol.Description("m", 0, 1, "reference", (X0,), tuple(outputs), 0, 0)


def test_integers_must_be_equal_and_floats_within_the_stated_tolerance():
    ints = protocol.Tensor(0, "int8", (3,), 0.1, 0, 3)
    floats = protocol.Tensor(1, "float32", (2,), 0.0, 0, 8)
    ours = [[np.array([1, 2, 3], np.int8), np.array([1.0, 100.0], np.float32)]]
    close = [[np.array([1, 2, 3], np.int8), np.array([1.0 + 9e-6, 100.0 + 1e-3],
                                                     np.float32)]]
    assert run_model.compare(description_of(ints, floats), ours, close).agrees
    far = [[np.array([1, 2, 4], np.int8), np.array([1.0 + 3e-5, 100.0], np.float32)]]
    comparison = run_model.compare(description_of(ints, floats), ours, far)
    assert not comparison.agrees
    assert [(o.equal, o.largest) for o in comparison.outputs] == \
        [(0, 1.0), (0, pytest.approx(3e-5, rel=0.05))]
    assert "DIFFERS" in comparison.summary("reference")


def test_compare_with_the_host_runtime_on_a_real_model(tmp_path):
    """TFLM's host runtime (pip) on the committed int8 model: its own outputs
    agree; one changed value does not."""
    model = ROOT / "models" / "mnist_int8.tflite"
    tensor = protocol.Tensor(0, "int8", (1, 28, 28, 1), 0.0039215689, -128, 784)
    output = protocol.Tensor(0, "int8", (1, 10), 0.00390625, -128, 10)
    description = protocol.Description("mnist_int8", model.stat().st_size, 9, "reference",
                                       (tensor,), (output,), 0, 0)
    samples = [[np.full((1, 28, 28, 1), value, np.int8)] for value in (-128, 0)]
    host = run_model.host_outputs(str(model), samples, 1)
    assert run_model.compare(description, host, host).agrees
    changed = [[sample[0].copy()] for sample in host]
    changed[1][0][0, 3] ^= 1
    assert [o.equal for o in run_model.compare(description, changed, host).outputs] == [1]
    run_model.check_model_matches(description, str(model))
    with pytest.raises(UserError, match="The firmware runs other"):
        run_model.check_model_matches(
            protocol.Description("other", 5, 1, "reference", (), (), 0, 0), str(model))


def test_a_difference_a_known_record_explains_is_printed_with_it_and_still_fails():
    from teensyml.model import known_differences
    ints = protocol.Tensor(0, "int8", (2,), 0.1, 0, 2)
    comparison = run_model.compare(description_of(ints), [[np.array([1, 2], np.int8)]],
                                   [[np.array([1, 3], np.int8)]])
    comparison.known = list(known_differences.explain(["UNIDIRECTIONAL_SEQUENCE_LSTM"],
                                                      "cmsis_nn"))
    summary = comparison.summary("cmsis_nn")
    assert not comparison.agrees and comparison.known
    assert "as a known difference of kernels cmsis_nn can explain" in summary
    assert comparison.known[0].summary() in summary and "interpreter.reset()" in summary


@requires_third_party
def test_a_firmware_that_did_not_load_its_model_is_reported_at_once(tmp_path):
    """An arena too small: the firmware boots NOT READY; run-model says so
    (with the boot's reason when it arrives in time), not after a timeout."""
    np.save(tmp_path / "zeros.npy", np.zeros((1, 28, 28, 1), np.float32))
    run_scons("ARENA_SIZE=1024")
    started = time.monotonic()
    result = run_scons("run-model", "ARENA_SIZE=1024", f"INPUT={tmp_path / 'zeros.npy'}",
                       "TIMEOUT=60", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.search(r"error: Unexpected answer from the firmware: the firmware says: "
                     r"(arena too small .*ARENA_SIZE=|the model did not load)", result.stderr)
    assert time.monotonic() - started < 50      # one answer, not the 60 s TIMEOUT


@requires_third_party
def test_compare_refuses_a_board_that_runs_another_model_before_sending(tmp_path):
    """A board flashed with int8, compared as MODEL=float32: said at once."""
    import subprocess
    import sys
    run_scons("MODEL=int8")
    np.save(tmp_path / "zeros.npy", np.zeros((3, 28, 28, 1), np.float32))
    with emulated_port(layout(MODEL="int8").firmware["hex"]) as port:
        result = subprocess.run([sys.executable, str(ROOT / "tools" / "run_model.py"),
                                 f"PORT={port}", "MODEL=float32", "COMPARE=1",
                                 f"INPUT={tmp_path / 'zeros.npy'}"],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "The firmware runs mnist_int8" in result.stderr
    assert "not mnist_float32.tflite" in result.stderr
    assert "sample 0" not in result.stdout            # nothing was run
