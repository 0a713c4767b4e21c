"""nbval runs each notebook in a kernel that inherits this process's environment: set it here.

One torch thread by default (override: MINIPPLUG_TEST_THREADS), as the unit tests do: on two cores shared
with other work, two spinning torch threads made every forward many times slower. Loads stay quiet.
"""

import os

os.environ.setdefault("MINIPPLUG_THREADS", os.environ.get("MINIPPLUG_TEST_THREADS", "1"))
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
