# xenolith.mode=blkbench (sourced by the reference guest's init): block benchmarks on xvda.
say "blkbench: not written yet"
