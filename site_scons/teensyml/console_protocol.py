"""The firmware's console protocol, host side: the commands and their answers.

The firmware (src/app/main.cc) answers one-byte commands with lines ending in
CR LF; the README shows them. Everything that talks to it (tests, the classify
tool, benchmarks) parses them here, so the format lives in two places only:
the firmware that prints it and this module that reads it.

    teensyml: ready, model mnist_int8, kernels cmsis_nn, 600 MHz      (at boot)

    1 -> model: mnist_int8, 104320 bytes, 9 operators, kernels cmsis_nn
         input 0: int8 [1,28,28,1] scale=0.00392156886 zero_point=-128 bytes=784 name=x:0
         output 0: int8 [1,10] scale=0.00390625 zero_point=-128 bytes=10 name=y:0
         arena: 31284 of 40960 bytes used
       (every input and output, numbered from 0; name= only where the model
       names the tensor; scale 0 and zero_point 0 for a tensor not quantised)
    2 -> (MNIST-shaped models) inference: built-in digit, label 8
         layer 0 CONV_2D cycles=1234567 us=2057.611
         ...
         total cycles=12345678 us=20576.130
         outputs: -128 -128 ... 127
         predicted: 8
    3 + 784 pixel bytes -> (MNIST-shaped models) outputs: ... / predicted: N
    4 + records -> layer ... lines, total cycles=..., then per output
         output 0 values: -128 -127 ...   (decimal; float32 as %.9g, exact;
                                           bool as 0/1)
         output 1 hex: 00003c...          (float16, float64, others: raw bytes)
         done: 2 outputs
    any failure -> error: <one line>

Command 4's records: after the byte "4", one byte N (0-255), then N records,
each an input index (one byte), a length (uint32, little endian) and that
many raw bytes, the tensor's data as the board stores it (little endian,
row-major). An input not sent keeps its last contents (zeros after boot).
The length must equal the input's bytes=; a record with a wrong index or
length is read to its end and dropped, and the answer is one error line with
no inference. A pause of more than 2 s inside the payload ends the command:
"error: input 0 incomplete: 100 of 784 bytes arrived" (the bytes that came
stay in the input; nothing runs). An MNIST command on
another model says so in an error line (command 3 still reads its 784 bytes).
Every inference (2, 3, 4) starts from the model's initial state: its
variable tensors (an LSTM's state) are reset first.
"""
import re
from dataclasses import dataclass, field

INFO = b"1"
INFER_BUILTIN = b"2"
CLASSIFY = b"3"
RUN = b"4"
IMAGE_BYTES = 28 * 28
MAX_RECORDS = 255

READY = re.compile(r"teensyml: (ready|NOT READY), model (\S+), kernels (\S+), (\d+) MHz")
# The last line of each answer, with its line end: what a reader waits for.
# (Without the line end, a reader could stop at a line still arriving.)
INFO_END = re.compile(r"^(arena: [^\r\n]*|error: [^\r\n]*)\r?\n", re.M)
RESULT_END = re.compile(r"^(predicted: \d+|error: [^\r\n]*)\r?\n", re.M)
RUN_END = re.compile(r"^(done: \d+ outputs?|error: [^\r\n]*)\r?\n", re.M)
ERROR = re.compile(r"^error: (.*?)\r?$", re.M)

_MODEL = re.compile(r"^model: (\S+), (\d+) bytes, (\d+) operators, kernels (\S+)", re.M)
_TENSOR = re.compile(r"^(input|output) (\d+): (\w+) \[([\d,]*)\] scale=(\S+) "
                     r"zero_point=(-?\d+) bytes=(\d+)(?: name=([^\r\n]*))?\r?$", re.M)
_VALUES = re.compile(r"^output (\d+) (values|hex):((?: \S+)*)\r?$", re.M)
_DONE = re.compile(r"^done: (\d+) outputs?", re.M)
_ARENA = re.compile(r"^arena: (\d+) of (\d+) bytes used", re.M)
_LAYER = re.compile(r"^layer (\d+) (\S+) cycles=(\d+) us=([\d.]+)", re.M)
_TOTAL = re.compile(r"^total cycles=(\d+) us=([\d.]+)", re.M)
_OUTPUTS = re.compile(r"^outputs:((?: \S+)+)", re.M)
_PREDICTED = re.compile(r"^predicted: (\d+)", re.M)
_LABEL = re.compile(r"^inference: built-in digit, label (\d+)", re.M)


class ProtocolError(ValueError):
    """The firmware's answer is not what the protocol says (or says error:)."""


@dataclass(frozen=True)
class Tensor:
    index: int
    dtype: str                  # numpy's name: int8, float32, bool, ...
    shape: tuple
    scale: float                # 0.0 and 0 when not quantised
    zero_point: int
    bytes: int
    name: str = ""

    @property
    def quantized(self):
        return self.scale != 0.0


@dataclass(frozen=True)
class Description:
    model: str
    model_bytes: int
    operators: int
    kernels: str
    inputs: tuple               # of Tensor, by index
    outputs: tuple
    arena_used: int
    arena_size: int

    @property
    def input(self):
        return self.inputs[0]

    @property
    def output(self):
        return self.outputs[0]


@dataclass(frozen=True)
class Values:
    """One output of command 4: decimal numbers, or raw bytes."""
    index: int
    numbers: tuple = None       # ints, or floats for float32
    raw: bytes = None


@dataclass(frozen=True)
class Run:
    """The answer to command 4."""
    outputs: tuple              # of Values, by index
    layers: tuple
    total_cycles: int


@dataclass(frozen=True)
class Layer:
    index: int
    op: str
    cycles: int
    microseconds: float


@dataclass(frozen=True)
class Result:
    outputs: tuple              # ints (int8 model) or floats (float32 model)
    predicted: int
    layers: tuple = field(default=())
    total_cycles: int = None
    label: int = None


def _check_error(text):
    error = ERROR.search(text)
    if error:
        raise ProtocolError(f"the firmware says: {error.group(1).strip()}")


def _need(pattern, text, what):
    match = pattern.search(text)
    if not match:
        raise ProtocolError(f"no {what} line in the answer: {text!r}")
    return match


def parse_description(text):
    """The answer to `1`."""
    _check_error(text)
    model = _need(_MODEL, text, "model:")
    tensors = {"input": [], "output": []}
    for m in _TENSOR.finditer(text):
        role, index = m.group(1), int(m.group(2))
        if index != len(tensors[role]):
            raise ProtocolError(f"{role} {index} out of order in {text!r}")
        tensors[role].append(Tensor(index, m.group(3),
                                    tuple(int(d) for d in m.group(4).split(",") if d),
                                    float(m.group(5)), int(m.group(6)), int(m.group(7)),
                                    m.group(8) or ""))
    arena = _need(_ARENA, text, "arena:")
    return Description(model.group(1), int(model.group(2)), int(model.group(3)),
                       model.group(4), tuple(tensors["input"]), tuple(tensors["output"]),
                       int(arena.group(1)), int(arena.group(2)))


def _number(word):
    return int(word) if re.fullmatch(r"-?\d+", word) else float(word)


def _layers(text):
    return tuple(Layer(int(m.group(1)), m.group(2), int(m.group(3)), float(m.group(4)))
                 for m in _LAYER.finditer(text))


def parse_result(text):
    """The answer to `2` or `3`: outputs, prediction, and for `2` the layers."""
    _check_error(text)
    outputs = tuple(_number(word) for word in _need(_OUTPUTS, text, "outputs:").group(1).split())
    predicted = int(_need(_PREDICTED, text, "predicted:").group(1))
    layers = _layers(text)
    total = _TOTAL.search(text)
    label = _LABEL.search(text)
    return Result(outputs, predicted, layers, int(total.group(1)) if total else None,
                  int(label.group(1)) if label else None)


def classify_request(pixels):
    """The bytes of command `3` for 784 8-bit pixels."""
    data = bytes(pixels)
    if len(data) != IMAGE_BYTES:
        raise ValueError(f"an image is {IMAGE_BYTES} bytes, not {len(data)}")
    return CLASSIFY + data


def run_request(records):
    """The bytes of command 4: `records` is a sequence of (input index, raw
    bytes), sent in that order."""
    records = list(records)
    if len(records) > MAX_RECORDS:
        raise ValueError(f"command 4 carries at most {MAX_RECORDS} records, not {len(records)}")
    request = bytearray(RUN + bytes([len(records)]))
    for index, data in records:
        if not 0 <= index < 256:
            raise ValueError(f"an input index is one byte, not {index}")
        request += bytes([index]) + len(data).to_bytes(4, "little") + bytes(data)
    return bytes(request)


def parse_run(text):
    """The answer to `4`: every output's values, the layers and the total."""
    _check_error(text)
    count = int(_need(_DONE, text, "done:").group(1))
    outputs = []
    for m in _VALUES.finditer(text):
        index, form, words = int(m.group(1)), m.group(2), m.group(3).split()
        if index != len(outputs):
            raise ProtocolError(f"output {index} out of order in {text!r}")
        outputs.append(Values(index, raw=bytes.fromhex("".join(words))) if form == "hex"
                       else Values(index, numbers=tuple(_number(word) for word in words)))
    if len(outputs) != count:
        raise ProtocolError(f"{count} outputs announced, {len(outputs)} printed: {text!r}")
    total = _need(_TOTAL, text, "total")
    return Run(tuple(outputs), _layers(text), int(total.group(1)))
