"""The firmware's console protocol, host side: the commands and their answers.

The firmware (src/app/main.cc) answers one-byte commands with lines ending in
CR LF; the README shows them. Everything that talks to it (tests, the classify
tool, benchmarks) parses them here, so the format lives in two places only:
the firmware that prints it and this module that reads it.

    teensyml: ready, model mnist_int8, kernels cmsis_nn, 600 MHz      (at boot)

    1 -> model: mnist_int8, 104320 bytes, 9 operators, kernels cmsis_nn
         input: int8 [1,28,28,1] scale=0.00392156886 zero_point=-128
         output: int8 [1,10] scale=0.00390625 zero_point=-128
         arena: 31284 of 40960 bytes used
    2 -> inference: built-in digit, label 8
         layer 0 CONV_2D cycles=1234567 us=2057.611
         ...
         total cycles=12345678 us=20576.130
         outputs: -128 -128 ... 127
         predicted: 8
    3 + 784 pixel bytes -> outputs: ... / predicted: N
    any failure -> error: <one line>
"""
import re
from dataclasses import dataclass, field

INFO = b"1"
INFER_BUILTIN = b"2"
CLASSIFY = b"3"
IMAGE_BYTES = 28 * 28

READY = re.compile(r"teensyml: (ready|NOT READY), model (\S+), kernels (\S+), (\d+) MHz")
# The last line of each answer, with its line end: what a reader waits for.
# (Without the line end, a reader could stop at a line still arriving.)
INFO_END = re.compile(r"^arena: [^\r\n]*\r?\n", re.M)
RESULT_END = re.compile(r"^(predicted: \d+|error: [^\r\n]*)\r?\n", re.M)
ERROR = re.compile(r"^error: (.*?)\r?$", re.M)

_MODEL = re.compile(r"^model: (\S+), (\d+) bytes, (\d+) operators, kernels (\S+)", re.M)
_TENSOR = re.compile(r"^(input|output): (\w+) \[([\d,]*)\] scale=(\S+) zero_point=(-?\d+)",
                     re.M)
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
    dtype: str
    shape: tuple
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Description:
    model: str
    model_bytes: int
    operators: int
    kernels: str
    input: Tensor
    output: Tensor
    arena_used: int
    arena_size: int


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
    tensors = {m.group(1): Tensor(m.group(2), tuple(int(d) for d in m.group(3).split(",") if d),
                                  float(m.group(4)), int(m.group(5)))
               for m in _TENSOR.finditer(text)}
    if set(tensors) != {"input", "output"}:
        raise ProtocolError(f"input: and output: lines expected in {text!r}")
    arena = _need(_ARENA, text, "arena:")
    return Description(model.group(1), int(model.group(2)), int(model.group(3)),
                       model.group(4), tensors["input"], tensors["output"],
                       int(arena.group(1)), int(arena.group(2)))


def _number(word):
    return int(word) if re.fullmatch(r"-?\d+", word) else float(word)


def parse_result(text):
    """The answer to `2` or `3`: outputs, prediction, and for `2` the layers."""
    _check_error(text)
    outputs = tuple(_number(word) for word in _need(_OUTPUTS, text, "outputs:").group(1).split())
    predicted = int(_need(_PREDICTED, text, "predicted:").group(1))
    layers = tuple(Layer(int(m.group(1)), m.group(2), int(m.group(3)), float(m.group(4)))
                   for m in _LAYER.finditer(text))
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
