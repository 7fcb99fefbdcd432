#!/bin/sh
# install-deps.sh installs the external programs that edgevault's tests and
# benchmarks start as peers: Mosquitto (MQTT broker), its clients,
# InfluxDB 1.6 (Debian's influxdb package) and PostgreSQL (Debian's
# postgresql package: the server binaries under /usr/lib/postgresql/<v>/bin,
# which internal/pgtest runs as throwaway clusters).
#
# It is idempotent: packages already installed are skipped, and `apt-get
# update` runs at most once, only when something has to be installed. It
# never starts system services; tests and benchmarks start their own
# instances on free ports with generated configs.
#
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -eu

PKGS="mosquitto mosquitto-clients influxdb postgresql"

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: must run as root (or with sudo)" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all present ($PKGS)"
	exit 0
fi

echo "install-deps: installing:$missing"

# policy-rc.d exit code 101 tells invoke-rc.d not to start any service the
# packages ship; it is removed again on exit, whatever happens.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	own_policy=1
fi
cleanup() {
	if [ "$own_policy" -eq 1 ]; then
		$SUDO rm -f "$POLICY"
	fi
}
trap cleanup EXIT INT TERM

export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing

for b in mosquitto influxd; do
	command -v "$b" >/dev/null 2>&1 || { echo "install-deps: $b not on PATH after install" >&2; exit 1; }
done
# Debian keeps the PostgreSQL server binaries off PATH.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "install-deps: initdb missing after install" >&2; exit 1; }
echo "install-deps: done"
