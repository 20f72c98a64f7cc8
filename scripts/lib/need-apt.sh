# Sourced by scripts/test-all.sh and tests/kernel/run.sh.
# need_apt PKG...: install the Debian packages that are not installed yet,
# saying what it installs; `apt-get update` runs at most once per process.
apt_updated=""
need_apt() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ -z "$apt_updated" ]; then echo "apt-get update"; $sudo apt-get update -qq; apt_updated=1; fi
  echo "apt-get install -y ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
