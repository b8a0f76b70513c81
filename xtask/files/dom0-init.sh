#!/bin/sh
# PID 1 of the lab's dom0: brings up the Xen toolstack, the guest network, the file share and
# the command agent, then prints XENOLITH-LAB-READY on the console.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
log() { echo "xenolith-lab: $*"; }
fail() { echo "XENOLITH-LAB-FAILED: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
# Without udev: Xen's hotplug scripts read /dev/fd and /dev/stdin (locking.sh spins otherwise).
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /run/xen /run/xenstored /run/lock /var/lib/xen /var/log/xen /tmp
hostname xenolith-lab-dom0

state=
for w in $(cat /proc/cmdline); do
    case "$w" in xenolith.state=*) state=${w#xenolith.state=} ;; esac
done

for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback xen-netback bridge loop \
         virtio_pci virtio_net 9pnet_virtio 9p; do
    modprobe "$m" || fail "modprobe $m"
done
mount -t xenfs xenfs /proc/xen || fail "mount xenfs"

mkdir -p /lab
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 lab /lab || fail "mount 9p share"
if [ -n "$state" ] && [ -d "/lab/$state" ]; then
    # xl's and xenconsoled's logs land in the host's lab state directory.
    mkdir -p "/lab/$state/xen-logs/console"
    mount --bind "/lab/$state/xen-logs" /var/log/xen || fail "bind xen logs"
fi
mkdir -p /var/log/xen/console

/usr/lib/xen-4.17/bin/xenstored --pid-file=/run/xenstored.pid
i=0
until xenstore-read /local >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 300 ] && { fail "xenstored did not answer"; break; }
    sleep 0.1
done
/usr/lib/xen-4.17/bin/xen-init-dom0 || fail "xen-init-dom0"
/usr/lib/xen-4.17/bin/xenconsoled --log=guest --log-dir=/var/log/xen/console || fail "xenconsoled"

# Guest network: bridge xenbr0 with dom0 at .1 and a DHCP server for the guests.
ip link set lo up
ip link add xenbr0 type bridge
ip addr add 10.99.0.1/24 dev xenbr0
ip link set xenbr0 up
# A second bridge for guests with two vifs.
ip link add xenbr1 type bridge
ip addr add 10.99.1.1/24 dev xenbr1
ip link set xenbr1 up
for br in 0 1; do
    cat > /run/udhcpd-xenbr$br.conf <<EOC
start 10.99.$br.100
end 10.99.$br.199
interface xenbr$br
lease_file /run/udhcpd-xenbr$br.leases
option subnet 255.255.255.0
option router 10.99.$br.1
option lease 3600
EOC
    touch /run/udhcpd-xenbr$br.leases
    busybox udhcpd /run/udhcpd-xenbr$br.conf || fail "udhcpd xenbr$br"
done

# Control network (QEMU user networking): the host reaches the agent through a port forward.
ctl=
for n in /sys/class/net/*; do
    [ "$(basename "$(readlink -f "$n/device/driver" 2>/dev/null)")" = virtio_net ] && ctl=$(basename "$n")
done
if [ -n "$ctl" ]; then
    ip addr add 10.0.2.15/24 dev "$ctl"
    ip link set "$ctl" up
    lab-agent 10.0.2.15:7000 </dev/null >/run/lab-agent.log 2>&1 &
else
    fail "no virtio_net control interface"
fi

log "xl: $(xl info 2>/dev/null | grep -E '^(xen_version|virt_caps)' | tr -s ' ' | tr '\n' ' ')"
echo "XENOLITH-LAB-READY"
while true; do sleep 3600; done
