"""Fault drills: kill -9 at random moments, a full disk, a locked database, a misbehaving publisher,
hostile files in a normal batch, and Datasette under load while the served file is swapped. Each drill ends
by checking that nothing was lost. Run with `make drills` or `python -m tools.drills [--profile ci]`."""
