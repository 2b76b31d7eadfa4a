#!/bin/bash
# Install the Debian packages hpcrec builds, tests and runs with.  Idempotent: when every
# package is present it returns at once without touching the network.  Needs root (or sudo).
#   core: compiler, Open MPI, OpenBLAS, ScaLAPACK, zstd, libarchive, zlib / libbz2 / liblzma
#         (checked decoding of .gz / .bz2 / .xz, io/decode.c),
#         jansson (JSON manifests/summaries), xxhash (checksums), cmocka (unit tests)
#   slurm: Slurm daemons and munge, for the slurm/ scripts and their tests
#   tools: clang + libFuzzer runtime (fuzz targets), python3 (pandas-free output checks)
#   export: libsqlite3 (export --recs), python3-numpy (the model reader test of export)
#   forget: libssl-dev (OpenSSL libcrypto: HMAC-SHA256 of the forget list, io/forgetlist.h)
#   report: chromium (headless: the report page rendered in a real browser, test_drift_report.sh)
set -euo pipefail
PKGS=(build-essential pkg-config gfortran clang libclang-rt-14-dev
      libopenmpi-dev openmpi-bin libopenblas-dev libscalapack-openmpi-dev
      libzstd-dev zstd libarchive-dev libarchive-tools gzip xz-utils zip
      zlib1g-dev libbz2-dev liblzma-dev
      libjansson-dev libxxhash-dev libcmocka-dev libsqlite3-dev sqlite3 python3-numpy libssl-dev
      slurm-wlm slurmctld slurmd slurm-client munge
      iproute2 util-linux procps
      chromium)
missing=()
for p in "${PKGS[@]}"; do
    case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)" in
        ii*) ;;
        *) missing+=("$p") ;;
    esac
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PKGS[@]} packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -q -o DPkg::Lock::Timeout=600 update >/tmp/hpcrec-deps.log 2>&1 || { tail -20 /tmp/hpcrec-deps.log; exit 1; }
$SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >>/tmp/hpcrec-deps.log 2>&1 \
    || { tail -30 /tmp/hpcrec-deps.log; exit 1; }
echo "deps: done"
