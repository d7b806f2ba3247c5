"""Where the project's code is, computed once for the tools that need a path
to it (a child Python's PYTHONPATH, the files a step depends on)."""
import os

TEENSYML = os.path.dirname(os.path.abspath(__file__))
SITE_SCONS = os.path.dirname(TEENSYML)
ROOT = os.path.dirname(SITE_SCONS)      # the checkout
SITE_TOOLS = os.path.join(SITE_SCONS, "site_tools")
