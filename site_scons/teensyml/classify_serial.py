"""Classify test digits on a running firmware over its serial console.

For each image of the committed test-digit set (models/test_digits.npz) it
sends the `3` command and the 784 pixel bytes, reads the ten outputs and the
predicted digit, and compares them with the labels and with what TFLM's host
runtime gave for the same image (bit for bit for int8 outputs, within a
tolerance for float32). Works with a board on a USB-UART adapter and with the
emulator's pseudo-terminal alike.

    report = classify(link, load_digits(path), count=100)
    print(report.summary())
"""
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from . import console_protocol as protocol
from . import interrupts
from .errors import UserError

FLOAT_TOLERANCE = 1e-5


@dataclass
class Report:
    model: str
    compared_with_host: bool
    count: int = 0
    correct: int = 0                 # predicted == label
    agree: int = 0                   # predicted == host prediction
    exact: int = 0                   # outputs within tolerance of the host's
    max_difference: float = 0.0
    seconds: float = 0.0
    disagreements: list = field(default_factory=list)   # (index, ours, host's)

    @property
    def ok(self):
        return self.compared_with_host and self.agree == self.count == self.exact

    def summary(self):
        text = (f"{self.count} images, model {self.model}: accuracy {self.correct}/"
                f"{self.count} ({self.correct / max(self.count, 1):.1%}) against the labels")
        if self.compared_with_host:
            text += (f"; predictions agree with TFLM's host runtime on {self.agree}/"
                     f"{self.count}; outputs match on {self.exact}/{self.count} "
                     f"(largest difference {self.max_difference:g})")
        else:
            text += f"; the test digits hold no host outputs for {self.model}"
        text += f"; {self.seconds / max(self.count, 1):.2f} s per image"
        for index, ours, host in self.disagreements[:10]:
            text += f"\n  image {index}: predicted {ours}, host {host}"
        return text


def answer(data, end, parse):
    """parse(text) of the answer in `data` once `end` (a console_protocol
    pattern) shows it is complete; None before that."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if not end.search(text):
        return None
    try:
        return parse(text)
    except protocol.ProtocolError as error:
        raise UserError(f"Unexpected answer from the firmware: {error}.") from None


class Exchange:
    """Request/answer over a serial link (teensyml.serial_link.SerialLink)."""

    def __init__(self, link, timeout):
        self.link, self.timeout = link, timeout
        self.stop = threading.Event()      # never set: the exchange ends by deadline

    def connect(self):
        if not self.link.connect(self.stop, time.monotonic() + self.timeout):
            raise UserError(f"{self.link.port} did not appear within {self.timeout:g} s.")

    def request(self, payload, end, parse):
        self.link.discard_input()
        if not self.link.write(payload):
            raise UserError(f"Could not write to {self.link.port}.")
        return self.read(end, parse)

    def read(self, end, parse):
        data, deadline = b"", time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if interrupts.received() is not None:
                raise interrupts.Interrupted(interrupts.received(), "while waiting for an answer")
            data += self.link.read(self.stop, deadline)
            result = answer(data, end, parse)
            if result is not None:
                return result
        raise UserError(f"No answer from {self.link.port} within {self.timeout:g} s "
                        f"(received {data[-200:]!r}). Is the firmware running, on this port?")


def firmware_model(exchange):
    """The model name the firmware reports for command 1."""
    return exchange.request(protocol.INFO, protocol.INFO_END,
                            protocol.parse_description).model


def classify(exchange, digits, count, model=None):
    """Send `count` test images; a Report of how the answers compare."""
    if not 0 < count <= len(digits.images):
        raise UserError(f"COUNT must be 1..{len(digits.images)} (the test digits hold "
                        f"{len(digits.images)} images).")
    model = model or firmware_model(exchange)
    host_outputs = digits.outputs.get(model)
    report = Report(model, host_outputs is not None)
    started = time.monotonic()
    for index in range(count):
        image = np.ascontiguousarray(digits.images[index], dtype=np.uint8)
        result = exchange.request(protocol.classify_request(image.tobytes()),
                                  protocol.RESULT_END, protocol.parse_result)
        outputs, predicted = result.outputs, result.predicted
        report.count += 1
        report.correct += int(predicted == int(digits.labels[index]))
        if host_outputs is None:
            continue
        expected = host_outputs[index]
        ours = np.array([float(value) for value in outputs], dtype=np.float64)
        difference = float(np.max(np.abs(ours - expected.astype(np.float64))))
        report.max_difference = max(report.max_difference, difference)
        tolerance = 0.0 if expected.dtype.kind == "i" else FLOAT_TOLERANCE
        report.exact += int(difference <= tolerance)
        host_predicted = int(digits.predicted[model][index])
        if predicted == host_predicted:
            report.agree += 1
        else:
            report.disagreements.append((index, predicted, host_predicted))
    report.seconds = time.monotonic() - started
    return report
