#!/bin/sh
# Runs inside the dom0 root file system (chroot) after debootstrap.
# Arguments: MIRROR SECURITY_MIRROR SUITE
# Plain debootstrap brings the point-release xen-utils; the hypervisor and the tools must be the
# same version, so both come from the updated suites, installed here in one transaction.
set -eu
mirror=$1 security=$2 suite=$3
cat > /etc/apt/sources.list <<EOS
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOS
# Nothing may start services inside the chroot.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
# The kernel package would build an initrd for itself (a minute of work); dom0 boots from its own
# initramfs, so update-initramfs becomes a no-op.
dpkg-divert --local --rename --add /usr/sbin/update-initramfs
ln -sf /bin/true /usr/sbin/update-initramfs
apt-get -q update
apt-get -q -y -o Dpkg::Options::=--force-confold upgrade
apt-get -q -y --no-install-recommends install xen-hypervisor-4.17-amd64 linux-image-amd64
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man /usr/share/info /usr/share/locale \
    /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log
# Kernel modules dom0 never loads (graphics, sound, wireless, ...) make most of the initramfs.
kdir=$(ls -d /lib/modules/* | tail -n 1)
for d in drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/infiniband \
         drivers/staging drivers/iio drivers/hid drivers/bluetooth drivers/usb drivers/input \
         drivers/isdn drivers/scsi drivers/md drivers/mtd drivers/platform drivers/hwmon \
         drivers/net/can drivers/net/usb drivers/firewire drivers/misc drivers/mfd drivers/thunderbolt \
         sound net/bluetooth net/wireless net/mac80211 net/netfilter net/ipv4/netfilter \
         net/ipv6/netfilter fs/ext4 fs/xfs fs/btrfs fs/ocfs2 fs/nfs fs/nfsd fs/cifs fs/smb fs/f2fs \
         fs/gfs2 fs/ceph fs/jfs fs/reiserfs fs/nilfs2 fs/ubifs fs/udf arch/x86/kvm; do
    rm -rf "$kdir/kernel/$d"
done
rm -rf /lib/firmware /usr/lib/udev/hwdb.d /usr/lib/udev/hwdb.bin /etc/udev/hwdb.bin
depmod "$(basename "$kdir")"
rm -f /usr/sbin/policy-rc.d /tmp/setup.sh
