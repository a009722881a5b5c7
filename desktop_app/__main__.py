"""`python -m desktop_app` runs the same command line as `sayso`."""

import sys

from desktop_app.cli import main

sys.exit(main())
