"""Developer tools (benchmarks, fault drills): not installed with the package."""
