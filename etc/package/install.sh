#!/bin/sh
# Installs horae from this unpacked package (see README):
#   ./install.sh                       # into /usr/local (config in /etc/chrony)
#   ./install.sh PREFIX=/usr           # or: PREFIX=/usr ./install.sh
#   ./install.sh DESTDIR=/tmp/stage PREFIX=/usr   # staged: nothing outside /tmp/stage
# Variables (as arguments NAME=VALUE or in the environment):
#   PREFIX      /usr/local           lib/horae, sbin/chronyd, bin/chronyc, bin/horae
#   SYSCONFDIR  /etc                 chrony/chrony.conf (an existing one is kept)
#   SYSTEMDDIR  PREFIX/lib/systemd/system   horae.service (+ its alias chronyd.service)
#   TMPFILESDIR PREFIX/lib/tmpfiles.d       horae.conf
#   DESTDIR     (empty)              prepended to every path above
#   FORCE=1     replace a chronyd/chronyc that is not horae's (Debian's, say)
#   CREATE_USER (1 as root)  1: add the system user _chrony the service runs
#               as, if missing; 0: only print the command. With DESTDIR the
#               system's users are never touched: the command is printed.
# It copies files (and may add _chrony): it starts, enables and reloads nothing.
set -eu
for arg in "$@"; do
  case "$arg" in
    PREFIX=* | SYSCONFDIR=* | SYSTEMDDIR=* | TMPFILESDIR=* | DESTDIR=* | FORCE=* | CREATE_USER=*)
      name=${arg%%=*}
      eval "$name=\${arg#*=}"
      ;;
    -h | --help)
      sed -n '2,17s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *) echo "install.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done
PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
SYSCONFDIR=${SYSCONFDIR:-/etc}
SYSTEMDDIR=${SYSTEMDDIR:-$PREFIX/lib/systemd/system}
TMPFILESDIR=${TMPFILESDIR:-$PREFIX/lib/tmpfiles.d}
DESTDIR=${DESTDIR:-}
CREATE_USER=${CREATE_USER:-}
case "$PREFIX" in /*) ;; *) echo "install.sh: PREFIX must be absolute" >&2; exit 2 ;; esac

src=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
d=$DESTDIR
say() { echo "install: $*"; }

install -d -m 755 "$d$PREFIX/lib/horae" "$d$PREFIX/sbin" "$d$PREFIX/bin" \
  "$d$SYSCONFDIR/chrony" "$d$SYSTEMDDIR" "$d$TMPFILESDIR" "$d$PREFIX/share/doc/horae"
install -m 644 "$src/lib/horae/horae.js" "$d$PREFIX/lib/horae/horae.js"
install -m 644 "$src/lib/horae/server_worker.ts" "$d$PREFIX/lib/horae/server_worker.ts"
install -m 644 "$src/lib/horae/nts_ke_helper_worker.ts" "$d$PREFIX/lib/horae/nts_ke_helper_worker.ts"
install -m 755 "$src/lib/horae/horae" "$d$PREFIX/lib/horae/horae"
if [ -f "$src/lib/horae/deno" ]; then
  install -m 755 "$src/lib/horae/deno" "$d$PREFIX/lib/horae/deno"
fi
say "$PREFIX/lib/horae"
# Never replace another program (Debian's chronyd in /usr/sbin, say) unless FORCE=1.
link() { # link DIR NAME
  if [ -e "$d$1/$2" ] && [ "$(readlink -- "$d$1/$2" || true)" != ../lib/horae/horae ] &&
    [ "${FORCE:-}" != 1 ]; then
    echo "install.sh: $1/$2 exists and is not horae's; not replaced (FORCE=1 replaces it)" >&2
    return 1
  fi
  ln -sfn ../lib/horae/horae "$d$1/$2"
}
link "$PREFIX/sbin" chronyd
link "$PREFIX/bin" chronyc
link "$PREFIX/bin" horae
say "$PREFIX/sbin/chronyd $PREFIX/bin/chronyc $PREFIX/bin/horae"

# Paths in the unit and the tmpfiles snippet follow PREFIX and SYSCONFDIR.
subst() {
  sed -e "s|/usr/local/sbin/chronyd|$PREFIX/sbin/chronyd|g" \
    -e "s|/usr/local/share/doc/horae|$PREFIX/share/doc/horae|g" \
    -e "s|/etc/chrony/chrony.conf|$SYSCONFDIR/chrony/chrony.conf|g" "$1"
}
conf=$SYSCONFDIR/chrony/chrony.conf
if [ -e "$d$conf" ]; then
  install -m 644 "$src/etc/chrony.conf" "$d$conf.horae"
  say "$conf exists, kept; horae's default is $conf.horae"
else
  install -m 644 "$src/etc/chrony.conf" "$d$conf"
  say "$conf"
fi
subst "$src/lib/systemd/system/horae.service" >"$d$SYSTEMDDIR/horae.service"
chmod 644 "$d$SYSTEMDDIR/horae.service"
say "$SYSTEMDDIR/horae.service"
# The unit's alias (Alias=chronyd.service in [Install]), usable before it is
# enabled: `systemctl restart chronyd`. Another chronyd.service is kept unless FORCE=1.
alias=$d$SYSTEMDDIR/chronyd.service
if [ -e "$alias" ] && [ "$(readlink -- "$alias" || true)" != horae.service ] &&
  [ "${FORCE:-}" != 1 ]; then
  say "$SYSTEMDDIR/chronyd.service exists and is not horae's; kept (FORCE=1 replaces it)"
else
  ln -sfn horae.service "$alias"
  say "$SYSTEMDDIR/chronyd.service -> horae.service"
fi
install -m 644 "$src/lib/tmpfiles.d/horae.conf" "$d$TMPFILESDIR/horae.conf"
say "$TMPFILESDIR/horae.conf"
install -m 644 "$src/README" "$d$PREFIX/share/doc/horae/README"

# The service runs chronyd -u _chrony (as Debian's chrony does). Only a real
# install (no DESTDIR) as root, or CREATE_USER=1, adds the user; a DESTDIR
# install never looks at or changes the system's users.
CHRONY_USER=_chrony
nologin=/usr/sbin/nologin
[ -x "$nologin" ] || { [ -x /sbin/nologin ] && nologin=/sbin/nologin; } || nologin=/bin/false
if command -v useradd >/dev/null 2>&1 || ! command -v adduser >/dev/null 2>&1; then
  useradd_cmd="useradd --system --user-group --home-dir /var/lib/chrony --no-create-home --shell $nologin --comment 'horae time daemon' $CHRONY_USER"
else # Debian without passwd's useradd
  useradd_cmd="adduser --system --group --home /var/lib/chrony --no-create-home --shell $nologin --gecos 'horae time daemon' $CHRONY_USER"
fi
if [ -n "$DESTDIR" ]; then
  say "user $CHRONY_USER: not created (DESTDIR); on the target system, if missing, run: $useradd_cmd"
elif id -u "$CHRONY_USER" >/dev/null 2>&1; then
  say "user $CHRONY_USER exists"
elif [ "$CREATE_USER" = 1 ] || { [ "$CREATE_USER" != 0 ] && [ "$(id -u)" = 0 ]; }; then
  eval "$useradd_cmd"
  say "user $CHRONY_USER created: $useradd_cmd"
else
  say "user $CHRONY_USER missing, not created; as root run: $useradd_cmd"
fi

if [ -z "$DESTDIR" ]; then
  cat <<NEXT
install: done. horae.js runs on Deno 2.x: a deno in PATH, DENO=/path/to/deno, or
$PREFIX/lib/horae/deno. To run it as the system's time daemon:
  systemd-tmpfiles --create $TMPFILESDIR/horae.conf
  systemctl disable --now chrony systemd-timesyncd 2>/dev/null; systemctl daemon-reload
  systemctl enable --now horae
NEXT
fi
