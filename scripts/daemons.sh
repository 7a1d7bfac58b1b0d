# Sourced by scripts/setup.sh: whether a daemon runs.
#
# A daemon that died stays a zombie until its parent reaps it, and `pgrep -x` still
# lists a zombie. Seen here on 2026-12-07: two defunct virtlogd made setup skip
# starting one, and every boot then failed on virtlogd's socket. Only a process that
# can still serve counts: running, sleeping or in disk wait. And only in this mount
# namespace: the namespace hosts of the tests (scripts/test-host.sh) run their own
# libvirtd and virtlogd, which do not serve this machine's socket.
alive() {
  pgrep --ns $$ --nslist mnt -x -r R,S,D "$1" >/dev/null
}
