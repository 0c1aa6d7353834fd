# Shared by image/build-rootfs.sh and image/boot-test.sh (sourced, not run).
#
# Provides: host package installation, a private arm64 apt tree for fetching Debian's
# arm64 kernel and busybox-static on the host (no `dpkg --add-architecture` on the host),
# the initramfs (busybox + virtio/ext4 modules + an /init with three modes), and a
# qemu-system-aarch64 runner with a hard timeout.
# shellcheck shell=bash

IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$IMAGE_DIR/.." && pwd)
WORK=${IMAGE_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/easd-image}
CACHE=${IMAGE_CACHE:-$WORK/cache}
SUITE=${IMAGE_SUITE:-bookworm}
ARCH=arm64
QEMU_CPU=${QEMU_CPU:-cortex-a72}
QEMU_SMP=${QEMU_SMP:-2}

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- step timings ------------------------------------------------------------------
timings=()
t_all=$SECONDS
step_name=setup
step_start=$SECONDS
step() { step_start=$SECONDS; step_name=$1; log "=== $1"; }
done_step() {
    local d=$((SECONDS - step_start))
    timings+=("$(printf '%5ds  %s' "$d" "$step_name${1:+ ($1)}")")
    log "--- $step_name: ${d}s${1:+ ($1)}"
}
print_timings() {
    echo "=== timings"
    printf '%s\n' "${timings[@]}"
    printf '%5ds  total\n' $((SECONDS - t_all))
}

# --- host packages -----------------------------------------------------------------
# ensure_packages PKG...: installs the missing ones (Debian host, root).
ensure_packages() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing host packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian mirror the host's apt uses (deb822 or one-line format), or $IMAGE_MIRROR.
host_mirror() {
    if [[ -n ${IMAGE_MIRROR:-} ]]; then echo "$IMAGE_MIRROR"; return; fi
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/ && $i ~ /debian\/?$/) { print $i; exit } }')
    [[ -n $m ]] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i !~ /security/) { print $i; exit } }')
    echo "${m:-http://deb.debian.org/debian}"
}
security_mirror() {
    if [[ -n ${IMAGE_SECURITY_MIRROR:-} ]]; then echo "$IMAGE_SECURITY_MIRROR"; return; fi
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -v '^[[:space:]]*#' | grep -Eo 'https?://[^ ]*debian-security/?' | awk 'NR == 1')
    echo "${m:-http://deb.debian.org/debian-security}"
}

# --- private arm64 apt tree ----------------------------------------------------------
# Uses the host's mirror and Debian's archive keyring; signatures are checked as usual.
APT_DIR=$CACHE/apt-$SUITE-$ARCH
apt_opts() {
    printf '%s\n' \
        -o "Dir::Etc=$APT_DIR/etc" -o "Dir::Etc::SourceParts=$APT_DIR/etc/sources.list.d" \
        -o "Dir::Etc::Parts=$APT_DIR/etc/apt.conf.d" -o "Dir::Etc::PreferencesParts=$APT_DIR/etc/preferences.d" \
        -o "Dir::State=$APT_DIR/state" -o "Dir::State::status=$APT_DIR/state/status" \
        -o "Dir::Cache=$APT_DIR/cache" -o "APT::Architecture=$ARCH" -o "APT::Architectures::=$ARCH" \
        -o Debug::NoLocking=1 -o APT::Sandbox::User=root
}
apt_arm64() { local o; mapfile -t o < <(apt_opts); apt-get -q "${o[@]}" "$@"; }
apt_cache_arm64() { local o; mapfile -t o < <(apt_opts); apt-cache "${o[@]}" "$@"; }
apt_arm64_update() {
    mkdir -p "$APT_DIR"/etc/{apt.conf.d,preferences.d,sources.list.d} "$APT_DIR"/state/lists/partial \
        "$APT_DIR"/cache/archives/partial
    : >"$APT_DIR/state/status"
    local key=/usr/share/keyrings/debian-archive-keyring.gpg mirror sec
    mirror=$(host_mirror); sec=$(security_mirror)
    cat >"$APT_DIR/etc/sources.list" <<EOF
deb [arch=$ARCH signed-by=$key] $mirror $SUITE main
deb [arch=$ARCH signed-by=$key] $mirror $SUITE-updates main
deb [arch=$ARCH signed-by=$key] $sec $SUITE-security main
EOF
    # Refresh at most once a day.
    if [[ -z $(find "$APT_DIR/state/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | awk 'NR == 1') ]]; then
        apt_arm64 update >/dev/null
    fi
}

# fetch_debs OUTDIR: the newest linux-image-<abi>-arm64 and busybox-static .debs.
# Prints the kernel package name.
fetch_debs() {
    local out=$1 kpkg
    apt_arm64_update
    kpkg=$(apt_cache_arm64 depends --no-recommends --no-suggests linux-image-arm64 \
        | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [[ -n $kpkg ]] || die "cannot resolve linux-image-arm64 in the $SUITE $ARCH index"
    mkdir -p "$out"
    (cd "$out" && { ls "${kpkg}"_*.deb >/dev/null 2>&1 || apt_arm64 download "$kpkg" >/dev/null; } \
        && { ls busybox-static_*.deb >/dev/null 2>&1 || apt_arm64 download busybox-static >/dev/null; })
    echo "$kpkg"
}

# --- kernel and initramfs ------------------------------------------------------------
# Modules the initramfs loads (with their dependencies from modules.dep); built-in
# ones are skipped. virtio_net/virtio_rng are loaded here too because the root
# filesystem carries no kernel modules (the kernel comes from outside the image).
INITRD_VERSION=1   # bump when build_boot_files changes what goes into the initramfs
INITRD_MODULES=(virtio_mmio virtio_pci virtio_blk virtio_net virtio_rng virtio_console crc32c_generic ext4 af_packet autofs4)

# build_boot_files: sets KERNEL (vmlinuz) and INITRD (cpio.gz) under $CACHE/boot-<kver>/.
build_boot_files() {
    local debs=$CACHE/debs-$SUITE-$ARCH kpkg kdeb bdeb x kver dir
    kpkg=$(fetch_debs "$debs")
    kdeb=$(ls "$debs/${kpkg}"_*.deb | sort -V | tail -n1)
    bdeb=$(ls "$debs"/busybox-static_*.deb | sort -V | tail -n1)
    # Keyed by the kernel package, busybox, /init and the module list.
    dir=$CACHE/boot-$(basename "$kdeb" .deb)-$( (basename "$bdeb"; echo "${INITRD_MODULES[*]} $INITRD_VERSION"; cat "$IMAGE_DIR/initramfs-init") | sha256sum | cut -c1-12)
    if [[ -s $dir/initrd.cpio.gz && -s $dir/vmlinuz ]]; then
        KERNEL=$dir/vmlinuz INITRD=$dir/initrd.cpio.gz
        log "kernel + initramfs cached: $dir"
        return
    fi
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    x=$dir.tmp/x; mkdir -p "$x"
    dpkg-deb -x "$kdeb" "$x/k"
    dpkg-deb -x "$bdeb" "$x/b"
    kver=$(ls "$x/k/lib/modules" | awk 'NR == 1')
    cp "$x/k/boot/vmlinuz-$kver" "$dir.tmp/vmlinuz"
    # modules.dep is made by the package's postinst; depmod reads foreign-arch modules.
    depmod -b "$x/k" "$kver"
    local root=$x/root mdir=$x/k/lib/modules/$kver
    mkdir -p "$root"/{bin,dev,proc,sys,mnt,run,tmp,lib/modules}
    cp "$x/b/bin/busybox" "$root/bin/busybox"
    # Load order: each module's dependencies (modules.dep lists them transitively, the
    # last one first to load), then the module itself.
    local order=() seen=" " m path deps d name
    for m in "${INITRD_MODULES[@]}"; do
        path=$(awk -F: -v n="$m" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.[a-z]+)?$/, "", f); gsub(/-/, "_", f);
                                    if (f == n) { print $0; exit } }' "$mdir/modules.dep")
        if [[ -z $path ]]; then
            grep -Eq "/${m//_/[-_]}\.ko" "$mdir/modules.builtin" && continue
            log "initramfs: module $m not found (skipped)"; continue
        fi
        read -r -a deps <<<"${path#*:}"
        for ((d = ${#deps[@]} - 1; d >= 0; d--)); do
            [[ $seen == *" ${deps[d]} "* ]] || { order+=("${deps[d]}"); seen+="${deps[d]} "; }
        done
        name=${path%%:*}
        [[ $seen == *" $name "* ]] || { order+=("$name"); seen+="$name "; }
    done
    : >"$root/modules.order"
    for m in "${order[@]}"; do
        local base=${m##*/}
        case $base in
        *.ko.xz) xz -dc "$mdir/$m" >"$root/lib/modules/${base%.xz}" ;;
        *.ko.zst) zstd -qdc "$mdir/$m" >"$root/lib/modules/${base%.zst}" ;;
        *.ko.gz) gzip -dc "$mdir/$m" >"$root/lib/modules/${base%.gz}" ;;
        *) cp "$mdir/$m" "$root/lib/modules/$base" ;;
        esac
        base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
        echo "$base" >>"$root/modules.order"
    done
    cp "$IMAGE_DIR/initramfs-init" "$root/init"
    chmod 0755 "$root/init" "$root/bin/busybox"
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9) >"$dir.tmp/initrd.cpio.gz"
    echo "$kver" >"$dir.tmp/kernel-version"
    rm -rf "$x"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    KERNEL=$dir/vmlinuz INITRD=$dir/initrd.cpio.gz
    log "kernel $kver + initramfs (${#order[@]} modules) in $dir"
}

# run_qemu TIMEOUT_S SERIAL_LOG APPEND [extra qemu args...]: qemu, killed after
# TIMEOUT_S. Returns qemu's status (124 on timeout).
run_qemu() {
    local t=$1 serial=$2 append=$3; shift 3
    local exec_=()
    # QEMU_EXEC=1 (for `run_qemu ... &`): the background subshell becomes timeout(1), so
    # $! is a pid whose TERM stops qemu.
    [[ ${QEMU_EXEC:-0} == 1 ]] && exec_=(exec)
    "${exec_[@]}" timeout --kill-after=10 "$t" qemu-system-aarch64 \
        -M virt -cpu "$QEMU_CPU" -smp "$QEMU_SMP" -accel tcg,thread=multi -m "${QEMU_MEM:-1024}" \
        -display none -monitor none -serial "file:$serial" -no-reboot \
        -kernel "$KERNEL" -initrd "$INITRD" -append "$append" \
        -device virtio-rng-pci "$@"
}
