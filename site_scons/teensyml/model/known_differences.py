"""Known, bounded differences between a firmware's kernel set and TFLM's host
runtime: what to say when a comparison of outputs (`run-model COMPARE=1`,
tools/classify_serial.py) finds one, instead of a silent pass or an
unexplained failure.

    from teensyml import known_differences
    for known in known_differences.explain(model.operators, "cmsis_nn"):
        print(known.summary())

explain(operators, kernels) -> tuple of Difference records, in the order of
KNOWN, that apply to a model with these operators (names as TFLite spells
them, e.g. "UNIDIRECTIONAL_SEQUENCE_LSTM"; any iterable, duplicates allowed)
built with this kernel set ("reference" or "cmsis_nn"; "cmsis-nn", "CMSIS-NN",
"1"/"0" and True/False, as USE_CMSIS_NN, are accepted; anything else is a
ValueError). An empty tuple means that no difference is known: a difference
is then unexplained (int8 outputs are expected to agree bit for bit).

A Difference holds (and summary() says in a few lines):
    operator, kernels   the operator and the kernel sets it applies to
    cause               one line: what differs and why
    when                the condition under which outputs differ
    remedy              what makes the outputs agree again
    bound               tuple of Bound: what was measured, on the model each
                        names (an observation, not a guarantee for other models)
    docs                where the evidence is (path#anchor in this repository)

Use: compare first; only when outputs differ, explain() names the records
that may account for it (run_model.py reports them as KNOWN DIFFERENCE).

The difference known today is the LSTM's state. TFLM's reference LSTM keeps
its hidden and cell state in variable tensors across Invoke calls; CMSIS-NN's
LSTM starts every Invoke from zero and never writes them. The firmware calls
MicroInterpreter::Reset before every inference, so both kernel sets give
what the host runtime gives when it is reset before every image
(`interpreter.reset()` of the tflite-micro wheel) bit for bit; a host
runtime run as one stream of images, without reset, differs from both.

No import of SCons, numpy or TensorFlow: tools and tests import it freely.
"""
from dataclasses import dataclass

DOCS = "docs/model.md#the-lstm-under-cmsis-nn"
KERNEL_SETS = ("reference", "cmsis_nn")


@dataclass(frozen=True)
class Bound:
    """What was measured: over `images` test digits of `model`, the int8
    outputs differed on `differing` images, by at most `max_difference`,
    and `predictions_changed` predicted digits changed."""
    model: str
    images: int
    differing: int
    max_difference: int
    predictions_changed: int

    def summary(self):
        return (f"on {self.model}, {self.images} test digits: {self.differing} differ, "
                f"by up to {self.max_difference} (int8), {self.predictions_changed} "
                f"prediction(s) change")


@dataclass(frozen=True)
class Difference:
    operator: str
    kernels: tuple
    cause: str
    when: str
    remedy: str
    bound: tuple          # of Bound
    docs: str = DOCS

    def summary(self):
        """A few lines for a report."""
        lines = [f"known difference, {self.operator} ({', '.join(self.kernels)} kernels): "
                 f"{self.cause}",
                 f"  differs when: {self.when}",
                 f"  remedy: {self.remedy}"]
        lines += [f"  measured {bound.summary()}" for bound in self.bound]
        lines.append(f"  see {self.docs}")
        return "\n".join(lines)


LSTM_EXAMPLE = "TFLM's mnist_lstm example (trained_lstm_int8.tflite)"
# bench/lstm_difference.py: the host runtime as one stream against the host
# runtime reset per image, which is what each kernel set gives when its state
# handling and the host's disagree (docs/model.md has the full table).
LSTM_STATE_BOUND = (Bound(LSTM_EXAMPLE, 30, 12, 212, 3),
                    Bound(LSTM_EXAMPLE, 100, 35, 237, 6))
LSTM_WHEN = ("the host runtime is not reset before each image (one interpreter, one "
             "stream of images), or the firmware predates its per-inference Reset")
LSTM_REMEDY = ("reset the host interpreter before every image (tflite-micro: "
               "interpreter.reset()); then the outputs agree bit for bit")

KNOWN = (
    Difference(
        operator="UNIDIRECTIONAL_SEQUENCE_LSTM", kernels=("cmsis_nn",),
        cause=("CMSIS-NN's LSTM (arm_lstm_unidirectional_s8/s16) starts every Invoke from "
               "zero hidden and cell state and never reads or writes the state tensors; "
               "its arithmetic is the reference's, bit for bit"),
        when=LSTM_WHEN, remedy=LSTM_REMEDY, bound=LSTM_STATE_BOUND),
    Difference(
        operator="UNIDIRECTIONAL_SEQUENCE_LSTM", kernels=("reference",),
        cause=("TFLM's reference LSTM carries its hidden and cell state in variable "
               "tensors from one Invoke to the next; the firmware resets them before "
               "every inference"),
        when=LSTM_WHEN, remedy=LSTM_REMEDY, bound=LSTM_STATE_BOUND),
)


def kernel_set(kernels):
    """"reference" or "cmsis_nn" for the spellings explain() accepts."""
    if isinstance(kernels, bool):
        return "cmsis_nn" if kernels else "reference"
    text = str(kernels).strip().lower().replace("-", "_")
    names = {"reference": "reference", "0": "reference",
             "cmsis_nn": "cmsis_nn", "cmsisnn": "cmsis_nn", "1": "cmsis_nn"}
    if text not in names:
        raise ValueError(f"unknown kernel set {kernels!r}: one of {', '.join(KERNEL_SETS)}")
    return names[text]


def explain(operators, kernels):
    """The Difference records that apply to a model with `operators` built
    with the kernel set `kernels` (see the module docstring)."""
    if isinstance(operators, str):
        operators = (operators,)
    present = {str(operator).strip().upper() for operator in operators}
    chosen = kernel_set(kernels)
    return tuple(known for known in KNOWN
                 if known.operator in present and chosen in known.kernels)
