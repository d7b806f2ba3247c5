"""`import bootstrap` first in a script of tools/ or bench/: site_scons/ goes
on sys.path, so the script imports teensyml as the build does (then
teensyml.paths has the project's locations). bench/bootstrap.py is a link to
this file."""
import os
import sys

SITE_SCONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "site_scons")
if SITE_SCONS not in sys.path:
    sys.path.insert(0, SITE_SCONS)
