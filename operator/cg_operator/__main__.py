"""`python -m cg_operator`: the same command line as `cg-operator`."""

from cg_operator.cli import main

raise SystemExit(main())
