"""Run any model on the firmware, a board or the emulator, with inputs from a
.npy or .npz file; print every output; compare with TFLM's host runtime.

    description = exchange.request(protocol.INFO, protocol.INFO_END,
                                   protocol.parse_description)
    samples = load_inputs("x.npz", description.inputs)
    outputs = [run_sample(exchange, description, sample) for sample in samples]
    comparison = compare_with_host(model_path, description, samples, outputs)

Inputs. A .npy gives input 0; a .npz names inputs by index ("0", "input_0",
np.savez's "arr_0") or by tensor name. An array shaped like its tensor is one
sample; one more leading axis (or a leading axis replacing the tensor's batch
of 1) makes N samples, and every input gives the same N (or one, used for
all). Integer arrays are taken into integer tensors when the values fit;
float arrays into float32 tensors, and into quantised int8/uint8/int16
tensors through the tensor's scale and zero point (round half away from
zero, as TFLite's quantize does).

Comparison. Each sample runs from the model's initial state on both sides
(the firmware resets its variable tensors before every inference; the host
interpreter is reset). Integer, bool and raw outputs must equal the host's
bit for bit; float32 outputs within FLOAT_ABSOLUTE + FLOAT_RELATIVE x |host|
(the firmware's newlib expf and the host's glibc differ in the last bit).
When they differ, the differences teensyml.model.known_differences documents for
the model's operators and kernel set are printed with their bounds (the
status stays 1: a difference is never a pass).
"""
import os
from dataclasses import dataclass, field

import numpy as np

from . import console_protocol as protocol
from .errors import UserError
from .option_values import CommandSettings

FLOAT_ABSOLUTE = 1e-5
FLOAT_RELATIVE = 1e-5
HOST_ARENA_BYTES = 4 << 20
# Types whose values the firmware prints in decimal, as numpy types.
INTEGER_TYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
QUANTIZABLE_TYPES = ("int8", "uint8", "int16")


# --- inputs ----------------------------------------------------------------------------

def load_inputs(path, tensors):
    """Samples for the model's input `tensors` (console_protocol.Tensor) from a
    .npy or .npz file: a list of samples, each a list of arrays, one per input,
    of the tensor's dtype and shape. UserError, saying why, when they do not fit."""
    arrays = _read_arrays(path, tensors)
    per_input = [_samples_of(arrays[tensor.index], tensor, path) for tensor in tensors]
    counts = {len(samples) for samples in per_input if len(samples) != 1}
    if len(counts) > 1:
        raise UserError(f"The inputs in {path} give different numbers of samples "
                        f"({', '.join(str(len(s)) for s in per_input)}); give each input the "
                        f"same number, or one sample to use for all.")
    count = counts.pop() if counts else 1
    return [[samples[i if len(samples) > 1 else 0] for samples in per_input]
            for i in range(count)]


def _read_arrays(path, tensors):
    """{input index: array} from the file."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"Cannot read INPUT={path}: {error}. Give a .npy file (input 0) or "
                        f"a .npz file (inputs by index or tensor name).") from None
    if isinstance(loaded, np.ndarray):
        if len(tensors) != 1:
            raise UserError(f"INPUT={path} is one array, but the model has {len(tensors)} "
                            f"inputs: give a .npz with one array per input ({_keys(tensors)}).")
        return {0: loaded}
    with loaded:
        names = {key: _input_index(key, tensors) for key in loaded.files}
        unknown = [key for key, index in names.items() if index is None]
        if unknown:
            raise UserError(f"INPUT={path} holds {', '.join(unknown)}, which name no input of "
                            f"the model; name them {_keys(tensors)}.")
        arrays = {index: loaded[key] for key, index in names.items()}
    missing = [tensor.index for tensor in tensors if tensor.index not in arrays]
    if missing:
        raise UserError(f"INPUT={path} gives no array for input "
                        f"{', '.join(map(str, missing))}; the model has {len(tensors)} "
                        f"inputs ({_keys(tensors)}).")
    return arrays


def _keys(tensors):
    return "; ".join(f"{tensor.index} or input_{tensor.index}"
                     + (f" or {tensor.name}" if tensor.name else "") for tensor in tensors)


def _input_index(key, tensors):
    for tensor in tensors:
        if key in (str(tensor.index), f"input_{tensor.index}", f"arr_{tensor.index}") or \
                (tensor.name and key == tensor.name):
            return tensor.index
    return None


def _samples_of(array, tensor, path):
    """The samples of one input: arrays of the tensor's shape and dtype."""
    shape = tuple(tensor.shape)
    if array.shape == shape:
        batch = array[np.newaxis]
    elif array.shape[1:] == shape and array.ndim >= 1:
        batch = array
    elif shape[:1] == (1,) and array.shape[1:] == shape[1:] and array.ndim == len(shape):
        batch = array[:, np.newaxis]
    else:
        raise UserError(f"Input {tensor.index} in {path} has shape {list(array.shape)}; the "
                        f"model's input {tensor.index} is {tensor.dtype} {list(shape)}: give "
                        f"that shape, or N samples of it as [N, ...].")
    return list(_converted(batch, tensor, path))


def _converted(batch, tensor, path):
    """`batch` as the tensor's dtype, exactly or by quantisation."""
    dtype = np.dtype(tensor.dtype) if tensor.dtype in INTEGER_TYPES + ("float32", "bool",
                                                                      "float16", "float64") \
        else None
    given = batch.dtype
    if dtype is None:
        raise UserError(f"Input {tensor.index} is {tensor.dtype}, a type run-model cannot "
                        f"fill; the firmware's command 4 still takes its raw bytes.")
    if given == dtype:
        return batch
    if given.kind == "f" and dtype.kind == "f":
        return batch.astype(dtype)
    if given.kind in "iub" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        if batch.size and (batch.min() < info.min or batch.max() > info.max):
            raise UserError(f"Input {tensor.index} in {path} holds values outside "
                            f"{tensor.dtype}'s range {info.min}..{info.max}.")
        return batch.astype(dtype)
    if given.kind == "f" and tensor.dtype in QUANTIZABLE_TYPES and tensor.quantized:
        return quantize(batch, tensor)
    if given.kind in "iub" and dtype.kind == "f":
        return batch.astype(dtype)
    raise UserError(f"Input {tensor.index} in {path} is {given}; the model's input "
                    f"{tensor.index} is {tensor.dtype}"
                    + (" and not quantised, so floats cannot be converted"
                       if given.kind == "f" else "") + ".")


def quantize(values, tensor):
    """Float values as the quantised tensor's integers: round(x / scale) +
    zero_point, halves away from zero, clamped to the type."""
    info = np.iinfo(np.dtype(tensor.dtype))
    scaled = np.asarray(values, dtype=np.float64) / tensor.scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + tensor.zero_point
    return np.clip(rounded, info.min, info.max).astype(tensor.dtype)


def to_bytes(array):
    """The raw bytes the board stores for an array (little endian)."""
    return np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()


# --- outputs ---------------------------------------------------------------------------

def output_array(values, tensor):
    """A console_protocol.Values as an array of the output tensor's dtype and
    shape (or a uint8 array of raw bytes for types numpy lacks)."""
    if values.raw is not None:
        try:
            return np.frombuffer(values.raw, dtype=np.dtype(tensor.dtype).newbyteorder("<")) \
                .reshape(tensor.shape)
        except TypeError:
            return np.frombuffer(values.raw, dtype=np.uint8)
    return np.array(values.numbers, dtype=np.dtype(tensor.dtype)).reshape(tensor.shape)


def run_sample(exchange, description, sample):
    """The firmware's outputs (arrays) and its answer for one sample."""
    request = protocol.run_request((tensor.index, to_bytes(array))
                                   for tensor, array in zip(description.inputs, sample))
    run = exchange.request(request, protocol.RUN_END, protocol.parse_run)
    if len(run.outputs) != len(description.outputs):
        raise UserError(f"The firmware printed {len(run.outputs)} outputs; it described "
                        f"{len(description.outputs)}.")
    return [output_array(values, tensor)
            for values, tensor in zip(run.outputs, description.outputs)], run


def dequantized(array, tensor):
    return (array.astype(np.float64) - tensor.zero_point) * tensor.scale


def format_output(array, tensor):
    """One output for people: values, and real values for a quantised one."""
    text = np.array2string(array.reshape(-1), separator=" ", threshold=64,
                           max_line_width=100, floatmode="unique")
    if tensor.quantized and array.dtype.kind in "iu":
        text += " = " + np.array2string(dequantized(array, tensor).reshape(-1), separator=" ",
                                        threshold=64, max_line_width=100, precision=6)
    return text


# --- comparison with TFLM's host runtime ----------------------------------------------

@dataclass
class OutputComparison:
    index: int
    dtype: str
    samples: int = 0
    equal: int = 0                    # samples within the rule for the type
    largest: float = 0.0              # the largest difference in any value

    @property
    def agrees(self):
        return self.equal == self.samples


@dataclass
class Comparison:
    outputs: list
    known: list = field(default_factory=list)      # known_differences records that apply

    @property
    def agrees(self):
        return all(output.agrees for output in self.outputs)

    def summary(self, kernels):
        lines = []
        for output in self.outputs:
            rule = ("bit for bit" if output.dtype != "float32" else
                    f"within {FLOAT_ABSOLUTE:g} + {FLOAT_RELATIVE:g} x |host|")
            lines.append(f"output {output.index} ({output.dtype}): {output.equal}/"
                         f"{output.samples} samples equal TFLM's host runtime {rule}"
                         + ("" if output.agrees else
                            f"; largest difference {output.largest:g}"))
        if self.agrees:
            lines.append("run-model: the firmware agrees with TFLM's host runtime")
        elif self.known:
            lines.append(f"run-model: the firmware DIFFERS from TFLM's host runtime, as a "
                         f"known difference of kernels {kernels} can explain:")
            lines += [known.summary() for known in self.known]
        else:
            lines.append("run-model: the firmware DIFFERS from TFLM's host runtime")
        return "\n".join(lines)


def host_outputs(model_path, samples, output_count):
    """TFLM's host runtime on every sample: a list of output-array lists."""
    from .model.pipeline.quiet import quiet_output
    with open(model_path, "rb") as stream:
        model = stream.read()
    try:
        with quiet_output(show_on_error=False):
            from tflite_micro.python.tflite_micro import runtime
            interpreter = runtime.Interpreter.from_bytes(model, arena_size=HOST_ARENA_BYTES)
    except RuntimeError as error:
        raise UserError(f"TFLM's host runtime cannot load {model_path}: {error}.") from None
    results = []
    for sample in samples:
        # Each sample from the model's initial state, as the firmware runs it
        # (its variable tensors reset: docs/model.md, "The LSTM under CMSIS-NN").
        interpreter.reset()
        for index, array in enumerate(sample):
            interpreter.set_input(array, index)
        interpreter.invoke()
        results.append([np.array(interpreter.get_output(index)) for index in range(output_count)])
    return results


def compare(description, firmware, host):
    """A Comparison of the firmware's outputs with the host's, sample by sample."""
    outputs = [OutputComparison(tensor.index, tensor.dtype) for tensor in description.outputs]
    for ours_sample, host_sample in zip(firmware, host):
        for output, ours, theirs in zip(outputs, ours_sample, host_sample):
            output.samples += 1
            ours, theirs = np.asarray(ours), np.asarray(theirs)
            if ours.size != theirs.size:
                output.largest = float("inf")
                continue
            difference = np.abs(ours.astype(np.float64).reshape(-1)
                                - theirs.astype(np.float64).reshape(-1))
            if ours.dtype.kind == "f":
                allowed = FLOAT_ABSOLUTE + FLOAT_RELATIVE * np.abs(theirs.astype(np.float64))
                same = bool(np.all(difference <= allowed.reshape(-1)))
            else:
                same = ours.tobytes() == theirs.astype(ours.dtype).tobytes()
            output.equal += int(same)
            if difference.size:
                output.largest = max(output.largest, float(difference.max()))
    return Comparison(outputs)


def check_model_matches(description, model_path):
    """A UserError when the firmware runs another model than MODEL= names."""
    size = os.path.getsize(model_path)
    stem = os.path.splitext(os.path.basename(model_path))[0]
    if (description.model, description.model_bytes) != (stem, size):
        raise UserError(f"The firmware runs {description.model} ({description.model_bytes:,} "
                        f"bytes), not {os.path.basename(model_path)} ({size:,} bytes): build "
                        f"and flash the MODEL= you compare with, or give its MODEL=.")


# --- the command ----------------------------------------------------------------------

@dataclass(frozen=True)
class Settings(CommandSettings):
    """What `scons run-model` and tools/run_model.py do, from resolved options
    (Settings.from_options(values, firmware=..., elf=..., model=...))."""
    input: str                  # INPUT=: .npy or .npz
    output: str                 # OUTPUT=: .npz of the firmware's outputs, or ""
    compare: bool               # COMPARE=1
    port: str                   # PORT=: a board; "" runs the emulator
    baud: int
    timeout: float              # seconds to wait for each answer
    firmware: str               # the image the emulator runs (.hex)
    elf: str                    # its symbols, or ""
    model: str                  # the configuration's .tflite path, for COMPARE
                                # (always given: MODEL= may name a built-in model)


def run(settings, stdout=None, stderr=None):
    """Send every sample, print the outputs, compare if asked: the exit status
    (0 when the outputs were printed and, with COMPARE, agree)."""
    import sys
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if not settings.input:
        raise UserError("run-model needs INPUT=<file.npy or file.npz> holding the model's "
                        "inputs (see docs/model.md, \"Any model\").")
    if not os.path.isfile(settings.input):
        raise UserError(f"INPUT={settings.input} does not exist.")
    if settings.compare and not settings.model:
        raise UserError("COMPARE=1 needs the model's .tflite, and this image (the fixture) "
                        "has none: compare the firmware's `scons run-model`.")
    description, samples, firmware = run_on_firmware(settings, stderr)
    for number, (outputs, answer) in enumerate(firmware):
        print(f"sample {number}: {answer.total_cycles:,} cycles", file=stdout)
        for tensor, array in zip(description.outputs, outputs):
            print(f"  output {tensor.index} {tensor.dtype} {list(tensor.shape)}: "
                  f"{format_output(array, tensor)}", file=stdout)
    outputs = [outputs for outputs, _ in firmware]
    if settings.output:
        _save_outputs(settings.output, description, outputs)
    if not settings.compare:
        return 0
    comparison = compare_with_host(settings.model, description, samples, outputs)
    print(comparison.summary(description.kernels), file=stdout)
    return 0 if comparison.agrees else 1


def compare_with_host(model_path, description, samples, outputs):
    """The Comparison of the firmware's outputs with TFLM's host runtime on
    the same model and samples, with the known differences that apply."""
    check_model_matches(description, model_path)
    comparison = compare(description, outputs,
                         host_outputs(model_path, samples, len(description.outputs)))
    if not comparison.agrees:
        comparison.known = _known_differences(model_path, description.kernels)
    return comparison


def run_on_firmware(settings, stderr):
    """(Description, samples, [(outputs, answer)]): the inputs of INPUT= sent
    to the board (PORT=) or the emulator, and what came back."""
    from .classify_serial import Exchange
    from .serial_link import SerialLink

    def notice(text):
        print(text, file=stderr, flush=True)

    with _console_port(settings) as port:
        link = SerialLink(port, settings.baud, notice)
        try:
            exchange = Exchange(link, settings.timeout)
            exchange.connect()
            description = exchange.request(protocol.INFO, protocol.INFO_END,
                                           protocol.parse_description)
            if settings.compare:       # before the samples run, not after
                check_model_matches(description, settings.model)
            samples = load_inputs(settings.input, description.inputs)
            results = []
            progress = len(samples) > 1 and stderr.isatty()
            for number, sample in enumerate(samples):
                if progress:
                    print(f"\rrun-model: sample {number + 1}/{len(samples)}", end="",
                          file=stderr, flush=True)
                results.append(run_sample(exchange, description, sample))
            if progress:
                print(file=stderr)
        finally:
            link.close()
    return description, samples, results


def _console_port(settings):
    if settings.port:
        import contextlib
        return contextlib.nullcontext(settings.port)
    from .emulator.pty_session import emulated_port
    return emulated_port(settings.firmware, settings.elf or None)


def _save_outputs(path, description, outputs):
    import io

    from .atomic_file import write_bytes
    arrays = {f"output_{tensor.index}": np.stack([sample[tensor.index] for sample in outputs])
              for tensor in description.outputs}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def _known_differences(model_path, kernels):
    from .model import known_differences
    from .model.tflite_model import parse_model
    with open(model_path, "rb") as stream:
        info = parse_model(stream.read(), model_path)
    return known_differences.explain(info.distinct_operators, kernels)
