"""Shared test set-up: headless plotting, single-threaded small problems."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
