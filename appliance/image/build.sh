#!/usr/bin/env bash
# Builds the Palaver appliance: a bootable UEFI disk image (qcow2) of Debian 12 with the palaver
# .deb installed, made without mounts or loop devices (docs: appliance/image/README.md).
#
#   appliance/image/build.sh OUT.qcow2 [--deb FILE] [--ssh] [--kernel cloud|generic]
#                            [--hostname NAME --acme-email ADDRESS] [--cache DIR] [--keep-tree DIR]
#
# --deb FILE      the package to install (default: build one with scripts/package.sh from ./build)
# --ssh           install openssh-server (off by default; host keys are made at first boot)
# --kernel        cloud (default: virtio, smallest; QEMU/KVM, Proxmox, OpenStack) or generic
#                 (Debian's full kernel: VMware, VirtualBox, Hyper-V, real hardware)
# --hostname, --acme-email   written to /etc/palaver/appliance.conf (both: ACME on at first boot)
# --cache DIR     mmdebstrap's package cache, kept between builds (default: build/image-cache)
# --keep-tree DIR keep the finished root file system tree there (tests inspect it)
# --from-tree DIR make the disk from such a kept tree instead of running mmdebstrap (development)
#
# Needs root, and: mmdebstrap debian-archive-keyring dosfstools mtools fdisk e2fsprogs qemu-utils
# (scripts/deps.sh image). Packages come from the Debian mirror this machine's apt uses; the
# image's own apt sources name only Debian's public hosts (deb.debian.org, security.debian.org).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() { sed -n '5,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
out="" deb="" ssh=no kernel=cloud hostname="" acme_email="" cache="$root/build/image-cache" keep_tree="" from_tree=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$2; shift 2 ;;
    --ssh) ssh=yes; shift ;;
    --kernel) kernel=$2; shift 2 ;;
    --hostname) hostname=$2; shift 2 ;;
    --acme-email) acme_email=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --keep-tree) keep_tree=$2; shift 2 ;;
    --from-tree) from_tree=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "build.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out=$1; shift ;;
  esac
done
[ -n "$out" ] || usage
case "$kernel" in cloud) kpkg=linux-image-cloud-amd64 ;; generic) kpkg=linux-image-amd64 ;;
  *) echo "build.sh: --kernel cloud|generic" >&2; exit 2 ;; esac
if [ -n "$hostname" ] && ! printf '%s' "$hostname" | grep -Eq '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$'; then
  echo "build.sh: --hostname '$hostname' is not a DNS name" >&2; exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "build.sh: needs root (mmdebstrap in root mode keeps file owners)" >&2; exit 2; }
for tool in mmdebstrap mkfs.fat mmd mcopy sfdisk mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing (scripts/deps.sh image)" >&2; exit 2; }
done

t0=$(date +%s)
say() { echo "[build.sh $(($(date +%s) - t0))s] $*" >&2; }

# The Debian archive and its security archive, as this machine's apt has them (deb822 .sources or
# sources.list); Debian's public hosts when there is none. Used only while building.
mirrors() {
  local main="" security=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    # One block per paragraph: its URIs and Suites.
    while IFS='|' read -r uri suites; do
      case " $suites " in
        *" bookworm-security "*) [ -n "$security" ] || security=$uri ;;
        *" bookworm "*) [ -n "$main" ] || main=$uri ;;
      esac
    done < <(awk 'BEGIN{RS=""; FS="\n"} {u=""; s=""; for (i=1;i<=NF;i++) {
                 if ($i ~ /^URIs:/) {sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); u=a[1]}
                 if ($i ~ /^Suites:/) {sub(/^Suites:[ \t]*/, "", $i); s=$i} } if (u != "") print u "|" s}' "$f")
  done
  if [ -f /etc/apt/sources.list ]; then
    [ -n "$main" ] || main=$(awk '$1=="deb" && $0 ~ / bookworm / {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    [ -n "$security" ] || security=$(awk '$1=="deb" && $0 ~ / bookworm-security / {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  main=${main:-http://deb.debian.org/debian}
  security=${security:-http://security.debian.org/debian-security}
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' "$main" "$main" "$security"
}
# The build mirrors' host names other than Debian's public ones: none may stay in the image.
build_mirror_hosts=$(mirrors | awk '{split($2, a, "/"); print a[3]}' | sort -u | grep -vxE 'deb\.debian\.org|security\.debian\.org' || true)

work=$(mktemp -d "${TMPDIR:-/tmp}/palaver-image.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
tree="$work/root"
mkdir -p "$cache" "$(dirname "$out")" "$tree"

includes=systemd,systemd-sysv,udev,dbus,"$kpkg",initramfs-tools,zstd,e2fsprogs,systemd-boot,systemd-timesyncd
includes+=,systemd-resolved,unattended-upgrades,ca-certificates,hostname,iproute2,procps,less,nano,curl,sqlite3
[ "$ssh" = yes ] && includes+=,openssh-server

if [ -n "$from_tree" ]; then
  say "copying $from_tree"
  cp -a "$from_tree/." "$tree/"
else
  if [ -z "$deb" ]; then
    say "building the package (scripts/package.sh)"
    deb=$("$root/scripts/package.sh" "$root/build" | tail -n 1)
  fi
  [ -f "$deb" ] || { echo "build.sh: no package $deb" >&2; exit 2; }
  deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")

  mirrors >"$work/build.list"
  say "mmdebstrap (bookworm, $kpkg, palaver $(dpkg-deb -f "$deb" Version))"
  # dpkg without fsync while building (customize.sh takes that out of the image's dpkg.cfg.d).
  # Hooks: the package cache goes in and out (rebuilds fetch nothing new); the files of
  # appliance/image/files are copied in; the palaver .deb is installed with apt (its dependencies
  # from the mirror, with this machine's resolv.conf: systemd-resolved's postinst made the tree's a
  # link to its stub, which does not answer in a chroot); customize.sh configures the rest and
  # checks the result.
  # shellcheck disable=SC2016  # "$1" in the hooks is mmdebstrap's, expanded by the hook's shell
  mmdebstrap --variant=minbase --mode=root --format=directory --include="$includes" --dpkgopt=force-unsafe-io \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
    --setup-hook="sync-in '$cache' /var/cache/apt/archives/" \
    --customize-hook="copy-in '$deb' /tmp" \
    --customize-hook='rm -f "$1/etc/resolv.conf" && cp /etc/resolv.conf "$1/etc/resolv.conf"' \
    --customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/$(basename "$deb") >/dev/null" \
    --customize-hook="sync-out /var/cache/apt/archives '$cache'" \
    --customize-hook="sync-in '$here/files' /" \
    --customize-hook="env SSH=$ssh APPLIANCE_HOSTNAME='$hostname' ACME_EMAIL='$acme_email' '$here/customize.sh' \"\$1\"" \
    bookworm "$tree" "$work/build.list" 2>&1 | while IFS= read -r line; do printf '%(%T)T %s\n' -1 "$line"; done \
      >"$out.mmdebstrap.log" || {
      tail -n 40 "$out.mmdebstrap.log" >&2; echo "build.sh: mmdebstrap failed (log: $out.mmdebstrap.log)" >&2; exit 1; }
  rm -f "$cache"/lock "$cache"/partial/* 2>/dev/null || true
fi

# Nothing of this machine's mirror stays in the image (apt's lists are gone; the sources name
# Debian's public hosts).
for host in $build_mirror_hosts; do
  if grep -rlsF "$host" "$tree" >"$work/leaks"; then
    echo "build.sh: the build mirror's host name is in these files of the image:" >&2; cat "$work/leaks" >&2; exit 1
  fi
done

if [ -n "$keep_tree" ]; then  # hard links when on the same file system (nothing below changes a file)
  rm -rf "$keep_tree"; mkdir -p "$keep_tree"
  cp -al "$tree/." "$keep_tree/" 2>/dev/null || { rm -rf "$keep_tree"; mkdir -p "$keep_tree"; cp -a "$tree/." "$keep_tree/"; }
fi

# The ESP's content was made inside the tree under /boot/efi (customize.sh); it
# leaves the tree and goes into a FAT32 file system made without mounting it.
say "disk: ESP"
esp_dir="$tree/boot/efi"
esp="$work/esp.img"
esp_mib=128
truncate -s ${esp_mib}M "$esp"
mkfs.fat -F 32 -n ESP "$esp" >/dev/null
(cd "$esp_dir" && find . -mindepth 1 -type d | sed 's|^\./||' | sort | while read -r d; do mmd -i "$esp" "::$d"; done
 find . -type f | sed 's|^\./||' | while read -r f; do mcopy -i "$esp" -p "$f" "::$f"; done)
find "$esp_dir" -mindepth 1 -delete


# Root: ext4 filling a 4 GiB disk (room for logs, upgrades and kernels; the qcow2 stores only the
# used blocks), more if the tree needs it.
used_mib=$(du -sm "$tree" | cut -f1)
root_mib=$((4096 - 1 - esp_mib - 1))
[ $((used_mib * 13 / 10 + 384)) -le $root_mib ] || root_mib=$((used_mib * 13 / 10 + 384))
say "disk: root file system (mkfs.ext4 -d)"
rootfs="$work/root.img"
truncate -s ${root_mib}M "$rootfs"
mkfs.ext4 -q -L root -d "$tree" -E root_owner=0:0 "$rootfs"

# GPT: ESP at 1 MiB, root after it (x86-64 root type: systemd's gpt-auto and bootctl know it).
raw="$work/disk.raw"
total_mib=$((1 + esp_mib + root_mib + 1))
truncate -s ${total_mib}M "$raw"
sfdisk -q "$raw" <<EOT
label: gpt
start=2048, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"
start=$(((1 + esp_mib) * 2048)), size=$((root_mib * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root"
EOT
dd if="$esp" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$rootfs" of="$raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
rm -f "$esp" "$rootfs"
rm -rf "$tree"

say "qcow2 (compressed)"
qemu-img convert -c -O qcow2 "$raw" "$out.part"
mv "$out.part" "$out"
say "done: $out ($(($(stat -c %s "$out") / 1048576)) MiB; root file system ${used_mib} MiB used of ${root_mib} MiB)"
