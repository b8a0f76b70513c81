# xenolith.mode=serve (sourced by the reference guest's init): the services the network benchmarks
# measure, as the Xenolith guests offer them: HTTP on port 80 (busybox httpd, the page examples/http
# serves), TCP echo on port 7, TCP discard on port 9, and on port 19 a TCP source that sends 8 MiB of
# zeros on each connection in 256 KiB writes (dd; busybox head writes 4 KiB at a time), then closes
# (busybox nc -ll: a process per connection).
cat > /tmp/index.html <<'EOP'
<!doctype html>
<html><head><title>Xenolith</title></head>
<body><h1>Hello from Xenolith</h1><p>A Rust unikernel on Xen PVH, serving HTTP through netfront and smoltcp.</p>
<p><a href="/stats">/stats</a></p></body></html>
EOP
httpd -p 80 -h /tmp 2>/dev/null || say "httpd failed"
printf '#!/bin/sh\nexec cat > /dev/null\n' > /tmp/discard.sh
chmod +x /tmp/discard.sh
nc -ll -p 9 -e /tmp/discard.sh > /dev/null 2>&1 &
printf '#!/bin/sh\nexec dd if=/dev/zero bs=262144 count=32 2>/dev/null\n' > /tmp/source.sh
chmod +x /tmp/source.sh
nc -ll -p 19 -e /tmp/source.sh > /dev/null 2>&1 &
nc -ll -p 7 -e /bin/cat > /dev/null 2>&1 &
say "serving"
