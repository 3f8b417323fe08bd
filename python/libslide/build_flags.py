"""Compiler and linker flags for C programs using the libslide installed inside this Python package."""

from __future__ import annotations

import argparse
import os

_PKG = os.path.dirname(os.path.abspath(__file__))


def include_dir() -> str:
    return os.path.join(_PKG, "include")


def library_dir() -> str:
    return os.path.join(_PKG, "_lib")


def cflags() -> str:
    return f"-I{include_dir()}"


def libs() -> str:
    d = library_dir()
    return f"-L{d} -lslide -Wl,-rpath,{d}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m libslide config",
                                description="Print the flags a C program needs to use the installed libslide.")
    p.add_argument("--cflags", action="store_true", help="compiler flags (include path)")
    p.add_argument("--libs", action="store_true", help="linker flags (library path, -lslide, rpath)")
    a = p.parse_args(argv)
    if not (a.cflags or a.libs):
        p.error("give --cflags and/or --libs")
    parts = ([cflags()] if a.cflags else []) + ([libs()] if a.libs else [])
    print(" ".join(parts))
    return 0
