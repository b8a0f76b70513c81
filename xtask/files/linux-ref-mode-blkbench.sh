# xenolith.mode=blkbench (sourced by the reference guest's init): block benchmarks on xvda with
# O_DIRECT, the same measurements as examples/blkcheck (/bin/blkbench, from
# xtask/files/linux-ref-mode-blkbench.rs). The disk is scratch: overwritten. Prints
# `xenolith-ref: blkbench: bench xvda ...` (or `blkbench: FAIL ...`), then `blkbench: done`.
if [ -b /dev/xvda ]; then
    say "$(/bin/blkbench /dev/xvda 2>&1)"
else
    say "blkbench: FAIL no /dev/xvda"
fi
say "blkbench: done"
