#!/bin/sh
# Everything a fresh Debian machine needs to build, flash, emulate and test:
# the Arm cross toolchain with newlib and libstdc++, teensy_loader_cli, git
# (for `scons deps`), ccache, a host C compiler (the emulator's hooks), cmake
# (bench/calibration.py builds the original project with its own CMake), and
# the Python packages of requirements.txt (installed into the Python that runs
# this script; use a venv if you like).
set -eu
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "setup: installing Debian packages"
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi \
    libstdc++-arm-none-eabi-newlib teensy-loader-cli git ccache gcc make cmake >/dev/null
echo "setup: installing Python packages"
python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "setup: done. Next: scons deps (or scons deps MIRROR=<dir>), then scons."
