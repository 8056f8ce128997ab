# Prints the version of each installed distribution as Python sees it.
from importlib import metadata

import pip
import wheel

for name in ("pip", "setuptools", "wheel"):
    print(name, metadata.version(name))
