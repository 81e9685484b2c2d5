"""`python -m spatialgan` entry point, the same as the `spatialgan` command."""

from spatialgan.cli import main

raise SystemExit(main())
