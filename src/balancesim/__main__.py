"""`python -m balancesim`: the command line, as the `balancesim` script."""

from balancesim.cli.main import program

if __name__ == "__main__":
    program()
