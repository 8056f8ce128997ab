import sys

from domino import __version__


def main():
    print("domino (stand-in) " + __version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
