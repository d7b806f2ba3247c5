#!/usr/bin/env python3
"""Send test digits to a running firmware over a serial port (`3` command) and
report accuracy and agreement with TFLM's host runtime:

    tools/classify_serial.py PORT=/dev/ttyUSB0 --count 100
    tools/classify_serial.py PORT=/dev/pts/3 --digits models/test_digits.npz

Exit status: 0 when every prediction and output agrees with the host's,
1 when one does not (or the test digits hold no host outputs for the model),
2 for a bad option or no answer.
"""
import argparse
import os
import sys

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)

from teensyml.errors import cli  # noqa: E402
from teensyml.option_values import from_assignments, options_help  # noqa: E402

KEYS = ("PORT", "BAUD")
DIGITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "models",
                      "test_digits.npz")


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Classify test digits on the firmware over its serial console.",
        epilog="settings (KEY=VALUE, as for `scons monitor`):\n" + options_help(KEYS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("options", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--count", type=int, default=100, help="images to send (100)")
    parser.add_argument("--digits", default=DIGITS, help="the test-digit set (.npz)")
    parser.add_argument("--model", help="model name whose host outputs to compare with "
                                        "(default: what the firmware reports for `1`)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for each answer (60)")
    arguments = parser.parse_intermixed_args(argv)
    values = from_assignments(arguments.options, KEYS)
    from teensyml.model import digit_set
    from teensyml.classify_serial import Exchange, classify
    from teensyml.serial_link import SerialLink, candidate_ports, pick_port
    digits = digit_set.load(arguments.digits)
    port = pick_port(values["PORT"], [] if values["PORT"] else candidate_ports())
    link = SerialLink(port, values["BAUD"],
                      lambda text: print(text, file=sys.stderr))
    try:
        exchange = Exchange(link, arguments.timeout)
        exchange.connect()
        report = classify(exchange, digits, arguments.count, arguments.model)
    finally:
        link.close()
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
