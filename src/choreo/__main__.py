import os
import sys

from choreo.cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    # Under torchrun, leave without running C++ static destructors: tearing down gloo's threads at interpreter
    # exit sometimes aborts a finished process ("terminate called without an active exception"), which
    # torchrun then reports as a failed run. Everything was written (atomically) and closed before this.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
