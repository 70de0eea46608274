# Installs Debian packages only when missing, from a table of "check / package / reason" lines.
# Sourced by scripts/setup and scripts/check-fresh-debian; unattended (no stdin, no questions),
# as root or through sudo, waiting for an apt/dpkg lock that another process holds.
#
# A caller defines a function that declares its table, one `need` call per line:
#
#   my_needs() {
#     need cmd:python3                  python3       "Python runs the service"
#     need lib:libatomic.so.1           libatomic1    "Playwright's node driver links it"
#   }
#   install_needed my_needs
#
# CHECK is one of
#   cmd:NAME     NAME is a command on PATH            file:PATH   PATH exists
#   lib:SONAME   the dynamic linker knows SONAME       py:CODE     `python3 -c CODE` succeeds
# install_needed reads the table, installs what is missing, then reads it again (a line may
# depend on what the first round installed, e.g. PostGIS on the PostgreSQL major) and fails with
# the line's reason if a check still does not hold.

APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else
    echo "Fehler: '$*' braucht root-Rechte. Bitte als root ausführen oder sudo einrichten." >&2
    exit 1
  fi
}

_holds() {
  local check=$1 kind=${1%%:*} what=${1#*:}
  case "$kind" in
    cmd) command -v "$what" >/dev/null 2>&1 ;;
    file) [ -e "$what" ] ;;
    # Not `| grep -q`: grep would stop reading early, and under pipefail ldconfig's SIGPIPE
    # would make a present library look missing.
    lib) [[ "$("$(command -v ldconfig || echo /sbin/ldconfig)" -p 2>/dev/null)" == *[[:space:]]"$what "* ]] ;;
    py) command -v "${PYTHON:-python3}" >/dev/null 2>&1 && "${PYTHON:-python3}" -c "$what" >/dev/null 2>&1 ;;
    *) echo "scripts/lib/debian.sh: unknown check '$check'" >&2; return 2 ;;
  esac
}

# Filled by `need` while a table is read: the missing packages and why each is needed.
_missing_packages=()
_missing_lines=()

need() {
  local check=$1 package=$2 reason=$3
  _holds "$check" && return 0
  _missing_lines+=("$(printf '%-26s %s  [%s]' "$package" "$reason" "$check")")
  local p
  for p in "${_missing_packages[@]}"; do [ "$p" = "$package" ] && return 0; done
  _missing_packages+=("$package")
}

# apt-get with the lock wait. `DPkg::Lock::Timeout` covers dpkg's lock only; `apt-get update`
# fails at once on the lists lock, so a failed lock is retried until the same timeout.
# apt's own output goes to a log that is shown only when apt fails.
_apt_get() {
  local deadline=$(( $(date +%s) + APT_LOCK_TIMEOUT )) log status
  log=$(mktemp)
  while :; do
    status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT" \
      "$@" </dev/null >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ] && grep -q "Could not get lock" "$log" && [ "$(date +%s)" -lt "$deadline" ]; then
      echo "    (apt is busy in another process; waiting)"
      sleep "${APT_LOCK_RETRY_S:-5}"
      continue
    fi
    break
  done
  [ "$status" -eq 0 ] || { echo "Fehler: apt-get $* ist fehlgeschlagen:" >&2; tail -n 30 "$log" >&2; }
  rm -f "$log"
  return "$status"
}

_apt_updated=0
install_needed() {
  local table=$1 round t0 before=""
  for round in 1 2 3; do
    _missing_packages=()
    _missing_lines=()
    "$table"
    [ ${#_missing_packages[@]} -eq 0 ] && return 0
    # The same packages still missing after installing them: the check or the package is wrong.
    if [ "$round" -eq 3 ] || [ "${_missing_packages[*]}" = "$before" ]; then
      echo "Fehler: nach der Installation fehlt noch:" >&2
      printf '    %s\n' "${_missing_lines[@]}" >&2
      return 1
    fi
    before="${_missing_packages[*]}"
    echo "==> installing Debian packages (only what is missing):"
    printf '    %s\n' "${_missing_lines[@]}"
    t0=$(date +%s)
    if [ "$_apt_updated" = 0 ]; then
      _apt_get update -q || return 1
      _apt_updated=1
    fi
    # Keep changed config files without asking (a question would wait on a stdin nobody has).
    _apt_get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold "${_missing_packages[@]}" || return 1
    echo "    installed in $(( $(date +%s) - t0 ))s"
  done
}
