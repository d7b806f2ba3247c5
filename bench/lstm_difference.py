#!/usr/bin/env python3
"""Why TFLM's LSTM example gave other outputs with CMSIS-NN: the figures of
docs/model.md, "The LSTM under CMSIS-NN".

The model is TFLM's own example, tensorflow/lite/micro/examples/mnist_lstm/
trained_lstm_int8.tflite (UNIDIRECTIONAL_SEQUENCE_LSTM, RESHAPE,
FULLY_CONNECTED, SOFTMAX). For the first N test digits (models/test_digits.npz)
it compares, image by image, the int8 output and the LSTM's output tensor
(28 time steps x 20 units) of

  - TFLM's host runtime (the tflite-micro wheel, all tensors preserved), run
    as one stream of images (its LSTM state carried from image to image) and
    with `reset()` before every image;
  - the emulated firmware (`3` command over the console; the LSTM output and
    the LSTM's two state tensors read from the arena when the profiler closes
    the LSTM's event) for the reference kernels, CMSIS-NN with our tuned
    files and CMSIS-NN's own files (TUNED_KERNELS=0): as built (the firmware
    calls MicroInterpreter::Reset before every inference), and "as before
    the fix", with that Reset call skipped by the emulator (a hook returns
    from MicroInterpreter::Reset at its entry when Inference::Invoke called
    it), which is the firmware as it was when the difference was reported.

    python3 bench/lstm_difference.py              # 30 digits
    python3 bench/lstm_difference.py --count 100

Needs third_party (scons deps: the model is in the pinned TFLM tree, and the
firmware is built with scons), and the tflite-micro wheel; exits with status 2
and says so when either is missing. Status 1 when a finding it relies on does
not hold (then the docs are out of date).
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)
from teensyml.paths import ROOT  # noqa: E402

from teensyml import console_protocol, options  # noqa: E402
from teensyml.model import digit_set, model_input  # noqa: E402
from teensyml.build_layout import build_layout  # noqa: E402
from teensyml.model.tflite_model import load_schema, read_model  # noqa: E402

MODEL = os.path.join("third_party", "tflite-micro", "tensorflow", "lite", "micro", "examples",
                     "mnist_lstm", "trained_lstm_int8.tflite")
LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
# The LSTM's inputs 18 and 19 (lstm_shared.h: kLstmOutputStateTensor,
# kLstmCellStateTensor) are its variable state tensors.
HIDDEN_STATE_INPUT, CELL_STATE_INPUT = 18, 19
CONFIGURATIONS = (("reference", {"USE_CMSIS_NN": "0"}),
                  ("CMSIS-NN", {"USE_CMSIS_NN": "1"}),
                  ("CMSIS-NN TUNED_KERNELS=0", {"USE_CMSIS_NN": "1", "TUNED_KERNELS": "0"}))
# TfLiteType of the schema's tensor types, as TFLM stores them in TfLiteEvalTensor.
TFLITE_TYPE = {"float32": 1, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "int16": 7,
               "int8": 9, "float16": 10}
ARENA_SYMBOL = "_ZN12_GLOBAL__N_112tensor_arenaE"     # (anonymous namespace)::tensor_arena
NUMPY_TYPE = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


class Missing(Exception):
    pass


# --- the model -----------------------------------------------------------------------------
class Graph:
    """Tensor types and shapes, and the LSTM's output and state tensors."""

    def __init__(self, path):
        schema = load_schema()
        with open(path, "rb") as stream:
            model = schema.Model.GetRootAsModel(stream.read(), 0)
        graph = model.Subgraphs(0)
        names = {value: name.lower() for name, value in vars(schema.TensorType).items()
                 if not name.startswith("_")}
        self.types, self.shapes = [], []
        for index in range(graph.TensorsLength()):
            tensor = graph.Tensors(index)
            self.types.append(names[tensor.Type()])
            self.shapes.append(tuple(tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ())
        self.operators = read_model(path).operators
        lstm = graph.Operators(self.operators.index(LSTM))
        self.lstm_output = int(lstm.Outputs(0))
        self.hidden_state = int(lstm.Inputs(HIDDEN_STATE_INPUT))
        self.cell_state = int(lstm.Inputs(CELL_STATE_INPUT))

    def nbytes(self, index):
        return int(np.prod(self.shapes[index])) * np.dtype(NUMPY_TYPE[self.types[index]]).itemsize

    def array(self, index, data):
        return np.frombuffer(data, NUMPY_TYPE[self.types[index]]).reshape(self.shapes[index])


# --- TFLM's host runtime -----------------------------------------------------------------------
def host_runs(graph, images):
    """{"stream": (outputs, lstm), "reset": (outputs, lstm)} from the host runtime."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as error:
        raise Missing(f"the tflite-micro wheel is not installed ({error}); "
                      f"pip install -r requirements.txt") from None
    results = {}
    for mode in ("stream", "reset"):
        interpreter = runtime.Interpreter.from_file(
            os.path.join(ROOT, MODEL),
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
        quantization = interpreter.get_input_details(0)["quantization_parameters"]
        outputs, lstm = [], []
        for pixels in images:
            if mode == "reset":
                interpreter.reset()
            values = model_input.quantize(pixels, quantization["scales"][0],
                                          quantization["zero_points"][0])
            interpreter.set_input(values.reshape(graph.shapes[0]), 0)
            interpreter.invoke()
            outputs.append(interpreter.get_output(0).reshape(-1).astype(np.int32))
            lstm.append(interpreter.GetTensor(graph.lstm_output, 0)["tensor_data"]
                        .reshape(graph.shapes[graph.lstm_output]).copy())
        results[mode] = (np.array(outputs), np.array(lstm))
    return results


# --- the emulated firmware ---------------------------------------------------------------------
def build(settings):
    values = {"MODEL": MODEL, **settings}
    subprocess.run([sys.executable, "-m", "SCons", "-Q", "-j2",
                    *[f"{key}={value}" for key, value in values.items()]],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return str(build_layout(options.resolve(values)).firmware["hex"])


def emulate(hex_path, graph, images, skip_reset):
    """(outputs, lstm outputs, state at the LSTM's start) of the firmware for
    `images`, sent as `3` commands; with `skip_reset`, the firmware's Reset
    before each inference is skipped (the firmware before the fix)."""
    from unicorn import arm_const

    from teensyml.emulator import Machine, ScriptedConsole, load_firmware
    from teensyml.emulator.machine.fasthooks import block_hook
    image, symbols = load_firmware(hex_path)
    console = ScriptedConsole(b"".join(
        console_protocol.classify_request(np.ascontiguousarray(pixels, np.uint8).tobytes())
        for pixels in images))
    machine = Machine(image, symbols, console, timing="simple")
    uc = machine.uc
    from teensyml.image import elf_image
    arena_symbol = next(symbol for symbol in elf_image.read(symbols.path).symbols
                        if symbol.name == ARENA_SYMBOL)      # src/app/inference.cc
    arena, arena_size = arena_symbol.address, arena_symbol.size
    state = {"table": None, "before": None}
    captured = []

    def read(address, size):
        return bytes(uc.mem_read(address, size))

    def eval_tensor_table():
        """The subgraph's TfLiteEvalTensor array {data, dims, type}: found in the
        arena by its sequence of tensor types, which no other data there has."""
        words = np.frombuffer(read(arena, arena_size), np.uint32)
        wanted = [TFLITE_TYPE[name] for name in graph.types]
        for phase in range(3):
            rows = words[phase:][:(len(words) - phase) // 3 * 3].reshape(-1, 3)
            hits = np.ones(len(rows) - len(wanted) + 1, bool)
            for index, value in enumerate(wanted):
                hits &= (rows[index:index + len(hits), 2] & 0xFF) == value
            found = np.flatnonzero(hits)
            if len(found) == 1:
                return arena + 4 * (phase + 3 * int(found[0]))
        raise Missing("the firmware's tensor table was not found in its arena")

    def tensor(index):
        pointer = int.from_bytes(read(state["table"] + 12 * index, 4), "little")
        return graph.array(index, read(pointer, graph.nbytes(index))).copy()

    def on_begin(_address, _size):
        tag = read(uc.reg_read(arm_const.UC_ARM_REG_R1), 64).split(b"\0")[0].decode()
        if tag == LSTM:
            if state["table"] is None:
                state["table"] = eval_tensor_table()
            state["before"] = (tensor(graph.hidden_state), tensor(graph.cell_state))

    def on_end(_address, _size):
        # A block can run twice when the counters stop inside it: capture once.
        tag = read(uc.reg_read(arm_const.UC_ARM_REG_R1), 64).split(b"\0")[0].decode()
        if tag == LSTM and state["before"]:
            captured.append((tensor(graph.lstm_output), state["before"]))
            state["before"] = None

    def on_reset(_address, _size):
        caller = symbols.function_at(uc.reg_read(arm_const.UC_ARM_REG_LR))
        if caller is not None and caller[1].startswith("Inference::Invoke"):
            uc.reg_write(arm_const.UC_ARM_REG_R0, 0)          # kTfLiteOk
            uc.reg_write(arm_const.UC_ARM_REG_PC, uc.reg_read(arm_const.UC_ARM_REG_LR))

    for name, hook in (("LayerProfiler::Begin", on_begin),
                       ("LayerProfiler::End", on_end)):
        start = symbols.resolve_function(name)[0]
        block_hook(uc, hook, start, start)
    if skip_reset:
        start = symbols.resolve_function("tflite::MicroInterpreter::Reset")[0]
        block_hook(uc, on_reset, start, start)
    stop = machine.run(max_seconds=60 + 20 * len(images))
    text = console.text()
    outputs = [[int(word) for word in match.group(1).split()]
               for match in re.finditer(r"^outputs:([^\r\n]*)", text, re.M)]
    if len(outputs) != len(images) or len(captured) != len(images):
        raise Missing(f"the emulated firmware answered {len(outputs)} of {len(images)} images "
                      f"({stop.reason}: {stop.detail})")
    return (np.array(outputs), np.array([lstm for lstm, _ in captured]),
            [before for _, before in captured])


# --- the one place the arithmetic could differ: the doubling high multiply -----------------
def rounding_mismatches(pairs=2_000_000, seed=0):
    """CMSIS-NN's arm_nn_doubling_high_mult_no_sat, (a*b + 2^30) >> 31, against
    gemmlowp's SaturatingRoundingDoublingHighMul (TFLM's reference: nudge
    +-2^30, divide truncating toward zero), on random pairs and on every
    a in +-100,000 against the multiplier 2^30 of a power-of-two scale (where
    exact halves are most common). Returns (pairs checked, mismatches);
    INT32_MIN * INT32_MIN, the one input gemmlowp saturates, is left out."""
    generator = np.random.default_rng(seed)
    a = generator.integers(-2**31, 2**31, pairs, dtype=np.int64)
    a[::2] = generator.integers(-70_000, 70_001, len(a[::2])) * \
        generator.choice([1, 2, 4], len(a[::2]))
    b = np.where(generator.random(pairs) < 0.5, 2**30,
                 generator.integers(2**30, 2**31, pairs, dtype=np.int64))
    a = np.concatenate([a, np.arange(-100_000, 100_001, dtype=np.int64)])
    b = np.concatenate([b, np.full(200_001, 2**30, dtype=np.int64)])
    product = a * b
    nudged = product + np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    gemmlowp = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))
    cmsis_nn = (product + (1 << 30)) >> 31
    return len(a), int(np.sum(gemmlowp != cmsis_nn))


# --- comparisons ---------------------------------------------------------------------------------
def compare(name, outputs, lstm, reference_outputs, reference_lstm):
    """One row: how `outputs`/`lstm` differ from the reference pair."""
    difference = np.abs(outputs.astype(int) - reference_outputs.astype(int)).max(axis=1)
    lstm_difference = np.abs(lstm.astype(int) - reference_lstm.astype(int))
    lstm_difference = lstm_difference.reshape(len(lstm), lstm.shape[-2], -1)   # image, t, unit
    changed = int(np.sum(outputs.argmax(1) != reference_outputs.argmax(1)))
    return {"name": name, "images": int(np.sum(difference > 0)), "max": int(difference.max()),
            "predictions": changed, "lstm_images": int(np.sum(lstm_difference.max((1, 2)) > 0)),
            "lstm_max": int(lstm_difference.max()), "per_image": difference,
            "per_step": lstm_difference.max(axis=(0, 2))}


def row(entry):
    return (f"| {entry['name']} | {entry['images']} | {entry['max']} | {entry['predictions']} | "
            f"{entry['lstm_images']} | {entry['lstm_max']} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30, help="test digits (30; at most 100)")
    arguments = parser.parse_args()
    if not os.path.exists(os.path.join(ROOT, MODEL)):
        print(f"lstm_difference: {MODEL} is missing: run `scons deps` first (the model is "
              f"TFLM's example, in the pinned TFLM tree).", file=sys.stderr)
        return 2
    digits = digit_set.load(os.path.join(ROOT, "models", digit_set.NPZ_NAME))
    if not 1 <= arguments.count <= len(digits.images):
        parser.error(f"--count must be 1..{len(digits.images)}")
    images = digits.images[:arguments.count]
    labels = digits.labels[:arguments.count]
    graph = Graph(os.path.join(ROOT, MODEL))
    try:
        host = host_runs(graph, images)
        firmware = {}
        for name, settings in CONFIGURATIONS:
            hex_path = build(settings)
            for skip_reset in (True, False):
                firmware[name, skip_reset] = emulate(hex_path, graph, images, skip_reset)
    except Missing as error:
        print(f"lstm_difference: {error}", file=sys.stderr)
        return 2
    count = len(images)
    stream, reset = host["stream"], host["reset"]
    print(f"{count} test digits, model {MODEL} ({' -> '.join(graph.operators)})\n")
    print("Each row against TFLM's host runtime with reset() before every image:\n")
    print("| run | images whose int8 output differs | largest difference | predictions "
          "changed | images whose LSTM output differs | largest LSTM difference |")
    print("|---|---|---|---|---|---|")
    rows = [compare("host runtime, one stream (no reset)", *stream, *reset)]
    for name, _ in CONFIGURATIONS:
        for skip_reset, when in ((True, "before the fix (no Reset)"), (False, "as built")):
            rows.append(compare(f"firmware {name}, {when}", *firmware[name, skip_reset][:2],
                                *reset))
    for entry in rows:
        print(row(entry))
    # The firmware as it was, against the host stream and against each other.
    before_reference = firmware["reference", True]
    before_cmsis = firmware["CMSIS-NN", True]
    against_stream = compare("firmware reference before the fix vs host stream",
                             *before_reference[:2], *stream)
    versus = compare("CMSIS-NN vs reference, both before the fix",
                     *before_cmsis[:2], *before_reference[:2])
    print("\n| comparison | images | largest | predictions | LSTM images | LSTM largest |")
    print("|---|---|---|---|---|---|")
    print(row(against_stream))
    print(row(versus))
    print("\nLSTM state (hidden, cell) when the LSTM starts, largest magnitude over the images "
          "after the first:")
    for name, _ in CONFIGURATIONS:
        for skip_reset, when in ((True, "before the fix"), (False, "as built")):
            before = firmware[name, skip_reset][2][1:]
            hidden = max((int(np.abs(h).max()) for h, _ in before), default=0)
            cell = max((int(np.abs(c).max()) for _, c in before), default=0)
            print(f"  {name}, {when}: hidden {hidden}, cell {cell}")
    per_image = versus["per_image"]
    nonzero = per_image[per_image > 0]
    print(f"\nCMSIS-NN vs reference before the fix, per image: largest int8 output difference "
          f"{sorted(int(value) for value in nonzero)} (the {count - len(nonzero)} others: 0); "
          f"median over the differing images {int(np.median(nonzero)) if len(nonzero) else 0}")
    print("LSTM output difference by time step (largest over the images, t = 0..27): "
          + " ".join(str(int(value)) for value in versus["per_step"]))
    for mode, (outputs, _) in (("one stream", stream), ("reset per image", reset)):
        print(f"accuracy, host runtime {mode}: {int(np.sum(outputs.argmax(1) == labels))}/{count}")
    checked, mismatches = rounding_mismatches()
    print(f"doubling high multiply, CMSIS-NN against gemmlowp: {mismatches} mismatches in "
          f"{checked:,} pairs")
    findings = [mismatches == 0, rows[0]["images"] > 0,                                        # state matters
                against_stream["images"] == 0 and against_stream["lstm_images"] == 0,
                all(entry["images"] == 0 and entry["lstm_images"] == 0
                    for entry in rows[1:] if "as built" in entry["name"]),
                all(entry["images"] == 0 and entry["lstm_images"] == 0
                    for entry in rows[1:] if "CMSIS-NN" in entry["name"])]
    if not all(findings):
        print("\nlstm_difference: a finding of docs/model.md does not hold on this run "
              f"({findings})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
