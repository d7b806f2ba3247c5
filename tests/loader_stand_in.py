"""A stand-in for teensy_loader_cli, first on PATH: it records how it was run
(argv, pid, the HEX it was given) and then follows a script of outputs,
pauses, a hang, a signal and an exit status. No board is needed."""
import json
import os
import stat
import sys

import pytest

STAND_IN = f"""#!{sys.executable}
# Plays teensy_loader_cli: records how it was run, then follows a script.
import json, os, sys, time
record = {{"argv": sys.argv, "pid": os.getpid()}}
hex_path = sys.argv[-1]
if os.path.exists(hex_path):
    record["hex"] = open(hex_path).read()
json.dump(record, open(os.environ["STANDIN_RECORD"], "w"))
behaviour = json.load(open(os.environ["STANDIN_BEHAVIOUR"]))
for step, *argument in behaviour["steps"]:
    if step == "out":
        sys.stdout.write(argument[0]); sys.stdout.flush()
    elif step == "err":
        sys.stderr.write(argument[0]); sys.stderr.flush()
    elif step == "sleep":
        time.sleep(argument[0])
    elif step == "hang":
        time.sleep(3600)
    elif step == "signal":
        os.kill(os.getpid(), argument[0])
record["finished"] = time.time()
json.dump(record, open(os.environ["STANDIN_RECORD"], "w"))
sys.exit(behaviour.get("status", 0))
"""

# What the real tool prints, line by line.
BANNER = "Teensy Loader, Command Line, Version 2.2\n"
READ = 'Read "firmware.hex": 10252 bytes, 0.5% usage\n'
WAITING = "Waiting for Teensy device...\n (hint: press the reset button)\n"
FOUND = "Found HalfKay Bootloader\n"


class StandIn:
    def __init__(self, directory):
        self.bin = directory / "bin"
        self.bin.mkdir()
        tool = self.bin / "teensy_loader_cli"
        tool.write_text(STAND_IN)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
        self.record = directory / "record.json"
        self.behaviour = directory / "behaviour.json"

    def script(self, *steps, status=0):
        self.behaviour.write_text(json.dumps({"steps": steps, "status": status}))

    @property
    def ran(self):
        return self.record.exists()

    def recorded(self):
        return json.loads(self.record.read_text())


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    tool = StandIn(tmp_path)
    monkeypatch.setenv("PATH", f"{tool.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_RECORD", str(tool.record))
    monkeypatch.setenv("STANDIN_BEHAVIOUR", str(tool.behaviour))
    return tool
