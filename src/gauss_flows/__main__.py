"""``python -m gauss_flows``: the ``gauss-flows`` command line."""

import sys

from gauss_flows.cli import main

sys.exit(main())
