#!/usr/bin/env bash
# Start a private single-node SLURM (munged, slurmctld, slurmd) on this machine, for the tests.
#
#   tests/workflow/slurm/start_slurm.sh [STATE_DIR]        (default: /tmp/ohmap-slurm; root only)
#
# Everything lives in STATE_DIR: slurm.conf, a munge key and socket of its own, spool and state
# folders, logs, and the file `pids` with the process ids of the three daemons, which
# tests/workflow/slurm/stop_slurm.sh STATE_DIR stops. The one thing written outside it is a symbolic link
# /etc/slurm/slurm.conf -> STATE_DIR/slurm.conf (see below), made only where no slurm.conf is
# there, and removed by stop_slurm.sh. The daemons listen on ports of their own (16817, 16818)
# and munged on a socket of its own, not /run/munge. Point the SLURM commands at this cluster with
#
#   export SLURM_CONF=STATE_DIR/slurm.conf
#
# Debian's slurmctld, slurmd, slurm-client and munge are installed with apt-get when absent.
# The node is this machine (`hostname -s`) with `nproc` CPUs and 90% of its memory; accounting
# is off (so `sacct` does not work: Snakemake's slurm executor must use squeue, MinJobAge keeps
# finished jobs visible to squeue and scontrol for 10 minutes).
set -euo pipefail

STATE_DIR=${1:-${OHMAP_SLURM_DIR:-/tmp/ohmap-slurm}}
CTLD_PORT=${OHMAP_SLURM_CTLD_PORT:-16817}
SLURMD_PORT=${OHMAP_SLURM_SLURMD_PORT:-16818}
TIMEOUT=${OHMAP_SLURM_START_TIMEOUT:-90}

die() { echo "start_slurm.sh: $*" >&2; exit 1; }

[[ $(uname -s) == Linux ]] || die "needs Linux"
[[ $(id -u) == 0 ]] || die "needs root (the daemons run as root)"

# --- packages ----------------------------------------------------------------------------------
missing() { for c in slurmctld slurmd sbatch squeue sinfo scontrol munged munge; do
              command -v "$c" >/dev/null || return 0; done; return 1; }
if missing; then
    command -v apt-get >/dev/null || die "SLURM is not installed and apt-get is not available"
    export DEBIAN_FRONTEND=noninteractive
    packages=(slurmctld slurmd slurm-client munge)
    echo "start_slurm.sh: installing ${packages[*]} with apt-get" >&2
    if ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null \
            || die "apt-get install ${packages[*]} failed"
    fi
    missing && die "SLURM commands still missing after apt-get install"
fi

# --- state folder --------------------------------------------------------------------------------
if [[ -s $STATE_DIR/pids ]]; then
    while read -r _ pid; do
        kill -0 "$pid" 2>/dev/null && die "a SLURM from $STATE_DIR is still running (pid $pid); run stop_slurm.sh $STATE_DIR first"
    done < "$STATE_DIR/pids"
fi
mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd -P)
rm -rf "$STATE_DIR"/{munge,key,ctld,spool,log,pids,slurm.conf,plugstack.conf,global_conf_link}
mkdir -p "$STATE_DIR"/{munge,key,ctld,spool,log}
# munged insists that every folder above its socket is searchable by everyone, and that its key
# is private.
chmod 755 "$STATE_DIR" "$STATE_DIR/munge"
chmod 700 "$STATE_DIR/key"
: > "$STATE_DIR/pids"
: > "$STATE_DIR/plugstack.conf"

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
SOCKET=$STATE_DIR/munge/munge.socket

cat > "$STATE_DIR/slurm.conf" <<EOF
# Written by tests/workflow/slurm/start_slurm.sh: a private single-node cluster for the tests.
ClusterName=ohmap-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
PlugStackConfig=$STATE_DIR/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=512
MinJobAge=600
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
KillWait=10
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$STATE_DIR/slurm.conf

# Snakemake's slurm-jobstep plugin (0.6.1 and later) removes SLURM_CONF from the environment of
# the `srun` it starts inside each job, so srun only finds this cluster's configuration at the
# default path: link /etc/slurm/slurm.conf to it while the cluster runs (stop_slurm.sh removes
# the link). A slurm.conf of a real SLURM there is never touched: then this script gives up.
GLOBAL_CONF=/etc/slurm/slurm.conf
ours() { [[ -L $1 && $(readlink "$1") == */slurm.conf ]] \
             && { [[ ! -e $1 ]] || grep -q '^# Written by tests/workflow/slurm/start_slurm.sh' "$1"; }; }
if [[ -e $GLOBAL_CONF || -L $GLOBAL_CONF ]] && ! ours "$GLOBAL_CONF"; then
    die "$GLOBAL_CONF exists (a SLURM is configured on this machine); not starting a test SLURM beside it"
fi
if [[ -L $GLOBAL_CONF ]]; then
    target=$(readlink "$GLOBAL_CONF")
    # another test SLURM still running from there: its daemons read that file
    if [[ $target != "$SLURM_CONF" && -s ${target%/slurm.conf}/pids ]]; then
        while read -r _ pid; do
            kill -0 "$pid" 2>/dev/null && die "$GLOBAL_CONF belongs to the test SLURM in ${target%/slurm.conf}, still running"
        done < "${target%/slurm.conf}/pids"
    fi
fi
made_dir=""
[[ -d $(dirname "$GLOBAL_CONF") ]] || { mkdir -p "$(dirname "$GLOBAL_CONF")"; made_dir=$(dirname "$GLOBAL_CONF"); }
ln -sfn "$SLURM_CONF" "$GLOBAL_CONF"
# line 1: the link; line 2 (if any): the folder made for it, removed again when empty
printf '%s\n%s\n' "$GLOBAL_CONF" "$made_dir" > "$STATE_DIR/global_conf_link"

logs() {
    for f in "$STATE_DIR"/log/*; do
        [[ -s $f ]] && { echo "----- $f (last 40 lines)"; tail -n 40 "$f"; }
    done
    echo "----- sinfo"; sinfo -N -l 2>&1 || true
}
fail() {
    echo "start_slurm.sh: $*" >&2
    logs >&2
    "$(dirname "$0")/stop_slurm.sh" "$STATE_DIR" >&2 || true
    exit 1
}

# start NAME COMMAND...: run a daemon in the foreground, in a session of its own, and record its
# process id (setsid execs the daemon, so $! is the daemon's id).
start() {
    local name=$1; shift
    setsid "$@" </dev/null >"$STATE_DIR/log/$name.out" 2>&1 &
    local pid=$!
    echo "$name $pid" >> "$STATE_DIR/pids"
    sleep 0.5
    kill -0 "$pid" 2>/dev/null || fail "$name exited at once"
}

# --- munge ---------------------------------------------------------------------------------------
dd if=/dev/urandom of="$STATE_DIR/key/munge.key" bs=1024 count=1 status=none
chmod 400 "$STATE_DIR/key/munge.key"
start munged munged --foreground --force --socket="$SOCKET" --key-file="$STATE_DIR/key/munge.key" \
    --pid-file="$STATE_DIR/munge/munged.pid" --seed-file="$STATE_DIR/munge/munged.seed" \
    --log-file="$STATE_DIR/log/munged.log"
for _ in $(seq 50); do [[ -S $SOCKET ]] && break; sleep 0.2; done
munge -S "$SOCKET" -n 2>/dev/null | unmunge -S "$SOCKET" >/dev/null 2>&1 \
    || fail "munged does not answer on $SOCKET"

# --- slurmctld and slurmd ------------------------------------------------------------------------
start slurmctld slurmctld -D -c -i
start slurmd slurmd -D -N "$HOST"

deadline=$((SECONDS + TIMEOUT))
state=""
while ((SECONDS < deadline)); do
    state=$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null || true)
    [[ $state == idle ]] && break
    for name in slurmctld slurmd; do
        pid=$(awk -v n=$name '$1 == n {print $2}' "$STATE_DIR/pids")
        kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) died"
    done
    sleep 0.5
done
[[ $state == idle ]] || fail "node $HOST is not idle after ${TIMEOUT}s (state: '${state:-none}')"
echo "start_slurm.sh: SLURM up: node $HOST ($CPUS CPUs, $MEM_MB MB), partition debug;" \
     "export SLURM_CONF=$SLURM_CONF" >&2
