"""The tables of docs/reproduction.md, from the outputs of `make repro-superclass` and `make repro-spurious`."""
