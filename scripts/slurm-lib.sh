# slurm-lib.sh - process helpers shared by slurm-up and slurm-down (sourced, not run).
# They stop only the daemons whose pid files these scripts wrote, by pid, never by name.

# running PID COMM : the pid exists, /proc comm is COMM and it is not a zombie
running() { [ "$(cat /proc/"$1"/comm 2>/dev/null)" = "$2" ] && ! grep -q '^State:[[:space:]]*Z' /proc/"$1"/status 2>/dev/null; }

# alive PIDFILE COMM : the pid recorded in PIDFILE is running as COMM
alive() { local p; p=$(cat "$1" 2>/dev/null) || return 1; [ -n "$p" ] && running "$p" "$2"; }

# stop_pid PIDFILE COMM : SIGTERM the recorded process, SIGKILL after 15 s, forget the pid file
stop_pid() {
  if ! alive "$1" "$2"; then rm -f "$1"; return 0; fi
  local p; p=$(cat "$1"); kill "$p" 2>/dev/null || true
  for _ in $(seq 150); do running "$p" "$2" || break; sleep 0.1; done
  if running "$p" "$2"; then kill -9 "$p" 2>/dev/null || true; fi
  rm -f "$1"
}
