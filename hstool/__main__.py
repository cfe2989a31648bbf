"""`python -m hstool` is the same as the `hs` console script (used by torchrun, too)."""

from hstool.cli.app import main

if __name__ == "__main__":
    main()
