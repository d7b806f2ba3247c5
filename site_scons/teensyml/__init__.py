"""Build logic for TFLM firmware on the Teensy 4.0.

Plain Python, importable and testable without SCons: the SCons tools in
site_scons/site_tools/ only wire these modules into builders and aliases.
"""
