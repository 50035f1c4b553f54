# Sourced by scripts/test: the Debian packages some tests drive as real programs —
# chromium (the console's browser tests) and nginx (the multi-replica test). Installed
# when missing and this is a root shell with apt; otherwise those tests skip with a
# message saying what is missing (under CI=true they fail instead).
_bastion_system_packages() {
  local wanted=() missing=()
  command -v chromium >/dev/null 2>&1 || wanted+=(chromium)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || wanted+=(nginx-light)
  [ ${#wanted[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test: not installing ${wanted[*]} (needs root and apt-get); their tests will skip" >&2
    return 0
  fi
  echo "scripts/test: installing ${wanted[*]} from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${wanted[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${wanted[@]}" >/dev/null; } \
    || missing=("${wanted[@]}")
  [ ${#missing[@]} -eq 0 ] || echo "scripts/test: could not install ${missing[*]}; their tests will skip" >&2
}
_bastion_system_packages
