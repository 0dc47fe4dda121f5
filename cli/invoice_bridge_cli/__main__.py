"""`python -m invoice_bridge_cli` is the `invoice-bridge` command."""

import sys

from . import main

sys.exit(main())
