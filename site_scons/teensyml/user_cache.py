"""The one directory the project caches things in for the user (MNIST, git
objects of `scons deps`, the emulator's compiled hooks, the object cache):
platformdirs' user cache directory, e.g. ~/.cache/teensyml on Linux."""
import os

APP_NAME = "teensyml"


def user_cache(*parts):
    """A path under the user's teensyml cache directory."""
    import platformdirs            # here: most importers never need it
    return os.path.join(platformdirs.user_cache_dir(APP_NAME), *parts)
