#!/usr/bin/env bash
# mmdebstrap customize hook of build.sh: configures the Debian tree "$1" as the appliance (after
# appliance/image/files has been copied in and the palaver package installed) and checks it.
# Environment: SSH=yes|no, APPLIANCE_HOSTNAME, ACME_EMAIL (build.sh's options).
set -euo pipefail
t=$1
in_tree() { chroot "$t" "$@"; }

# apt: Debian's public hosts only (the build mirror must not stay in the image), no lists.
rm -f "$t/etc/apt/sources.list" "$t"/etc/apt/sources.list.d/*
cat >"$t/etc/apt/sources.list.d/debian.sources" <<'EOT'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT

# dpkg in the image: mmdebstrap's path-excludes stay (no docs with upgrades either), its
# build-time force-unsafe-io goes.
sed -i '/^force-unsafe-io$/d' "$t/etc/dpkg/dpkg.cfg.d/99mmdebstrap"

# What dpkg's path-excludes missed (files unpacked before they applied).
find "$t/usr/share/doc" ! -type d ! -name copyright -delete
find "$t/usr/share/man" "$t/usr/share/info" ! -type d -delete 2>/dev/null || true

# Host name: a placeholder until the first boot picks palaver-<random> (or appliance.conf's).
echo palaver >"$t/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tpalaver\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$t/etc/hosts"
# The package's postinst took the build machine's name from `hostname -f`: the first boot writes it.
rm -f "$t/etc/palaver/palaver.cfg.d/00-hostname.cfg"
rm -rf "$t/var/lib/palaver"/*   # no state: the first start makes the CA, keys and admin password
ln -sf ../run/systemd/resolve/stub-resolv.conf "$t/etc/resolv.conf"

cat >"$t/etc/fstab" <<'EOT'
# <file system> <mount point> <type> <options> <dump> <pass>
LABEL=root  /          ext4  errors=remount-ro     0 1
LABEL=ESP   /boot/efi  vfat  umask=0077,nofail     0 2
EOT

if [ -n "${APPLIANCE_HOSTNAME:-}" ]; then
  sed -i "s|^#\?HOSTNAME=.*|HOSTNAME=$APPLIANCE_HOSTNAME|" "$t/etc/palaver/appliance.conf"
fi
if [ -n "${ACME_EMAIL:-}" ]; then
  sed -i "s|^#\?ACME_EMAIL=.*|ACME_EMAIL=$ACME_EMAIL|" "$t/etc/palaver/appliance.conf"
fi
chmod 0755 "$t/usr/lib/palaver-appliance"/*
chmod 0644 "$t/etc/palaver/appliance.conf"

# Services: networkd (DHCP), resolved, timesyncd, the appliance's own units; unattended security
# upgrades (apt.conf.d/20auto-upgrades from files/); SSH only when built with --ssh.
in_tree systemctl enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
  palaver-appliance.service palaver-appliance-console.service palaver.service >/dev/null 2>&1
in_tree systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1
# No LVM here: e2scrub's snapshot reaper only slowed the boot (40 s under emulation).
in_tree systemctl disable e2scrub_reap.service e2scrub_all.timer >/dev/null 2>&1
if [ "${SSH:-no}" = yes ]; then
  rm -f "$t"/etc/ssh/ssh_host_*   # made at the first boot, unique per VM
  in_tree systemctl enable ssh.service >/dev/null 2>&1
fi
# Root: no password until the first boot sets a random one (shown on the console, to be changed
# at the first login).
in_tree passwd -l root >/dev/null

# Boot: systemd-boot and the kernel in the ESP layout under /boot/efi (build.sh moves it into
# the FAT file system; in the VM the ESP is mounted there). What `bootctl install` does, by hand
# (it refuses a directory that is not a mounted ESP), without a random seed (each VM makes its
# own). kernel-install uses the entry token "palaver", not the machine id (unique per VM), so the
# kernel upgrades of unattended-upgrades inside the VM land in the same layout.
kver=$(find "$t/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
esp=$t/boot/efi
mkdir -p "$esp/EFI/BOOT" "$esp/EFI/systemd" "$esp/loader/entries" "$esp/palaver"
cp "$t/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$esp/EFI/systemd/systemd-bootx64.efi"
cp "$t/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$esp/EFI/BOOT/BOOTX64.EFI"
printf 'timeout 0\ndefault palaver-*\nconsole-mode keep\neditor no\n' >"$esp/loader/loader.conf"
echo type1 >"$esp/loader/entries.srel"
echo palaver >"$t/etc/kernel/entry-token"
echo layout=bls >"$t/etc/kernel/install.conf"
# quiet: kernel messages slow a boot on an emulated serial port; failures are shown anyway.
echo "root=LABEL=root rw console=tty0 console=ttyS0,115200 quiet" >"$t/etc/kernel/cmdline"
in_tree env BOOT_ROOT=/boot/efi kernel-install add "$kver" "/boot/vmlinuz-$kver" "/boot/initrd.img-$kver" 2>/dev/null
# /boot/efi is no mount point here, so the entry's paths start there; on the ESP they start at its root.
sed -i 's#^\(linux\|initrd\)\([[:space:]]*\)/boot/efi/#\1\2/#' "$esp"/loader/entries/palaver-*.conf

# Checks: what the appliance needs is there and on.
fail() { echo "customize.sh: $*" >&2; exit 1; }
grep -q "^linux */palaver/$kver/linux\$" "$esp/loader/entries/palaver-$kver.conf" || fail "no boot loader entry for $kver"
if [ ! -s "$esp/palaver/$kver/linux" ] || [ ! -s "$esp/palaver/$kver/initrd.img-$kver" ]; then
  fail "no kernel or initrd in the ESP"
fi
[ -f "$t/boot/efi/EFI/BOOT/BOOTX64.EFI" ] || fail "no EFI/BOOT/BOOTX64.EFI"
for unit in palaver.service palaver-appliance.service palaver-appliance-console.service systemd-networkd.service \
            systemd-timesyncd.service; do
  [ "$(in_tree systemctl is-enabled "$unit" 2>/dev/null)" = enabled ] || fail "$unit is not enabled"
done
[ -e "$t/etc/apt/apt.conf.d/20auto-upgrades" ] || fail "unattended-upgrades are not switched on"
if [ "${SSH:-no}" != yes ] && [ -e "$t/usr/sbin/sshd" ]; then fail "sshd is installed without --ssh"; fi
