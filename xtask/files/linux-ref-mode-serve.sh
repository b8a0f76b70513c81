# xenolith.mode=serve (sourced by the reference guest's init): services for the network benchmarks.
httpd -p 80 -h /tmp 2>/dev/null
say "serving"
