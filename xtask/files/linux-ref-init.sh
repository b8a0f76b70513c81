#!/bin/busybox sh
# PID 1 of the Linux PVH reference guest: xen-netfront, xen-blkfront, DHCP, a disk marker.
# Kernel command line: xenolith.mode=run (default: report and power off) | test (stay up until
# `xl shutdown`) | NAME (a benchmark mode: runs /modes/NAME.sh, from xtask/files/linux-ref-mode-NAME.sh);
# xenolith.nonce=WORD (written into the disk marker so a test cannot read a stale one).
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "xenolith-ref: $*" > /dev/console; }
# `xl shutdown` makes the kernel run /sbin/poweroff: power off for real, at once.
rm -f /sbin/poweroff
printf '#!/bin/sh\necho "xenolith-ref: poweroff requested" > /dev/console\nsync\nexec /bin/busybox poweroff -f\n' > /sbin/poweroff
chmod +x /sbin/poweroff

mode=run nonce=none
for w in $(cat /proc/cmdline); do
    case "$w" in
        xenolith.mode=*) mode=${w#xenolith.mode=} ;;
        xenolith.nonce=*) nonce=${w#xenolith.nonce=} ;;
    esac
done
say "init (mode=$mode)"
insmod /lib/modules/xen-netfront.ko || say "insmod xen-netfront failed"
insmod /lib/modules/xen-blkfront.ko || say "insmod xen-blkfront failed"

cat > /tmp/udhcpc.sh <<'EOS'
#!/bin/sh
case "$1" in
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
        echo "xenolith-ref: ip=$ip dev=$interface" > /dev/console ;;
esac
EOS
chmod +x /tmp/udhcpc.sh
ip link set lo up
for n in /sys/class/net/eth*; do
    [ -e "$n" ] || continue
    dev=$(basename "$n")
    ip link set "$dev" up
    udhcpc -i "$dev" -s /tmp/udhcpc.sh -q -n -t 20 -T 1 >/dev/null 2>&1 || say "dhcp failed on $dev"
done

if [ -b /dev/xvda ]; then
    printf 'XENOLITH-REF-MARKER %s\n' "$nonce" | dd of=/dev/xvda bs=512 count=1 conv=sync,fsync 2>/dev/null \
        && say "disk marker written to xvda" || say "disk write failed"
fi

case "$mode" in
    run) say "done"; /sbin/poweroff ;;
    test) ;;
    *)
        # Benchmark modes, one file each: xtask/files/linux-ref-mode-NAME.sh.
        if [ -f "/modes/$mode.sh" ]; then . "/modes/$mode.sh"; else say "unknown mode $mode"; fi ;;
esac
say "ready"
while true; do sleep 3600; done
