#!/usr/bin/env bash
# Stop the SLURM that tests/workflow/slurm/start_slurm.sh started in STATE_DIR, and nothing else:
#
#   tests/workflow/slurm/stop_slurm.sh [STATE_DIR]         (default: /tmp/ohmap-slurm)
#
# Jobs still in that cluster are cancelled first (they can only be ours: the cluster is private),
# then slurmd, slurmctld and munged are stopped by the process ids recorded in STATE_DIR/pids,
# each only if that id still runs the program recorded with it, and the link
# /etc/slurm/slurm.conf that start_slurm.sh made is removed.
set -uo pipefail

STATE_DIR=${1:-${OHMAP_SLURM_DIR:-/tmp/ohmap-slurm}}
PIDS=$STATE_DIR/pids
[[ -f $PIDS ]] || { echo "stop_slurm.sh: no $PIDS: nothing to stop" >&2; exit 0; }

# alive NAME PID: PID runs and is the program NAME (not a reused process id).
alive() { [[ -r /proc/$2/comm && $(cat "/proc/$2/comm" 2>/dev/null) == "$1"* ]]; }
pid_of() { awk -v n="$1" '$1 == n {print $2}' "$PIDS"; }

ctld=$(pid_of slurmctld)
if [[ -n $ctld ]] && alive slurmctld "$ctld" && [[ -f $STATE_DIR/slurm.conf ]]; then
    export SLURM_CONF=$STATE_DIR/slurm.conf
    jobs=$(timeout 10 squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null || true)
    if [[ -n $jobs ]]; then
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        for _ in $(seq 30); do
            [[ -z $(timeout 10 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
fi

status=0
for name in slurmd slurmctld munged; do
    pid=$(pid_of "$name")
    [[ -n $pid ]] || continue
    alive "$name" "$pid" || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do alive "$name" "$pid" || break; sleep 0.1; done
    if alive "$name" "$pid"; then
        echo "stop_slurm.sh: $name (pid $pid) ignored SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
        sleep 0.5
        alive "$name" "$pid" && { echo "stop_slurm.sh: could not stop $name (pid $pid)" >&2; status=1; }
    fi
done
((status == 0)) && rm -f "$PIDS"

# The link /etc/slurm/slurm.conf -> STATE_DIR/slurm.conf that start_slurm.sh made, if still ours.
if [[ -f $STATE_DIR/global_conf_link ]]; then
    { read -r link; read -r made_dir; } < "$STATE_DIR/global_conf_link" || true
    if [[ -L $link && $(readlink "$link") == "$STATE_DIR/slurm.conf" ]]; then
        rm -f "$link"
    fi
    [[ -n ${made_dir:-} ]] && rmdir "$made_dir" 2>/dev/null
    rm -f "$STATE_DIR/global_conf_link"
fi
exit $status
