#!/usr/bin/env bash
# Builds the easd appliance root filesystem for the rpi4-aarch64 board profile:
# Debian (the host's suite, bookworm) arm64 + easd + its systemd units + board config,
# as a raw ext4 image plus a zstd copy. See image/README.md.
#
#   1. host packages (debootstrap qemu-system-arm qemu-utils e2fsprogs zstd cpio ...);
#   2. Debian's arm64 kernel and busybox-static .debs through a private apt tree (the
#      host's mirror and keyring), and a small initramfs (image/initramfs-init);
#   3. base tree, CACHED in $IMAGE_CACHE/base-<key>.tar.zst (key: suite, arch, variant,
#      package list, mirror, initramfs-init): `debootstrap --foreign` on the host, then
#      `debootstrap --second-stage` inside qemu-system-aarch64 (TCG, no binfmt/chroot),
#      which tars the finished tree onto a second virtual disk;
#   4. easd: the aarch64 release binary (cargo, unless EASD_BIN is given);
#   5. assembly on the host: base tree + easd + units + config + network + first boot;
#   6. mkfs.ext4 -d (raw image, label easd-root) and zstd.
#
# Environment:
#   IMAGE_WORK   work dir (default ~/.cache/easd-image); IMAGE_CACHE (default $IMAGE_WORK/cache)
#   IMAGE_OUT    output dir (default $IMAGE_WORK/out): easd-rpi4-aarch64.ext4(.zst)
#   IMAGE_BOARD  board profile (default rpi4-aarch64)
#   IMAGE_MIRROR Debian mirror (default: the host's apt mirror)
#   IMAGE_HOSTNAME  easd's host name (certificate, admin@; default easd.home.arpa);
#                the box's /etc/hostname is its first label
#   IMAGE_ROOT_PASSWORD  root password; empty (default) = passwordless root login on
#                the console (development image; there is no SSH server)
#   EASD_BIN     use this aarch64 easd binary instead of building it
#   CARGO_TARGET_DIR  for the cross build (default: the repository's target/)
#   IMAGE_REBUILD_BASE=1  ignore the cached base tree
#   IMAGE_SLIM=0 keep translations, manuals and package docs (default 1: removed)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BOARD=${IMAGE_BOARD:-rpi4-aarch64}
OUT=${IMAGE_OUT:-$WORK/out}
HOSTNAME_=${IMAGE_HOSTNAME:-easd.home.arpa}
VARIANT=minbase
# Base packages on top of minbase: an init, device manager, networking (networkd +
# resolved), time sync (the Pi has no RTC: TLS needs a sane clock), modules, and the
# time zone database easd reads its IANA zones from (tzdata: not bundled in the binary;
# of priority "required" in bookworm, named here so that no suite or variant drops it).
INCLUDE=systemd,systemd-sysv,udev,kmod,dbus,iproute2,netbase,ca-certificates,systemd-resolved,systemd-timesyncd,procps,less,tzdata
BASE_VERSION=2   # bump to invalidate cached base trees when the recipe changes

board_dir=$REPO_DIR/board/$BOARD
[[ -f $board_dir/board.toml ]] || die "no board profile $board_dir"
board_get() { sed -n -E "s/^$1[[:space:]]*=[[:space:]]*\"([^\"]*)\".*/\1/p" "$board_dir/board.toml" | awk 'NR == 1'; }
[[ $(board_get debian_arch) == "$ARCH" ]] || die "board $BOARD is $(board_get debian_arch), this recipe builds $ARCH"
TARGET=$(board_get target)

status_line() { local rc=$?; print_timings; if [[ $rc == 0 ]]; then echo "build-rootfs.sh: OK"; else echo "build-rootfs.sh: FAILED (rc=$rc) in: $step_name"; fi; }
trap status_line EXIT
mkdir -p "$WORK" "$CACHE" "$OUT"

# --- 1
step "host packages"
ensure_packages debootstrap qemu-system-arm qemu-utils e2fsprogs zstd cpio gzip xz-utils \
    debian-archive-keyring systemd kmod
done_step

# --- 2
step "kernel + initramfs"
build_boot_files
done_step

# --- 3
MIRROR=$(host_mirror)
# Not keyed on initramfs-init (its boot mode may change without touching the second
# stage): bump BASE_VERSION when the second-stage recipe changes.
base_key=$(echo "$BASE_VERSION $SUITE $ARCH $VARIANT $INCLUDE $MIRROR" | sha256sum | cut -c1-16)
BASE_TAR=$CACHE/base-$SUITE-$ARCH-$base_key.tar.zst
if [[ ${IMAGE_REBUILD_BASE:-0} == 1 ]]; then rm -f "$BASE_TAR"; fi
if [[ -s $BASE_TAR ]]; then
    step "base tree"
    log "cached: $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
    done_step cached
else
    b=$WORK/base-build
    rm -rf "$b"; mkdir -p "$b"
    step "debootstrap first stage (host)"
    log "debootstrap --foreign --arch=$ARCH --variant=$VARIANT $SUITE from $MIRROR"
    debootstrap --foreign --arch="$ARCH" --variant="$VARIANT" --include="$INCLUDE" \
        "$SUITE" "$b/root" "$MIRROR" >"$b/stage1.log" 2>&1 \
        || { tail -n 30 "$b/stage1.log"; die "debootstrap first stage failed (log: $b/stage1.log)"; }
    done_step

    step "debootstrap second stage (qemu-system-aarch64, TCG)"
    mkfs.ext4 -q -F -L easd-stage2 -d "$b/root" "$b/stage2.ext4" 3G
    rm -f "$b/out.tar"; truncate -s 3G "$b/out.tar"
    set +e
    run_qemu "${STAGE2_TIMEOUT:-3600}" "$b/stage2-console.log" \
        "console=ttyAMA0 panic=-1 easd.mode=stage2 root=/dev/vda" \
        -drive "if=none,id=root,file=$b/stage2.ext4,format=raw,cache=unsafe" -device virtio-blk-pci,drive=root \
        -drive "if=none,id=out,file=$b/out.tar,format=raw,cache=unsafe" -device virtio-blk-pci,drive=out \
        -nic none
    qrc=$?
    set -e
    result=$(grep -a 'EASD-STAGE2: result' "$b/stage2-console.log" | tail -n1 | tr -d '\r')
    if [[ $result != *"rc=0 tar=0"* ]]; then
        tail -n 80 "$b/stage2-console.log"
        die "second stage failed (qemu rc=$qrc, '${result:-no result line}'; console log: $b/stage2-console.log)"
    fi
    tar -tf "$b/out.tar" ./usr/bin/systemctl >/dev/null || die "second stage tar lacks usr/bin/systemctl"
    # The archive is followed by the rest of the (zero) disk: cut it after its end marker.
    end=$(tar -tvR -f "$b/out.tar" | sed -n 's/^block \([0-9]*\): \*\* Block of NULs \*\*$/\1/p' | awk 'NR == 1')
    [[ -n $end ]] || die "no end of archive in the second stage's tar"
    truncate -s $(( ( (end + 2) * 512 + 10239 ) / 10240 * 10240 )) "$b/out.tar"
    tar -tf "$b/out.tar" >/dev/null || die "trimmed tar is unreadable"
    zstd -q -T0 -10 -f "$b/out.tar" -o "$BASE_TAR.tmp"
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    cp "$b/stage2-console.log" "${BASE_TAR%.tar.zst}.console.log"
    log "base tree cached: $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
    rm -rf "$b"
    done_step
fi

if [[ ${IMAGE_BASE_ONLY:-0} == 1 ]]; then exit 0; fi

# --- 4
step "easd aarch64 binary"
if [[ -n ${EASD_BIN:-} ]]; then
    bin=$EASD_BIN
    log "using EASD_BIN=$bin"
else
    ensure_packages gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
    rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_DIR/target}
    (cd "$REPO_DIR" && CARGO_TERM_COLOR=never cargo build --release --locked --target "$TARGET" --bin easd)
    bin=$CARGO_TARGET_DIR/$TARGET/release/easd
fi
[[ -x $bin ]] || die "no easd binary at $bin"
aarch64-linux-gnu-readelf -h "$bin" | grep -q 'Machine:.*AArch64' || die "$bin is not an aarch64 ELF"
done_step "$(stat -c %s "$bin") bytes"

# --- 5
step "assemble the tree"
R=$WORK/rootfs
rm -rf "$R"; mkdir -p "$R"
zstd -qdc "$BASE_TAR" | tar -C "$R" --numeric-owner --xattrs --xattrs-include='*' -xpf -
# Everything easd.service needs from the base: its libraries.
for lib in $(aarch64-linux-gnu-readelf -d "$bin" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
    compgen -G "$R/usr/lib/aarch64-linux-gnu/$lib" >/dev/null || die "base tree lacks $lib needed by easd"
done

# Slim (IMAGE_SLIM=1, default): no translations, manuals, info pages or package docs
# beyond the copyright files, now and for packages installed later (dpkg path-exclude).
if [[ ${IMAGE_SLIM:-1} == 1 ]]; then
    cat >"$R/etc/dpkg/dpkg.cfg.d/01-easd-slim" <<'DPKG'
# easd appliance image (image/build-rootfs.sh): keep the root filesystem small.
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
DPKG
    find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$R"/usr/share/man/* "$R"/usr/share/info/*
    find "$R/usr/share/doc" -mindepth 1 -type f ! -name copyright -delete
    find "$R/usr/share/doc" -mindepth 1 -type d -empty -delete
fi

install -D -m 0755 "$bin" "$R/usr/bin/easd"
install -D -m 0644 "$REPO_DIR/README.md" "$R/usr/share/doc/easd/README.md"
for u in easd.service easd.socket easd-lmtp.socket easd-notify.socket easd-firstboot.service; do
    install -D -m 0644 "$REPO_DIR/systemd/$u" "$R/usr/lib/systemd/system/$u"
done
install -D -m 0644 "$REPO_DIR/systemd/easd.sysusers" "$R/usr/lib/sysusers.d/easd.conf"
install -D -m 0755 "$IMAGE_DIR/rootfs/firstboot" "$R/usr/lib/easd/firstboot"
mkdir -p "$R/etc/easd/firstboot.d"
chmod 0700 "$R/etc/easd/firstboot.d"
# Board configuration with the box's name (certificate SANs, admin@HOSTNAME).
sed -E "s|^# hostname = \"mail.example.com\"$|hostname = \"$HOSTNAME_\"|" \
    "$board_dir/easd.toml" >"$R/etc/easd/easd.toml"
grep -q "^hostname = \"$HOSTNAME_\"" "$R/etc/easd/easd.toml" || die "could not set hostname in easd.toml"
chmod 0644 "$R/etc/easd/easd.toml"
mkdir -p "$R/etc/systemd/system/easd.service.d"
"$REPO_DIR/board/dropin.sh" "$BOARD" >"$R/etc/systemd/system/easd.service.d/board.conf"

# The easd system user, now rather than at boot (systemd-sysusers works offline).
systemd-sysusers --root="$R" "$R/usr/lib/sysusers.d/easd.conf"
grep -q '^easd:' "$R/etc/passwd" || die "sysusers did not create easd"

# System identity and networking.
short=${HOSTNAME_%%.*}
echo "$short" >"$R/etc/hostname"
cat >"$R/etc/hosts" <<HOSTS
127.0.0.1	localhost
127.0.1.1	$HOSTNAME_ $short
::1		localhost ip6-localhost ip6-loopback
HOSTS
cat >"$R/etc/fstab" <<FSTAB
# <file system>  <mount point>  <type>  <options>  <dump>  <pass>
LABEL=easd-root  /  ext4  defaults,noatime,errors=remount-ro  0  1
FSTAB
mkdir -p "$R/etc/systemd/network"
cat >"$R/etc/systemd/network/20-wired.network" <<NET
# DHCP on every wired interface (the Pi's end0/eth0, virtio's enp0s*).
[Match]
Name=en* eth*

[Network]
DHCP=yes
NET
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
mirror_sec=$(security_mirror)
rm -f "$R/etc/apt/sources.list"
cat >"$R/etc/apt/sources.list.d/debian.sources" <<APT
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror_sec
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
APT
# Each box gets its own machine id at first boot (DHCP client id, journal).
echo uninitialized >"$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
# systemd-firstboot would prompt on the console for locale/time zone/root password.
ln -sfn /dev/null "$R/etc/systemd/system/systemd-firstboot.service"

# root: console login only (no SSH server in the image).
if [[ -n ${IMAGE_ROOT_PASSWORD:-} ]]; then
    hash=$(printf '%s\n' "$IMAGE_ROOT_PASSWORD" | openssl passwd -6 -stdin)
else
    hash=""   # development image: passwordless root on the console
fi
awk -F: -v OFS=: -v h="$hash" '$1 == "root" { $2 = h } { print }' "$R/etc/shadow" >"$R/etc/shadow.new"
chmod 0640 "$R/etc/shadow.new"; chown --reference="$R/etc/shadow" "$R/etc/shadow.new"
mv "$R/etc/shadow.new" "$R/etc/shadow"

systemctl --root="$R" enable easd.service easd.socket easd-lmtp.socket easd-notify.socket \
    easd-firstboot.service systemd-networkd.service systemd-resolved.service \
    systemd-timesyncd.service >"$WORK/enable.log" 2>&1 || { cat "$WORK/enable.log"; die "systemctl enable failed"; }
for w in multi-user.target.wants/easd.service sockets.target.wants/easd.socket \
    sockets.target.wants/easd-lmtp.socket sockets.target.wants/easd-notify.socket \
    multi-user.target.wants/easd-firstboot.service multi-user.target.wants/systemd-networkd.service; do
    [[ -L $R/etc/systemd/system/$w ]] || die "not enabled: $w"
done
rm -rf "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/tmp/* "$R"/var/tmp/*
done_step "$(du -sm "$R" | cut -f1) MiB"

# --- 6
step "ext4 image"
img=$OUT/easd-$BOARD.ext4
used_mib=$(du -sm "$R" | cut -f1)
# Room for the store and logs on top of the system; grow it on the card later.
size_mib=${IMAGE_SIZE_MIB:-$(( (used_mib * 13 / 10 + 512 + 63) / 64 * 64 ))}
rm -f "$img" "$img.zst"
mkfs.ext4 -q -F -L easd-root -E root_owner=0:0 -d "$R" "$img" "${size_mib}M"
e2fsck -fn "$img" >/dev/null 2>&1 || die "e2fsck reports errors in $img"
done_step "${size_mib} MiB"

step "zstd"
zstd -q -T0 "-${IMAGE_ZSTD_LEVEL:-12}" --sparse -f "$img" -o "$img.zst"
done_step
mkdir -p "$OUT/boot"
cp "$KERNEL" "$OUT/boot/vmlinuz"; cp "$INITRD" "$OUT/boot/initrd.cpio.gz"
(cd "$OUT" && sha256sum "$(basename "$img")" "$(basename "$img").zst" >SHA256SUMS)
rm -rf "$R"

echo "=== image"
printf '%-40s %12s bytes  (%s MiB apparent, %s MiB allocated)\n' "$img" "$(stat -c %s "$img")" \
    $(( $(stat -c %s "$img") / 1048576 )) "$(du -m "$img" | cut -f1)"
printf '%-40s %12s bytes  (%.1f MiB)\n' "$img.zst" "$(stat -c %s "$img.zst")" \
    "$(awk -v b="$(stat -c %s "$img.zst")" 'BEGIN { print b / 1048576 }')"
echo "tree: ${used_mib} MiB used; easd $(stat -c %s "$bin") bytes; kernel $(cat "$(dirname "$KERNEL")/kernel-version") (boot files in $OUT/boot)"
