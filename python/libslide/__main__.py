"""`python -m libslide config --cflags --libs` (compiler and linker flags, see build_flags.py), or any `slide`
subcommand."""

import sys


def _main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "config":
        from .build_flags import main

        return main(sys.argv[2:])
    from .cli import main

    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(_main())
