"""Makes the test helpers shared by the scenarios (molecule/shared/testlib) importable."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))
